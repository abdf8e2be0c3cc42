package xdm

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const dtmLayout = "20060102150405" // XDS DTM, always UTC (IHE ITI TF-3 §4.2.3.1.4)

// docEntry is what the metadata says of the one document besides what the CDA says.
type docEntry struct {
	uri  string
	hash string // SHA-1, hex
	size int64
}

// buildMetadata returns METADATA.XML: an ebRIM 3.0 lcm:SubmitObjectsRequest holding the
// submission set (rim:RegistryPackage), the document entry (rim:ExtrinsicObject), their
// HasMember association and the classification of the package as a submission set.
func buildMetadata(p Package, e docEntry) ([]byte, error) {
	d := p.Document
	ssID, docID := newUUIDURN(), newUUIDURN()
	var err error
	check := func(slot, v string) string {
		if n := utf8.RuneCountInString(v); n > 256 && err == nil {
			err = invalid("la métadonnée %s dépasse 256 caractères (%d)", slot, n)
		}
		return v
	}
	slot := func(name string, values ...string) *node {
		vl := el("rim:ValueList")
		for _, v := range values {
			vl.add(el("rim:Value").setText(check(name, v)))
		}
		return el("rim:Slot", "name", name).add(vl)
	}
	localized := func(name, value string) *node {
		return el(name).add(el("rim:LocalizedString", "xml:lang", "fr-FR", "charset", "UTF-8", "value", value))
	}
	classification := func(scheme, object string, c Code) *node {
		return el("rim:Classification", "classificationScheme", scheme, "classifiedObject", object,
			"id", newUUIDURN(), "nodeRepresentation", check("nodeRepresentation", c.Code)).add(
			slot("codingScheme", c.System),
			localized("rim:Name", c.Display),
		)
	}
	externalID := func(scheme, object, value, name string) *node {
		return el("rim:ExternalIdentifier", "identificationScheme", scheme, "value", check(name, value),
			"id", newUUIDURN(), "registryObject", object).add(localized("rim:Name", name))
	}
	author := func(scheme, object string) *node {
		a := d.Author
		n := el("rim:Classification", "classificationScheme", scheme, "classifiedObject", object,
			"id", newUUIDURN())
		n.attrs = append(n.attrs, attr{"nodeRepresentation", ""}) // as IHE ITI TF-3 §4.2.3.1.7 writes it
		n.add(
			slot("authorPerson", xcnPS(a.RPPS, a.FamilyName, a.GivenName)),
			slot("authorInstitution", xonStruct(a.Organization.Name, a.Organization.structID())),
		)
		if a.Role.Code != "" {
			n.add(slot("authorRole", ce(a.Role)))
		}
		if a.Specialty.Code != "" {
			n.add(slot("authorSpecialty", ce(a.Specialty)))
		}
		return n
	}
	patientID := cx(d.Patient.INS, d.Patient.INSOID)

	// The submission set.
	recipients := make([]string, len(p.Recipients))
	for i, r := range p.Recipients {
		recipients[i] = intendedRecipient(r)
	}
	ss := el("rim:RegistryPackage", "id", ssID).add(
		slot("submissionTime", p.SubmissionTime.UTC().Format(dtmLayout)),
		slot("intendedRecipient", recipients...),
		localized("rim:Name", d.Title),
		author(uuidSubmissionSetAuthor, ssID),
		classification(uuidSubmissionSetContentType, ssID, p.ContentType),
		externalID(uuidSubmissionSetUniqueID, ssID, p.SubmissionSetID, "XDSSubmissionSet.uniqueId"),
		externalID(uuidSubmissionSetSourceID, ssID, p.SourceID, "XDSSubmissionSet.sourceId"),
		externalID(uuidSubmissionSetPatientID, ssID, patientID, "XDSSubmissionSet.patientId"),
	)

	// The document entry.
	uniqueID := d.ID.Root
	if d.ID.Extension != "" {
		uniqueID += "^" + d.ID.Extension
	}
	de := el("rim:ExtrinsicObject", "id", docID, "mimeType", "text/xml", "objectType", uuidDocumentEntry)
	de.add(
		slot("creationTime", d.EffectiveTime.UTC().Format(dtmLayout)),
		slot("languageCode", d.Language),
		slot("serviceStartTime", d.ServiceStart.UTC().Format(dtmLayout)),
	)
	if !d.ServiceStop.IsZero() {
		de.add(slot("serviceStopTime", d.ServiceStop.UTC().Format(dtmLayout)))
	}
	de.add(
		slot("sourcePatientId", patientID),
		slot("sourcePatientInfo", sourcePatientInfo(d.Patient)...),
		slot("legalAuthenticator", xcnPS(d.Author.RPPS, d.Author.FamilyName, d.Author.GivenName)),
		slot("hash", e.hash),
		slot("size", strconv.FormatInt(e.size, 10)),
		slot("URI", e.uri),
		localized("rim:Name", d.Title),
		author(uuidDocumentEntryAuthor, docID),
		classification(uuidDocumentEntryClassCode, docID, p.ClassCode),
		classification(uuidDocumentEntryConfidential, docID, Code{Code: d.Confidentiality,
			System: SystemConfidentiality, Display: confidentialityDisplay[d.Confidentiality]}),
	)
	if d.ServiceEvent.Code != "" {
		de.add(classification(uuidDocumentEntryEventCode, docID, d.ServiceEvent))
	}
	de.add(
		classification(uuidDocumentEntryFormatCode, docID, FormatCodePDF),
		classification(uuidDocumentEntryFacilityType, docID, d.HealthcareFacilityType),
		classification(uuidDocumentEntryPractice, docID, d.PracticeSetting),
		classification(uuidDocumentEntryTypeCode, docID, d.Type),
		externalID(uuidDocumentEntryPatientID, docID, patientID, "XDSDocumentEntry.patientId"),
		externalID(uuidDocumentEntryUniqueID, docID, uniqueID, "XDSDocumentEntry.uniqueId"),
	)

	root := el("lcm:SubmitObjectsRequest", "xmlns:lcm", nsLCM, "xmlns:rim", nsRIM).add(
		el("rim:RegistryObjectList").add(
			ss,
			el("rim:Classification", "classifiedObject", ssID, "classificationNode", uuidSubmissionSet,
				"id", newUUIDURN()),
			de,
			el("rim:Association", "associationType", associationHasMember, "sourceObject", ssID,
				"targetObject", docID, "id", newUUIDURN()).add(slot("SubmissionSetStatus", "Original")),
		),
	)
	if err != nil {
		return nil, err
	}
	return root.document(), nil
}

