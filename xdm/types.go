package xdm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mssbridge/mssbridge/ins"
)

// ID is an HL7 instance identifier: a root (an OID or a UUID) and an optional extension.
type ID struct {
	Root      string
	Extension string
}

// Code is a coded value: the code, the OID of its code system, and its display name.
type Code struct {
	Code    string
	System  string
	Display string
}

// Patient is who the document is about, with the traits of his INS.
type Patient struct {
	INS    string // 15-character matricule INS (NIR + key); spaces are accepted
	INSOID string // OIDINSNIR (default), OIDINSNIA, OIDINSNIRTest or OIDINSNIRDemo

	FamilyName     string // birth family name (nom de naissance)
	GivenNames     string // birth given names, space separated (prénoms de l'acte de naissance)
	FirstGivenName string // first birth given name; default: the first word of GivenNames
	UsedFamilyName string // name in use, when it differs (nom utilisé)
	UsedGivenName  string // given name in use, when it differs (prénom utilisé)

	BirthDate  string // YYYY-MM-DD
	Sex        string // "F", "M" or "" (unknown)
	BirthPlace string // code officiel géographique (COG) of the birth place, when known
}

// Organization is a health structure, identified nationally by its FINESS (preferred) or
// its SIRET.
type Organization struct {
	FINESS string // 9 characters: identifier "1"+FINESS under OIDStructIdNat
	SIRET  string // 14 digits: identifier "3"+SIRET, when there is no FINESS
	Name   string
}

// Author is the professional responsible for the document: the author, the legal
// authenticator and the performer of the documented act, as the ANS expects for an
// applicative box that sends on behalf of a professional.
type Author struct {
	RPPS       string // 11 digits: identifier "8"+RPPS under OIDPSIdNat
	FamilyName string
	GivenName  string
	// Specialty is the profession or savoir-faire (JDV_J01-XdsAuthorSpecialty-CISIS, e.g.
	// G15_10/SM54 "Médecin - Qualifié en Médecine Générale (SM)"), when known.
	Specialty Code
	// Role is the author's function towards the patient (JDV_J47-FunctionCode-CISIS, e.g.
	// PCP "Médecin traitant"), when known.
	Role         Code
	Organization Organization
}

// Document is what a CDA N1 document carries.
type Document struct {
	ID      ID  // ClinicalDocument/id; generated (NewID) when Root is empty
	SetID   ID  // ClinicalDocument/setId; generated when Root is empty
	Version int // versionNumber; 1 when 0

	Type            Code      // LOINC document type (JDV_J07); DefaultType when empty
	Title           string    // required
	EffectiveTime   time.Time // creation of the document; now when zero
	Confidentiality string    // "N" (default), "R" or "V"
	Language        string    // "fr-FR" when empty

	Patient   Patient
	Author    Author
	Custodian Organization // the structure keeping the document; Author.Organization when empty

	// ServiceStart and ServiceStop bound the documented act (documentationOf/serviceEvent,
	// XDS serviceStartTime/serviceStopTime). The ANS rules make serviceEvent/effectiveTime/low
	// mandatory: when ServiceStart is zero, EffectiveTime is used.
	ServiceStart time.Time
	ServiceStop  time.Time
	ServiceEvent Code // serviceEvent/code (XDS eventCodeList), when known

	HealthcareFacilityType Code // TRE_R02; DefaultHealthcareFacilityType when empty
	PracticeSetting        Code // TRE_A01; DefaultPracticeSetting when empty

	PDF []byte // the document itself
	// PDFFile and PDFSize, when PDFFile is set, take the place of PDF: the document is read
	// from its file while the package is written (BuildXDMTo), never held in memory.
	PDFFile io.ReaderAt
	PDFSize int64
}

// pdfReader reads the document from its start.
func (d Document) pdfReader() io.Reader {
	if d.PDFFile != nil {
		return io.NewSectionReader(d.PDFFile, 0, d.PDFSize)
	}
	return bytes.NewReader(d.PDF)
}

// Recipient is an intended recipient of an XDM package.
type Recipient struct {
	Address      string // MSSanté address
	RPPS         string // when the recipient is a professional with an RPPS
	FamilyName   string
	GivenName    string
	Organization string // name of the structure, for an organisational box
}

// Package is an IHE XDM package holding one CDA document.
type Package struct {
	Document   Document
	Recipients []Recipient // XDSSubmissionSet.intendedRecipient

	SourceID        string    // XDSSubmissionSet.sourceId (OID); DefaultSourceID when empty
	SubmissionSetID string    // XDSSubmissionSet.uniqueId (OID); generated when empty
	SubmissionTime  time.Time // now when zero
	ContentType     Code      // XDSSubmissionSet.contentTypeCode; DefaultContentType when empty
	ClassCode       Code      // XDSDocumentEntry.classCode; ClassFor(Document.Type) when empty
}

