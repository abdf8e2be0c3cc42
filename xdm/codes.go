package xdm

// Identifier OIDs (assigning authorities).
const (
	// OIDINSNIR is the INS-NIR, the patient's matricule INS (ANS, Référentiel INS;
	// also the roots admitted by the INS rule of include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch).
	OIDINSNIR = "1.2.250.1.213.1.4.8"
	// OIDINSNIA is the INS-NIA (numéro d'identification d'attente), same sources.
	OIDINSNIA = "1.2.250.1.213.1.4.9"
	// OIDINSNIRTest is the INS-NIR of test identities (same sources; used by the ANS N1 example).
	OIDINSNIRTest = "1.2.250.1.213.1.4.10"
	// OIDINSNIRDemo is the INS-NIR of demonstration identities (same sources).
	OIDINSNIRDemo = "1.2.250.1.213.1.4.11"
	// OIDPSIdNat is the national identifier of health professionals (idNat_PS: "8"+RPPS); the
	// root of author/assignedAuthor/id in the ANS N1 example and in the CI-SIS schematron.
	OIDPSIdNat = "1.2.250.1.71.4.2.1"
	// OIDStructIdNat is the national identifier of structures (idNat_Struct: "1"+FINESS,
	// "3"+SIRET…, TRE_G07-TypeIdentifiantStructure); the only root the schematron admits for
	// the custodian besides the patient's own space (CI-SISCustodian).
	OIDStructIdNat = "1.2.250.1.71.4.2.2"
)

// Prefixes of the national identifiers (ANS TRE_G07-TypeIdentifiantStructure for structures,
// the PSIdNat model of ansforge/IG-FHIR-PDSM4DMP-EEDS for professionals).
const (
	prefixRPPS   = "8"
	prefixFINESS = "1"
	prefixSIRET  = "3"
)

// Code systems.
const (
	// SystemLOINC codes the document type (ClinicalDocument/code, XDS typeCode); the ANS
	// value set is JDV_J07-XdsTypeCode-CISIS (1.2.250.1.213.1.1.5.471).
	SystemLOINC = "2.16.840.1.113883.6.1"
	// SystemConfidentiality is HL7 v3 Confidentiality (value set 2.16.840.1.113883.1.11.10228
	// in the schematron's include/, JDV_J08-XdsConfidentialityCode-CISIS for XDS).
	SystemConfidentiality = "2.16.840.1.113883.5.25"
	// SystemAdministrativeGender is HL7 v3 AdministrativeGender (JDV_J143, voc-1.2.250.1.213.1.1.5.590).
	SystemAdministrativeGender = "2.16.840.1.113883.5.1"
	// SystemSecteurActivite is TRE_R02-SecteurActivite, the French healthcareFacilityTypeCode
	// (JDV_J02-XdsHealthcareFacilityTypeCode-CISIS, voc-1.2.250.1.213.1.1.5.466).
	SystemSecteurActivite = "1.2.250.1.71.4.2.4"
	// SystemCadreExercice is TRE_A01-CadreExercice, the French practiceSettingCode
	// (JDV_J04-XdsPracticeSettingCode-CISIS, voc-1.2.250.1.213.1.1.5.467).
	SystemCadreExercice = "1.2.250.1.213.1.1.4.9"
	// SystemProfessionSavoirFaire is the code system of authorSpecialty and
	// assignedAuthor/code, profession/savoir-faire (JDV_J01-XdsAuthorSpecialty-CISIS,
	// voc-1.2.250.1.213.1.1.5.461; e.g. "G15_10/SM54").
	SystemProfessionSavoirFaire = "1.2.250.1.213.1.1.4.5"
	// SystemClasseDocument is TRE_A03-ClasseDocument, the XDS classCode (JDV_J06-XdsClassCode-CISIS;
	// OID given by the ANS profiles of ansforge/IG-fhir-medicosocial-transfert-donnees-dui).
	SystemClasseDocument = "1.2.250.1.213.1.1.4.1"
	// SystemIHEFormatCode is TRE_A11-IheFormatCode, the IHE format codes (OID given by the ANS
	// DocumentReference profiles: "TRE_A11-IheFormatCode, OID : 1.3.6.1.4.1.19376.1.2.3").
	SystemIHEFormatCode = "1.3.6.1.4.1.19376.1.2.3"
	// SystemTypeActivite is TRE_R209-TypeActivite, one of the systems of the submission set's
	// contentTypeCode (JDV_J03-XdsContentTypeCode-CISIS, 1.2.250.1.213.1.1.5.464).
	SystemTypeActivite = "1.2.250.1.213.2.2"
)

