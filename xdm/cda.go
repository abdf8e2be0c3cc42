package xdm

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

const (
	tsLayout   = "20060102150405-0700" // HL7 TS with seconds and UTC offset
	dateLayout = "20060102"
)

// BuildCDA returns the CDA R2 level-1 document of d: the ANS N1 header and the PDF in a
// nonXMLBody, base64. Missing optional fields take their defaults (see Document); a missing
// or malformed required field is an ErrInvalid.
func BuildCDA(d Document) ([]byte, error) {
	d, err := d.normalized()
	if err != nil {
		return nil, err
	}
	return buildCDA(d)
}

// pdfMarker stands for the base64 PDF in the rendered header: the CDA is written as the
// header up to it, the PDF encoded on the fly, and the rest (writeCDA).
const pdfMarker = "\x00mssbridge-pdf\x00"

func buildCDA(d Document) ([]byte, error) {
	var b bytes.Buffer
	if err := writeCDA(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeCDA writes the CDA of d to w, the PDF read from d as it goes.
func writeCDA(w io.Writer, d Document) error {
	// The body comes after every field a person typed: the last marker is the body's.
	sk := cdaSkeleton(d)
	i := bytes.LastIndex(sk, []byte(pdfMarker))
	head, tail := sk[:i], sk[i+len(pdfMarker):]
	if _, err := w.Write(head); err != nil {
		return err
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := io.Copy(enc, d.pdfReader()); err != nil {
		return fmt.Errorf("xdm: PDF into the CDA: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(tail)
	return err
}

// cdaSkeleton renders the CDA with pdfMarker where the base64 PDF goes.
func cdaSkeleton(d Document) []byte {
	root := el("ClinicalDocument", "xmlns", nsHL7, "xmlns:xsi", nsXSI)
	root.add(
		el("realmCode", "code", defaultRealm),
		el("typeId", "root", cdaTypeIDRoot, "extension", cdaTypeIDExtension),
		el("templateId", "root", TemplateHL7France),
		el("templateId", "root", TemplateCISIS),
		el("templateId", "root", TemplateIHEXDSSD),
		idNode("id", d.ID),
		el("code", "code", d.Type.Code, "displayName", d.Type.Display, "codeSystem", d.Type.System,
			"codeSystemName", systemName(d.Type.System)),
		el("title").setText(d.Title),
		el("effectiveTime", "value", d.EffectiveTime.Format(tsLayout)),
		el("confidentialityCode", "code", d.Confidentiality, "displayName", confidentialityDisplay[d.Confidentiality],
			"codeSystem", SystemConfidentiality, "codeSystemName", confidentialityName),
		el("languageCode", "code", d.Language),
		idNode("setId", d.SetID),
		el("versionNumber", "value", strconv.Itoa(d.Version)),
		recordTarget(d.Patient),
		el("author").add(
			codeNodeOpt("functionCode", d.Author.Role),
			el("time", "value", d.EffectiveTime.Format(tsLayout)),
			el("assignedAuthor").add(
				psID(d.Author.RPPS),
				codeNodeOpt("code", d.Author.Specialty),
				el("assignedPerson").add(personName(d.Author.FamilyName, d.Author.GivenName)),
				organization("representedOrganization", d.Author.Organization, nil),
			),
		),
		el("custodian").add(el("assignedCustodian").add(
			organization("representedCustodianOrganization", d.Custodian, nil))),
		el("legalAuthenticator").add(
			el("time", "value", d.EffectiveTime.Format(tsLayout)),
			el("signatureCode", "code", "S"),
			el("assignedEntity").add(
				psID(d.Author.RPPS),
				el("assignedPerson").add(personName(d.Author.FamilyName, d.Author.GivenName)),
				organization("representedOrganization", d.Author.Organization, nil),
			),
		),
		el("documentationOf").add(el("serviceEvent").add(
			codeNodeOpt("code", d.ServiceEvent),
			interval(d.ServiceStart, d.ServiceStop),
			el("performer", "typeCode", "PRF").add(el("assignedEntity").add(
				psID(d.Author.RPPS),
				codeNodeOpt("code", d.Author.Specialty),
				el("assignedPerson").add(personName(d.Author.FamilyName, d.Author.GivenName)),
				organization("representedOrganization", d.Author.Organization,
					codeNode("standardIndustryClassCode", d.PracticeSetting)),
			)),
		)),
		el("componentOf").add(el("encompassingEncounter").add(
			interval(d.ServiceStart, d.ServiceStop),
			el("location").add(el("healthCareFacility").add(
				codeNode("code", d.HealthcareFacilityType))),
		)),
	)
	text := el("text", "mediaType", mediaTypePDF, "representation", representationB64)
	text.raw = []byte(pdfMarker)
	root.add(el("component").add(el("nonXMLBody").add(text)))
	return root.document()
}

func systemName(oid string) string {
	if oid == SystemLOINC {
		return loincSystemName
	}
	return ""
}

func idNode(name string, id ID) *node {
	return el(name, "root", id.Root, "extension", id.Extension)
}

func psID(rpps string) *node {
	return el("id", "root", OIDPSIdNat, "extension", prefixRPPS+rpps)
}

func codeNode(name string, c Code) *node {
	return el(name, "code", c.Code, "displayName", c.Display, "codeSystem", c.System)
}

func codeNodeOpt(name string, c Code) *node {
	if c.Code == "" {
		return nil
	}
	return codeNode(name, c)
}

func personName(family, given string) *node {
	n := el("name")
	if given != "" {
		n.add(el("given").setText(given))
	}
	return n.add(el("family").setText(family))
}

func organization(name string, o Organization, industry *node) *node {
	return el(name).add(
		el("id", "root", OIDStructIdNat, "extension", o.structID()),
		el("name").setText(o.Name),
		industry,
	)
}

func interval(start, stop time.Time) *node {
	n := el("effectiveTime").add(el("low", "value", start.Format(tsLayout)))
	if !stop.IsZero() {
		n.add(el("high", "value", stop.Format(tsLayout)))
	}
	return n
}

func recordTarget(p Patient) *node {
	name := el("name").add(
		el("family", "qualifier", "BR").setText(p.FamilyName),
		el("given").setText(p.GivenNames),
		el("given", "qualifier", "BR").setText(p.FirstGivenName),
	)
	if p.UsedFamilyName != "" {
		name.add(el("family", "qualifier", "CL").setText(p.UsedFamilyName))
	}
	if p.UsedGivenName != "" {
		name.add(el("given", "qualifier", "CL").setText(p.UsedGivenName))
	}
	birth, _ := time.Parse("2006-01-02", p.BirthDate)
	patient := el("patient").add(
		name,
		codeNode("administrativeGenderCode", genderCDA[p.Sex]),
		el("birthTime", "value", birth.Format(dateLayout)),
	)
	if p.BirthPlace != "" {
		patient.add(el("birthplace").add(el("place").add(el("addr").add(
			el("county").setText(p.BirthPlace)))))
	}
	return el("recordTarget").add(el("patientRole").add(
		el("id", "root", p.INSOID, "extension", p.INS),
		patient,
	))
}

// The reading side: only what Document carries, namespace-aware (any prefix).

type xII struct {
	Root       string `xml:"root,attr"`
	Extension  string `xml:"extension,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

type xCode struct {
	Code       string `xml:"code,attr"`
	System     string `xml:"codeSystem,attr"`
	Display    string `xml:"displayName,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

func (c *xCode) code() Code {
	if c == nil || c.Code == "" {
		return Code{}
	}
	return Code{Code: c.Code, System: c.System, Display: c.Display}
}

type xValue struct {
	Value string `xml:"value,attr"`
}

type xPart struct {
	XMLName   xml.Name
	Qualifier string `xml:"qualifier,attr"`
	Text      string `xml:",chardata"`
}

type xName struct {
	Parts []xPart `xml:",any"`
}

type xOrg struct {
	IDs   []xII    `xml:"id"`
	Names []string `xml:"name"`
}

type xEntity struct {
	IDs    []xII  `xml:"id"`
	Code   *xCode `xml:"code"`
	Person *struct {
		Names []xName `xml:"name"`
	} `xml:"assignedPerson"`
	Org *xOrg `xml:"representedOrganization"`
}

type xIVL struct {
	Value string  `xml:"value,attr"`
	Low   *xValue `xml:"low"`
	High  *xValue `xml:"high"`
}

type xCDA struct {
	XMLName         xml.Name `xml:"urn:hl7-org:v3 ClinicalDocument"`
	TemplateIDs     []xII    `xml:"templateId"`
	ID              xII      `xml:"id"`
	Code            xCode    `xml:"code"`
	Title           string   `xml:"title"`
	EffectiveTime   xValue   `xml:"effectiveTime"`
	Confidentiality xCode    `xml:"confidentialityCode"`
	Language        xCode    `xml:"languageCode"`
	SetID           xII      `xml:"setId"`
	Version         xValue   `xml:"versionNumber"`
	RecordTarget    []struct {
		PatientRole struct {
			IDs     []xII `xml:"id"`
			Patient struct {
				Names      []xName `xml:"name"`
				Gender     xCode   `xml:"administrativeGenderCode"`
				BirthTime  xValue  `xml:"birthTime"`
				Birthplace struct {
					Place struct {
						Addr struct {
							County string `xml:"county"`
						} `xml:"addr"`
					} `xml:"place"`
				} `xml:"birthplace"`
			} `xml:"patient"`
		} `xml:"patientRole"`
	} `xml:"recordTarget"`
	Author []struct {
		FunctionCode *xCode  `xml:"functionCode"`
		Time         xValue  `xml:"time"`
		Assigned     xEntity `xml:"assignedAuthor"`
	} `xml:"author"`
	Custodian struct {
		Org xOrg `xml:"assignedCustodian>representedCustodianOrganization"`
	} `xml:"custodian"`
	DocumentationOf []struct {
		ServiceEvent struct {
			Code          *xCode `xml:"code"`
			EffectiveTime *xIVL  `xml:"effectiveTime"`
			Performer     []struct {
				Entity struct {
					Org *struct {
						xOrg
						Industry *xCode `xml:"standardIndustryClassCode"`
					} `xml:"representedOrganization"`
				} `xml:"assignedEntity"`
			} `xml:"performer"`
		} `xml:"serviceEvent"`
	} `xml:"documentationOf"`
	ComponentOf struct {
		Facility *xCode `xml:"encompassingEncounter>location>healthCareFacility>code"`
	} `xml:"componentOf"`
	Component struct {
		NonXMLBody *struct {
			Text struct {
				MediaType      string `xml:"mediaType,attr"`
				Representation string `xml:"representation,attr"`
				Data           string `xml:",chardata"`
			} `xml:"text"`
		} `xml:"nonXMLBody"`
		StructuredBody *struct{} `xml:"structuredBody"`
	} `xml:"component"`
}

func notN1(format string, a ...any) error {
	return fmt.Errorf("%w : %s", ErrNotN1, fmt.Sprintf(format, a...))
}

// ParseCDA reads a CDA R2 level-1 document wrapping a PDF and returns what it says. It is
// lenient with what other senders may do differently (extra identifiers, missing optional
// parts) and strict with what the receive side cannot do without: a ClinicalDocument whose
// nonXMLBody holds a base64 PDF. A patient without an identifier under an INS OID is
// returned with an empty INS.
func ParseCDA(b []byte) (Document, error) {
	var x xCDA
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&x); err != nil {
		return Document{}, notN1("%v", err)
	}
	body := x.Component.NonXMLBody
	if body == nil {
		if x.Component.StructuredBody != nil {
			return Document{}, notN1("corps structuré (niveau 3), pas de PDF encapsulé")
		}
		return Document{}, notN1("pas de corps nonXMLBody")
	}
	if !strings.EqualFold(strings.TrimSpace(body.Text.MediaType), mediaTypePDF) {
		return Document{}, notN1("le corps est de type %q, pas %s", body.Text.MediaType, mediaTypePDF)
	}
	if body.Text.Representation != representationB64 {
		return Document{}, notN1("le corps n'est pas en base64 (representation=%q)", body.Text.Representation)
	}
	pdf, err := base64.StdEncoding.DecodeString(stripSpace(body.Text.Data))
	if err != nil {
		return Document{}, notN1("base64 du PDF : %v", err)
	}
	var d Document
	d.PDF = pdf
	d.ID = ID{Root: x.ID.Root, Extension: x.ID.Extension}
	d.SetID = ID{Root: x.SetID.Root, Extension: x.SetID.Extension}
	if x.Version.Value != "" {
		if d.Version, err = strconv.Atoi(x.Version.Value); err != nil {
			return Document{}, notN1("versionNumber %q", x.Version.Value)
		}
	}
	d.Type = x.Code.code()
	d.Title = strings.Join(strings.Fields(x.Title), " ")
	if d.EffectiveTime, err = parseTS(x.EffectiveTime.Value); err != nil {
		return Document{}, notN1("effectiveTime : %v", err)
	}
	d.Confidentiality = x.Confidentiality.Code
	d.Language = x.Language.Code

	if len(x.RecordTarget) != 1 {
		return Document{}, notN1("%d patients (recordTarget) au lieu d'un", len(x.RecordTarget))
	}
	pr := x.RecordTarget[0].PatientRole
	for _, id := range pr.IDs {
		switch id.Root {
		case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIRDemo:
			if d.Patient.INS == "" {
				d.Patient.INS, d.Patient.INSOID = id.Extension, id.Root
			}
		}
	}
	if len(pr.Patient.Names) > 0 {
		for _, p := range pr.Patient.Names[0].Parts {
			v := strings.TrimSpace(p.Text)
			switch {
			case p.XMLName.Local == "family" && p.Qualifier == "BR":
				d.Patient.FamilyName = v
			case p.XMLName.Local == "family" && p.Qualifier == "CL":
				d.Patient.UsedFamilyName = v
			case p.XMLName.Local == "family" && d.Patient.FamilyName == "":
				d.Patient.FamilyName = v
			case p.XMLName.Local == "given" && p.Qualifier == "BR":
				d.Patient.FirstGivenName = v
			case p.XMLName.Local == "given" && p.Qualifier == "CL":
				d.Patient.UsedGivenName = v
			case p.XMLName.Local == "given" && p.Qualifier == "":
				if d.Patient.GivenNames == "" {
					d.Patient.GivenNames = v
				} else {
					d.Patient.GivenNames += " " + v
				}
			}
		}
	}
	switch g := pr.Patient.Gender.Code; g {
	case "F", "M":
		d.Patient.Sex = g
	}
	if bt := pr.Patient.BirthTime.Value; len(bt) >= 8 {
		t, err := time.Parse(dateLayout, bt[:8])
		if err != nil {
			return Document{}, notN1("birthTime %q", bt)
		}
		d.Patient.BirthDate = t.Format("2006-01-02")
	}
	d.Patient.BirthPlace = strings.TrimSpace(pr.Patient.Birthplace.Place.Addr.County)

	if len(x.Author) == 0 {
		return Document{}, notN1("pas d'auteur")
	}
	a := x.Author[0]
	d.Author.Role = a.FunctionCode.code()
	d.Author.Specialty = a.Assigned.Code.code()
	for _, id := range a.Assigned.IDs {
		if id.Root == OIDPSIdNat && strings.HasPrefix(id.Extension, prefixRPPS) && len(id.Extension) == 12 {
			d.Author.RPPS = id.Extension[1:]
		}
	}
	if a.Assigned.Person != nil && len(a.Assigned.Person.Names) > 0 {
		for _, p := range a.Assigned.Person.Names[0].Parts {
			switch p.XMLName.Local {
			case "family":
				d.Author.FamilyName = strings.TrimSpace(p.Text)
			case "given":
				if d.Author.GivenName == "" {
					d.Author.GivenName = strings.TrimSpace(p.Text)
				}
			}
		}
	}
	if o := a.Assigned.Org; o != nil {
		d.Author.Organization = xOrgToOrganization(*o)
	}
	d.Custodian = xOrgToOrganization(x.Custodian.Org)

	if len(x.DocumentationOf) > 0 {
		se := x.DocumentationOf[0].ServiceEvent
		d.ServiceEvent = se.Code.code()
		if se.EffectiveTime != nil {
			if se.EffectiveTime.Low != nil {
				if d.ServiceStart, err = parseTS(se.EffectiveTime.Low.Value); err != nil {
					return Document{}, notN1("serviceEvent/effectiveTime/low : %v", err)
				}
			}
			if se.EffectiveTime.High != nil {
				if d.ServiceStop, err = parseTS(se.EffectiveTime.High.Value); err != nil {
					return Document{}, notN1("serviceEvent/effectiveTime/high : %v", err)
				}
			}
		}
		for _, p := range se.Performer {
			if o := p.Entity.Org; o != nil && o.Industry != nil {
				d.PracticeSetting = o.Industry.code()
				break
			}
		}
	}
	d.HealthcareFacilityType = x.ComponentOf.Facility.code()
	return d, nil
}

func xOrgToOrganization(o xOrg) Organization {
	name := ""
	if len(o.Names) > 0 {
		name = strings.TrimSpace(o.Names[0])
	}
	for _, id := range o.IDs {
		if id.Root == OIDStructIdNat {
			return organizationFromStructID(id.Root, id.Extension, name)
		}
	}
	return Organization{Name: name}
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}

// parseTS reads an HL7 TS: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]. Without an offset the
// time is read as UTC. An empty value is the zero time.
func parseTS(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	main, zone := v, ""
	if i := strings.IndexAny(v, "+-"); i >= 0 {
		main, zone = v[:i], v[i:]
	}
	if i := strings.IndexByte(main, '.'); i >= 0 {
		main = main[:i] // fractions of seconds are dropped
	}
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215",
		12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(main)]
	if !ok {
		return time.Time{}, fmt.Errorf("date HL7 %q", v)
	}
	if zone != "" {
		if len(zone) != 5 {
			return time.Time{}, fmt.Errorf("fuseau de la date HL7 %q", v)
		}
		return time.Parse(layout+"-0700", main+zone)
	}
	return time.Parse(layout, main)
}