// Errors, to be tested with errors.Is; the returned errors wrap them with the detail.
var (
	ErrInvalid     = errors.New("document incomplet ou invalide")
	ErrUnsafeZip   = errors.New("archive XDM refusée")
	ErrMetadata    = errors.New("métadonnées XDM illisibles ou incohérentes")
	ErrNotN1       = errors.New("document CDA non lisible comme CDA de niveau 1 avec PDF")
	ErrUnsupported = errors.New("contenu XDM non pris en charge")
)

// NewID returns a fresh document identifier: an OID under 2.25 made of a random UUID
// (ITU-T X.667), valid as a CDA uid and as an XDS uniqueId.
func NewID() ID { return ID{Root: newOID()} }

func newOID() string {
	u := randomUUID()
	n := new(big.Int).SetBytes(u[:])
	return "2.25." + n.String()
}

// randomUUID returns a version-4 UUID (RFC 9562).
func randomUUID() [16]byte {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("xdm: crypto/rand: " + err.Error())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func newUUIDURN() string {
	u := randomUUID()
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

var now = time.Now

var (
	reOID    = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))*$`)
	reUUID   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	reDigits = regexp.MustCompile(`^[0-9]+$`)
	reFINESS = regexp.MustCompile(`^[0-9][0-9AB][0-9]{7}$`) // 2A/2B départements
	reDate   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	reCOG    = regexp.MustCompile(`^[0-9][0-9AB][0-9]{3}$`)
	reLang   = regexp.MustCompile(`^[a-z]{2}-[A-Z]{2}$`)
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w : %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// normalized returns d with its defaults filled and its fields checked; BuildCDA and
// BuildXDM work from it, so that the CDA and the metadata say the same thing.
func (d Document) normalized() (Document, error) {
	if d.ID.Root == "" {
		d.ID = NewID()
	}
	if d.SetID.Root == "" {
		d.SetID = NewID()
	}
	for _, id := range []ID{d.ID, d.SetID} {
		if !reOID.MatchString(id.Root) && !reUUID.MatchString(id.Root) {
			return d, invalid("l'identifiant du document %q n'est ni un OID ni un UUID", id.Root)
		}
		if strings.ContainsAny(id.Extension, "^&|~\\") || strings.TrimSpace(id.Extension) != id.Extension {
			return d, invalid("l'extension d'identifiant %q contient des caractères interdits", id.Extension)
		}
	}
	if d.Version == 0 {
		d.Version = 1
	}
	if d.Version < 0 {
		return d, invalid("numéro de version %d", d.Version)
	}
	if d.Type.Code == "" {
		d.Type = DefaultType
	}
	if d.Type.System == "" {
		d.Type.System = SystemLOINC
	}
	if d.Type.Display == "" {
		return d, invalid("le type de document %s n'a pas de libellé", d.Type.Code)
	}
	d.Title = strings.Join(strings.Fields(d.Title), " ")
	if d.Title == "" {
		return d, invalid("le titre du document est vide")
	}
	if err := checkText(d.Title, 250); err != nil {
		return d, err
	}
	if d.EffectiveTime.IsZero() {
		d.EffectiveTime = now()
	}
	d.EffectiveTime = d.EffectiveTime.Truncate(time.Second)
	if d.Confidentiality == "" {
		d.Confidentiality = "N"
	}
	if _, ok := confidentialityDisplay[d.Confidentiality]; !ok {
		return d, invalid("niveau de confidentialité %q (N, R ou V)", d.Confidentiality)
	}
	if d.Language == "" {
		d.Language = defaultLanguage
	}
	if !reLang.MatchString(d.Language) {
		return d, invalid("code de langue %q (forme attendue : fr-FR)", d.Language)
	}
	var err error
	if d.Patient, err = d.Patient.normalized(); err != nil {
		return d, err
	}
	if d.Author, err = d.Author.normalized(); err != nil {
		return d, err
	}
	if d.Custodian == (Organization{}) {
		d.Custodian = d.Author.Organization
	}
	if d.Custodian, err = d.Custodian.normalized("gardien du document (custodian)"); err != nil {
		return d, err
	}
	if d.ServiceStart.IsZero() {
		d.ServiceStart = d.EffectiveTime
	}
	d.ServiceStart = d.ServiceStart.Truncate(time.Second)
	d.ServiceStop = d.ServiceStop.Truncate(time.Second)
	if !d.ServiceStop.IsZero() && d.ServiceStop.Before(d.ServiceStart) {
		return d, invalid("la fin de l'acte précède son début")
	}
	if d.HealthcareFacilityType.Code == "" {
		d.HealthcareFacilityType = DefaultHealthcareFacilityType
	}
	if d.PracticeSetting.Code == "" {
		d.PracticeSetting = DefaultPracticeSetting
	}
	for _, c := range []struct {
		what string
		c    Code
		opt  bool
	}{
		{"type de document", d.Type, false},
		{"secteur d'activité", d.HealthcareFacilityType, false},
		{"cadre d'exercice", d.PracticeSetting, false},
		{"acte documenté", d.ServiceEvent, true},
		{"spécialité de l'auteur", d.Author.Specialty, true},
		{"rôle de l'auteur", d.Author.Role, true},
	} {
		if err := c.c.check(c.what, c.opt); err != nil {
			return d, err
		}
	}
	head := make([]byte, 1024)
	n, err := io.ReadFull(d.pdfReader(), head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return d, fmt.Errorf("xdm: read the PDF: %w", err)
	}
	if n == 0 {
		return d, invalid("le PDF est vide")
	}
	if !bytes.Contains(head[:n], []byte("%PDF-")) {
		return d, invalid("le contenu n'est pas un PDF")
	}
	return d, nil
}

func (c Code) check(what string, optional bool) error {
	if c == (Code{}) && optional {
		return nil
	}
	if c.Code == "" || strings.ContainsAny(c.Code, " \t\r\n^&|~\\") {
		return invalid("%s : code %q", what, c.Code)
	}
	if !reOID.MatchString(c.System) {
		return invalid("%s : système de codes %q (un OID est attendu)", what, c.System)
	}
	if strings.TrimSpace(c.Display) == "" {
		return invalid("%s : le code %s n'a pas de libellé", what, c.Code)
	}
	if len(c.Code) > 64 {
		return invalid("%s : code trop long", what)
	}
	return checkText(c.Display, 256)
}

func (p Patient) normalized() (Patient, error) {
	n, keyOK, err := ins.Check(p.INS)
	if err != nil {
		return p, invalid("INS du patient : %v", err)
	}
	if !keyOK {
		return p, invalid("INS du patient : la clé ne correspond pas au matricule")
	}
	p.INS = n
	switch p.INSOID {
	case "":
		p.INSOID = OIDINSNIR
	case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIRDemo:
	default:
		return p, invalid("OID d'INS %q inconnu", p.INSOID)
	}
	p.FamilyName = strings.TrimSpace(p.FamilyName)
	p.GivenNames = strings.Join(strings.Fields(p.GivenNames), " ")
	p.UsedFamilyName = strings.TrimSpace(p.UsedFamilyName)
	p.UsedGivenName = strings.TrimSpace(p.UsedGivenName)
	if p.FamilyName == "" || p.GivenNames == "" {
		return p, invalid("nom et prénoms de naissance du patient requis")
	}
	if p.FirstGivenName == "" {
		p.FirstGivenName = strings.Fields(p.GivenNames)[0]
	}
	p.FirstGivenName = strings.TrimSpace(p.FirstGivenName)
	if !reDate.MatchString(p.BirthDate) {
		return p, invalid("date de naissance %q (AAAA-MM-JJ attendu)", p.BirthDate)
	}
	if _, err := time.Parse("2006-01-02", p.BirthDate); err != nil {
		return p, invalid("date de naissance %q", p.BirthDate)
	}
	switch p.Sex {
	case "F", "M", "":
	default:
		return p, invalid("sexe %q (F, M ou vide)", p.Sex)
	}
	p.BirthPlace = strings.ToUpper(strings.TrimSpace(p.BirthPlace))
	if p.BirthPlace != "" && !reCOG.MatchString(p.BirthPlace) {
		return p, invalid("lieu de naissance %q (code COG à 5 caractères attendu)", p.BirthPlace)
	}
	for _, s := range []string{p.FamilyName, p.GivenNames, p.FirstGivenName, p.UsedFamilyName, p.UsedGivenName} {
		if err := checkText(s, 80); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (a Author) normalized() (Author, error) {
	a.RPPS = strings.Join(strings.Fields(a.RPPS), "")
	if len(a.RPPS) != 11 || !reDigits.MatchString(a.RPPS) {
		return a, invalid("RPPS du professionnel responsable %q (11 chiffres attendus)", a.RPPS)
	}
	a.FamilyName = strings.TrimSpace(a.FamilyName)
	a.GivenName = strings.TrimSpace(a.GivenName)
	if a.FamilyName == "" {
		return a, invalid("nom du professionnel responsable requis")
	}
	for _, s := range []string{a.FamilyName, a.GivenName} {
		if err := checkText(s, 80); err != nil {
			return a, err
		}
	}
	var err error
	a.Organization, err = a.Organization.normalized("structure du professionnel responsable")
	return a, err
}

func (o Organization) normalized(what string) (Organization, error) {
	o.FINESS = strings.ToUpper(strings.Join(strings.Fields(o.FINESS), ""))
	o.SIRET = strings.Join(strings.Fields(o.SIRET), "")
	o.Name = strings.TrimSpace(o.Name)
	switch {
	case o.FINESS != "":
		if !reFINESS.MatchString(o.FINESS) {
			return o, invalid("%s : FINESS %q (9 caractères attendus)", what, o.FINESS)
		}
	case o.SIRET != "":
		if len(o.SIRET) != 14 || !reDigits.MatchString(o.SIRET) {
			return o, invalid("%s : SIRET %q (14 chiffres attendus)", what, o.SIRET)
		}
	default:
		return o, invalid("%s : FINESS ou SIRET requis", what)
	}
	if o.Name == "" {
		return o, invalid("%s : nom requis", what)
	}
	return o, checkText(o.Name, 120)
}

// structID is the national structure identifier (idNat_Struct) of o.
func (o Organization) structID() string {
	if o.FINESS != "" {
		return prefixFINESS + o.FINESS
	}
	return prefixSIRET + o.SIRET
}

// organizationFromStructID reverses structID.
func organizationFromStructID(root, ext, name string) Organization {
	o := Organization{Name: name}
	if root != OIDStructIdNat {
		return o
	}
	switch {
	case strings.HasPrefix(ext, prefixFINESS) && len(ext) == 10:
		o.FINESS = ext[1:]
	case strings.HasPrefix(ext, prefixSIRET) && len(ext) == 15:
		o.SIRET = ext[1:]
	}
	return o
}

// checkText refuses control characters and overlong names: every name ends up in an XDS
// slot value, limited to 256 characters by rim.xsd (LongName).
func checkText(s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid("texte non UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return invalid("texte trop long (%d caractères au plus) : %.40q…", max, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff {
			return invalid("caractère de contrôle dans %q", s)
		}
	}
	return nil
}

// normalized returns p with its defaults filled and its document normalized.
func (p Package) normalized() (Package, error) {
	var err error
	if p.Document, err = p.Document.normalized(); err != nil {
		return p, err
	}
	if p.SourceID == "" {
		p.SourceID = DefaultSourceID
	}
	if !reOID.MatchString(p.SourceID) {
		return p, invalid("sourceId %q n'est pas un OID", p.SourceID)
	}
	if p.SubmissionSetID == "" {
		p.SubmissionSetID = newOID()
	}
	if !reOID.MatchString(p.SubmissionSetID) {
		return p, invalid("identifiant du lot de soumission %q n'est pas un OID", p.SubmissionSetID)
	}
	if p.SubmissionTime.IsZero() {
		p.SubmissionTime = now()
	}
	p.SubmissionTime = p.SubmissionTime.Truncate(time.Second)
	if p.ContentType.Code == "" {
		p.ContentType = DefaultContentType
	}
	if p.ClassCode.Code == "" {
		p.ClassCode = ClassFor(p.Document.Type)
	}
	if err := p.ContentType.check("contentTypeCode", false); err != nil {
		return p, err
	}
	if err := p.ClassCode.check("classCode", false); err != nil {
		return p, err
	}
	if len(p.Recipients) == 0 {
		return p, invalid("aucun destinataire")
	}
	rs := make([]Recipient, len(p.Recipients))
	for i, r := range p.Recipients {
		r.Address = strings.TrimSpace(r.Address)
		r.RPPS = strings.Join(strings.Fields(r.RPPS), "")
		r.FamilyName = strings.TrimSpace(r.FamilyName)
		r.GivenName = strings.TrimSpace(r.GivenName)
		r.Organization = strings.TrimSpace(r.Organization)
		if r.Address == "" || strings.ContainsAny(r.Address, " \t<>\"") || !strings.Contains(r.Address, "@") {
			return p, invalid("adresse de destinataire %q", r.Address)
		}
		if r.RPPS != "" && (len(r.RPPS) != 11 || !reDigits.MatchString(r.RPPS)) {
			return p, invalid("RPPS de destinataire %q (11 chiffres attendus)", r.RPPS)
		}
		if err := checkText(r.Address, 200); err != nil {
			return p, err
		}
		for _, s := range []string{r.FamilyName, r.GivenName, r.Organization} {
			if err := checkText(s, 80); err != nil {
				return p, err
			}
		}
		rs[i] = r
	}
	p.Recipients = rs
	return p, nil
}