// Template identifiers of an N1 document: exactly these three, no other (rule
// "[CI-SIS_StructurationMinimale] Dans un document CDA non structuré…" of
// include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch, and the ANS example
// DOC_NON_STRUCTURE_CDA-R2-N1.xml).
const (
	TemplateHL7France   = "2.16.840.1.113883.2.8.2.1" // conformité HL7 France
	TemplateCISIS       = "1.2.250.1.213.1.1.1.1"     // conformité CI-SIS (structuration minimale)
	TemplateIHEXDSSD    = "1.3.6.1.4.1.19376.1.2.20"  // IHE XDS-SD (scanned document): the non-structured body
	cdaTypeIDRoot       = "2.16.840.1.113883.1.3"     // HL7 registered models
	cdaTypeIDExtension  = "POCD_HD000040"             // CDA R2 ClinicalDocument
	mediaTypePDF        = "application/pdf"
	representationB64   = "B64"
	defaultLanguage     = "fr-FR"
	defaultRealm        = "FR"
	loincSystemName     = "LOINC"
	confidentialityName = "Confidentiality"
)

// FormatCodePDF is the XDS formatCode of a CDA N1 wrapping a PDF: ANS ASS_A12
// CorresMediaTypeCDANonStructure-XdsFormatCode-CISIS maps the nonXMLBody mediaType
// application/pdf to it, and the ANS HL7v2 volet (ansforge/IG-hl7v2-volet-transmission-document-cda-r2,
// meta-dmp-mss) says "CDA N1 => urn:ihe:iti:xds-sd:pdf:2008". The display is the ANS one.
var FormatCodePDF = Code{Code: "urn:ihe:iti:xds-sd:pdf:2008", System: SystemIHEFormatCode,
	Display: "Document à corps non structuré en Pdf/A-1"}

// Defaults, each configurable through the Document or the Package.
var (
	// DefaultType is the document type when none is given: "CR ou fiche de consultation ou
	// de visite", the JDV_J07 entry closest to a letter printed by clinical software.
	DefaultType = Code{Code: "11488-4", System: SystemLOINC, Display: "CR ou fiche de consultation ou de visite"}
	// DefaultHealthcareFacilityType is "Cabinet individuel" (TRE_R02; the ANS N1 example's value).
	DefaultHealthcareFacilityType = Code{Code: "SA07", System: SystemSecteurActivite, Display: "Cabinet individuel"}
	// DefaultPracticeSetting is "Ambulatoire" (TRE_A01; the ANS N1 example's value).
	DefaultPracticeSetting = Code{Code: "AMBULATOIRE", System: SystemCadreExercice, Display: "Ambulatoire"}
	// DefaultContentType is "Type d'activité indifférencié" (TRE_R209 code 97, in JDV_J03),
	// the neutral value the ANS HL7v2 volet maps an unspecified patient class to.
	DefaultContentType = Code{Code: "97", System: SystemTypeActivite, Display: "Type d'activité indifférencié"}
	// DefaultClass is "Compte rendu" (TRE_A03 code 10), the class of a document type not in classByType.
	DefaultClass = Code{Code: "10", System: SystemClasseDocument, Display: "Compte rendu"}
)

// Confidentiality codes and their JDV_J08-XdsConfidentialityCode-CISIS displays.
var confidentialityDisplay = map[string]string{
	"N": "Normal",
	"R": "Restreint",
	"V": "Très restreint",
}

// Administrative gender: CDA code (JDV_J143, whose unknown value is "UN", not "U") and
// HL7 v2 table 0001 code for PID-8 (where unknown is "U").
var genderCDA = map[string]Code{
	"F": {Code: "F", System: SystemAdministrativeGender, Display: "Féminin"},
	"M": {Code: "M", System: SystemAdministrativeGender, Display: "Masculin"},
	"":  {Code: "UN", System: SystemAdministrativeGender, Display: "Inconnu"},
}