// sourcePatientInfo gives the patient's traits as PID fields: PID-3 the INS, PID-5 the
// birth name (type L: family, first given name, all birth given names) and the name in use
// (type D) when there is one, PID-7 the birth date, PID-8 the sex (table 0001: F, M, U),
// PID-11 the birth place as a COG code with address type BDL, when known.
func sourcePatientInfo(p Patient) []string {
	v := []string{
		"PID-3|" + cx(p.INS, p.INSOID),
		"PID-5|" + components(esc(p.FamilyName), esc(p.FirstGivenName), esc(p.GivenNames), "", "", "", nameTypeLegal),
	}
	if p.UsedFamilyName != "" || p.UsedGivenName != "" {
		v = append(v, "PID-5|"+components(esc(p.UsedFamilyName), esc(p.UsedGivenName), "", "", "", "", nameTypeUsual))
	}
	birth, _ := time.Parse("2006-01-02", p.BirthDate)
	sex := p.Sex
	if sex == "" {
		sex = "U"
	}
	v = append(v, "PID-7|"+birth.Format(dateLayout), "PID-8|"+sex)
	if p.BirthPlace != "" {
		v = append(v, "PID-11|"+components("", "", "", "", "", "", "BDL", "", esc(p.BirthPlace)))
	}
	return v
}

// The reading side.

type xSlot struct {
	Name   string   `xml:"name,attr"`
	Values []string `xml:"ValueList>Value"`
}

type xLocalized struct {
	Value string `xml:"value,attr"`
}

type xRegistryObject struct {
	ID                   string            `xml:"id,attr"`
	ObjectType           string            `xml:"objectType,attr"`
	MimeType             string            `xml:"mimeType,attr"`
	ClassificationScheme string            `xml:"classificationScheme,attr"`
	ClassifiedObject     string            `xml:"classifiedObject,attr"`
	ClassificationNode   string            `xml:"classificationNode,attr"`
	NodeRepresentation   string            `xml:"nodeRepresentation,attr"`
	IdentificationScheme string            `xml:"identificationScheme,attr"`
	Value                string            `xml:"value,attr"`
	AssociationType      string            `xml:"associationType,attr"`
	SourceObject         string            `xml:"sourceObject,attr"`
	TargetObject         string            `xml:"targetObject,attr"`
	Slots                []xSlot           `xml:"Slot"`
	Name                 []xLocalized      `xml:"Name>LocalizedString"`
	Classifications      []xRegistryObject `xml:"Classification"`
	ExternalIdentifiers  []xRegistryObject `xml:"ExternalIdentifier"`
}

type xSubmitObjectsRequest struct {
	XMLName xml.Name `xml:"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0 SubmitObjectsRequest"`
	List    struct {
		Packages        []xRegistryObject `xml:"RegistryPackage"`
		Extrinsics      []xRegistryObject `xml:"ExtrinsicObject"`
		Classifications []xRegistryObject `xml:"Classification"`
		Associations    []xRegistryObject `xml:"Association"`
	} `xml:"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0 RegistryObjectList"`
}

func (o *xRegistryObject) slot(name string) []string {
	for _, s := range o.Slots {
		if s.Name == name {
			return s.Values
		}
	}
	return nil
}

