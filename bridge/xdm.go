package bridge

import (
	"io"
	"time"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/xdm"
)

// xdmPackage is the IHE XDM package of a job when the MSSanté convention applies: the patient's
// INS is known and valid, the box names its responsible professional and structure, and
// neither the box nor the rule opted out. It returns nil and why when it does not apply; the
// PDF then travels alone, which every receiver can read. The package reads the PDF from pdf
// when it is written.
func xdmPackage(box config.Box, rule *config.Rule, dec routing.Decision, res reading.Result, pdf io.ReaderAt, size int64, now time.Time) (*xdm.Package, string) {
	switch {
	case box.XDM == "never":
		return nil, "box opted out"
	case rule != nil && rule.XDM != nil && !*rule.XDM:
		return nil, "rule opted out"
	case res.Patient.INS == "" || !res.Patient.INSKeyValid:
		return nil, "no valid INS"
	case box.Responsible == nil || box.Structure == nil:
		return nil, "box has no responsible/structure"
	}
	org := xdm.Organization{FINESS: box.Structure.FINESS, SIRET: box.Structure.SIRET, Name: box.Structure.Name}
	doc := xdm.Document{
		Title:         firstNonEmpty(dec.Title, res.Document.Title, "Document médical"),
		EffectiveTime: now,
		Patient: xdm.Patient{
			INS: res.Patient.INS, INSOID: insOID(box.INSOID), FamilyName: res.Patient.FamilyName,
			GivenNames: res.Patient.GivenNames, BirthDate: res.Patient.BirthDate, Sex: res.Patient.Sex,
			BirthPlace: res.Patient.BirthPlace,
		},
		Author:  xdm.Author{RPPS: box.Responsible.RPPS, FamilyName: box.Responsible.FamilyName, GivenName: box.Responsible.GivenName, Organization: org},
		PDFFile: pdf,
		PDFSize: size,
	}
	if rule != nil && rule.DocumentType != "" {
		doc.Type = xdm.Code{Code: rule.DocumentType, System: xdm.SystemLOINC}
	}
	pkg := xdm.Package{Document: doc, SubmissionTime: now}
	for _, a := range append(append([]string{}, dec.To...), dec.Cc...) {
		pkg.Recipients = append(pkg.Recipients, xdm.Recipient{Address: a})
	}
	return &pkg, ""
}

func insOID(kind string) string {
	switch kind {
	case "test":
		return xdm.OIDINSNIRTest
	case "demo":
		return xdm.OIDINSNIRDemo
	default:
		return xdm.OIDINSNIR
	}
}

// ParseXDM reads a received IHE XDM package into what the import sidecar needs.
func ParseXDM(zip []byte) (*inbound.PackageMeta, error) {
	p, err := xdm.ParseXDM(zip)
	if err != nil {
		return nil, err
	}
	d := p.Document
	meta := &inbound.PackageMeta{
		Patient: inbound.Patient{INS: d.Patient.INS, INSKeyValid: d.Patient.INS != "", FamilyName: d.Patient.FamilyName,
			GivenNames: d.Patient.GivenNames, BirthDate: d.Patient.BirthDate, Sex: d.Patient.Sex},
		Document: inbound.DocumentMeta{Title: d.Title, TypeCode: d.Type.Code, TypeDisplay: d.Type.Display, UniqueID: d.ID.Root},
		Author:   d.Author.FamilyName,
	}
	if d.ID.Extension != "" {
		meta.Document.UniqueID += "^" + d.ID.Extension
	}
	if !d.EffectiveTime.IsZero() {
		meta.Document.Date = d.EffectiveTime.Format("2006-01-02")
	}
	if len(d.PDF) > 0 {
		meta.Documents = []inbound.Attachment{{Filename: "document.pdf", ContentType: "application/pdf", Data: d.PDF}}
	}
	return meta, nil
}