// classByType gives the XDS classCode of a LOINC document type. The ANS table is ASS_X04
// CorrespondanceType-Classe-CISIS, which is not in ../shared: this subset follows the
// labels of JDV_J07 (typeCode) and JDV_J57/TRE_A03 (classCode) where the class is
// unambiguous ("Synthèse…", "Prescription…", "Certificat…"); every other type is
// DefaultClass. Package.ClassCode overrides it.
var classByType = map[string]string{
	"34133-9": "11", // Synthèse d'épisode de soins
	"60591-5": "11", // Synthèse médicale
	"68599-0": "11", // Synthèse psychiatrique
	"57055-6": "11", // Synthèse antepartum
	"57057-2": "11", // Synthèse Salle de Naissance Mère
	"57075-4": "11", // Synthèse Salle de Naissance Enfant
	"89235-6": "11", // Synthèse Suites de Couches Mère
	"78489-2": "11", // Synthèse Enfant en Maternité
	"57828-6": "42", // Prescription (autre)
	"57832-8": "42", // Prescription de soins
	"57833-6": "42", // Prescription de produits de santé
	"60593-1": "43", // Dispensation médicamenteuse
	"18776-5": "44", // Plan personnalisé de soins
	"80565-5": "45", // CR d'administration de médicaments
	"89601-9": "52", // Certificat médical
}

var classDisplay = map[string]string{
	"10": "Compte rendu",
	"11": "Synthèse",
	"42": "Prescription",
	"43": "Dispensation",
	"44": "Plan de soins, protocole de soins",
	"45": "Traitement administré",
	"52": "Certificat, déclaration",
}

// ClassFor returns the XDS classCode of a document type (see classByType).
func ClassFor(docType Code) Code {
	if docType.System == SystemLOINC || docType.System == "" {
		if c, ok := classByType[docType.Code]; ok {
			return Code{Code: c, System: SystemClasseDocument, Display: classDisplay[c]}
		}
	}
	return DefaultClass
}

// Stable identifiers of IHE ITI TF-3 §4.2.5 (Table 4.2.5-1, "Metadata Object Types and
// Classification/External Identifier schemes"), and the ebRIM 3.0 canonical values.
const (
	uuidSubmissionSet             = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd" // XDSSubmissionSet (classificationNode)
	uuidSubmissionSetAuthor       = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	uuidSubmissionSetContentType  = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	uuidSubmissionSetPatientID    = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	uuidSubmissionSetSourceID     = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	uuidSubmissionSetUniqueID     = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	uuidDocumentEntry             = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1" // stable DocumentEntry objectType
	uuidDocumentEntryAuthor       = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	uuidDocumentEntryClassCode    = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	uuidDocumentEntryConfidential = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	uuidDocumentEntryEventCode    = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	uuidDocumentEntryFormatCode   = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	uuidDocumentEntryFacilityType = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	uuidDocumentEntryPractice     = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	uuidDocumentEntryTypeCode     = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	uuidDocumentEntryPatientID    = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	uuidDocumentEntryUniqueID     = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

	associationHasMember = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
	nsLCM                = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	nsRIM                = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
	nsHL7                = "urn:hl7-org:v3"
	nsXSI                = "http://www.w3.org/2001/XMLSchema-instance"
)

// HL7 v2 type codes used in the XDS values (ANS models of ansforge/IG-FHIR-PDSM4DMP-EEDS:
// AuthorPerson XCN.13 "IDNPS", AuthorInstitution XON.7 "IDNST", PatientId CX.5 "NH").
const (
	idTypePS        = "IDNPS"
	idTypeStructure = "IDNST"
	idTypeINS       = "NH"
	nameTypeLegal   = "L" // XPN.7 birth (legal) name
	nameTypeUsual   = "D" // XPN.7 name in use
)

// DefaultSourceID is the XDSSubmissionSet.sourceId used when the Package gives none: an OID
// under 2.25 (ITU-T X.667, derived from the UUID 5a1e6b1c-9d4b-4c2e-8f3a-6d5e7f8a9b0c chosen
// once for mssbridge). An installation that has its own OID configures it instead.
const DefaultSourceID = "2.25.119788461011294790255481245500502088460"