func (o *xRegistryObject) slot1(name string) string {
	if v := o.slot(name); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func (o *xRegistryObject) classification(scheme string) *xRegistryObject {
	for i := range o.Classifications {
		if o.Classifications[i].ClassificationScheme == scheme {
			return &o.Classifications[i]
		}
	}
	return nil
}

func (o *xRegistryObject) code(scheme string) Code {
	c := o.classification(scheme)
	if c == nil {
		return Code{}
	}
	code := Code{Code: c.NodeRepresentation, System: c.slot1("codingScheme")}
	if len(c.Name) > 0 {
		code.Display = c.Name[0].Value
	}
	return code
}

func (o *xRegistryObject) externalID(scheme string) string {
	for _, e := range o.ExternalIdentifiers {
		if e.IdentificationScheme == scheme {
			return strings.TrimSpace(e.Value)
		}
	}
	return ""
}

func metaErr(format string, a ...any) error {
	return fmt.Errorf("%w : %s", ErrMetadata, fmt.Sprintf(format, a...))
}

// metadata is what parseMetadata reads: the package without its document, the document
// entry's own facts, and the identifiers to cross-check against the CDA.
type metadata struct {
	pkg        Package
	entry      docEntry
	patientID  string // CX of the document entry
	uniqueID   string
	typeCode   Code
	sourcePID3 string
}

func parseMetadata(b []byte) (metadata, error) {
	var x xSubmitObjectsRequest
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&x); err != nil {
		return metadata{}, metaErr("%v", err)
	}
	var m metadata
	// The submission set: the RegistryPackage classified as XDSSubmissionSet (nested or
	// at the top level).
	var ss *xRegistryObject
	for i := range x.List.Packages {
		p := &x.List.Packages[i]
		isSS := false
		for _, c := range p.Classifications {
			isSS = isSS || c.ClassificationNode == uuidSubmissionSet
		}
		for _, c := range x.List.Classifications {
			isSS = isSS || (c.ClassificationNode == uuidSubmissionSet && c.ClassifiedObject == p.ID)
		}
		if isSS {
			if ss != nil {
				return metadata{}, metaErr("plusieurs lots de soumission")
			}
			ss = p
		}
	}
	if ss == nil {
		return metadata{}, metaErr("pas de lot de soumission (RegistryPackage classé XDSSubmissionSet)")
	}
	var docs []*xRegistryObject
	for i := range x.List.Extrinsics {
		if x.List.Extrinsics[i].ObjectType == uuidDocumentEntry {
			docs = append(docs, &x.List.Extrinsics[i])
		}
	}
	if len(docs) != 1 {
		return metadata{}, fmt.Errorf("%w : %d documents dans le lot, un seul est pris en charge", ErrUnsupported, len(docs))
	}
	de := docs[0]
	member := false
	for _, a := range x.List.Associations {
		member = member || (a.AssociationType == associationHasMember && a.SourceObject == ss.ID && a.TargetObject == de.ID)
	}
	if !member {
		return metadata{}, metaErr("pas d'association HasMember entre le lot et le document")
	}

	p := &m.pkg
	var err error
	if p.SubmissionTime, err = parseDTM(ss.slot1("submissionTime")); err != nil {
		return metadata{}, metaErr("submissionTime : %v", err)
	}
	for _, v := range ss.slot("intendedRecipient") {
		p.Recipients = append(p.Recipients, parseIntendedRecipient(strings.TrimSpace(v)))
	}
	p.SubmissionSetID = ss.externalID(uuidSubmissionSetUniqueID)
	p.SourceID = ss.externalID(uuidSubmissionSetSourceID)
	p.ContentType = ss.code(uuidSubmissionSetContentType)
	if ssPID := ss.externalID(uuidSubmissionSetPatientID); ssPID != de.externalID(uuidDocumentEntryPatientID) {
		return metadata{}, metaErr("le patient du lot (%s) n'est pas celui du document (%s)", ssPID, de.externalID(uuidDocumentEntryPatientID))
	}
	p.ClassCode = de.code(uuidDocumentEntryClassCode)

	m.patientID = de.externalID(uuidDocumentEntryPatientID)
	m.uniqueID = de.externalID(uuidDocumentEntryUniqueID)
	m.typeCode = de.code(uuidDocumentEntryTypeCode)
	for _, v := range de.slot("sourcePatientInfo") {
		if strings.HasPrefix(v, "PID-3|") {
			m.sourcePID3 = strings.TrimPrefix(v, "PID-3|")
		}
	}
	m.entry.uri = de.slot1("URI")
	m.entry.hash = strings.ToLower(de.slot1("hash"))
	if s := de.slot1("size"); s != "" {
		if m.entry.size, err = strconv.ParseInt(s, 10, 64); err != nil || m.entry.size < 0 {
			return metadata{}, metaErr("size %q", s)
		}
	} else {
		m.entry.size = -1
	}
	if m.entry.uri == "" {
		return metadata{}, metaErr("le document n'a pas de slot URI")
	}
	if de.MimeType != "text/xml" {
		return metadata{}, fmt.Errorf("%w : document de type %q, seul un CDA (text/xml) est lu", ErrUnsupported, de.MimeType)
	}
	return m, nil
}

func parseDTM(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := parseTS(v)
	if err != nil {
		return t, err
	}
	return t.UTC(), nil
}

func sha1Hex(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}
