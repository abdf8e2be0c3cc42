package xdm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cdaCases are the documents every CDA test runs on: together they use every field, every
// INS OID and both structure identifiers.
func cdaCases(t testing.TB) []struct {
	name string
	doc  Document
} {
	full := sampleDocument(t)
	minimal := minimalDocument(t)

	demo := minimalDocument(t)
	demo.Patient.INSOID = OIDINSNIRDemo
	demo.Patient.Sex = "M"
	demo.Confidentiality = "R"

	nir := sampleDocument(t)
	nir.Patient.INSOID = OIDINSNIR
	nir.Patient.Sex = ""
	nir.Patient.BirthPlace = "2A004" // Ajaccio
	nir.Custodian = Organization{}   // the author's structure
	nir.ServiceStop = time.Time{}
	nir.ID = ID{Root: "5f3c2b1a-0d9e-4c8b-a7f6-e5d4c3b2a190"} // a UUID root, no extension
	nir.Confidentiality = "V"

	siret := minimalDocument(t)
	siret.Author.Organization = Organization{SIRET: "12345678900012", Name: "SELARL Médecins & Co"}
	siret.Author.GivenName = "Anne-Sophie"
	siret.Patient.GivenNames = "  Marie   Louise  Odile "
	siret.Title = "  Compte rendu\nde consultation  "
	siret.EffectiveTime = time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)

	return []struct {
		name string
		doc  Document
	}{
		{"every field", full},
		{"required fields only", minimal},
		{"demo INS, male, restricted", demo},
		{"INS-NIR, sex unknown, Corsica, UUID id", nir},
		{"SIRET structure, spaces to normalize", siret},
	}
}

func TestBuildCDAValidatesAgainstCDAExtended(t *testing.T) {
	schema := filepath.Join(sharedSchemas(t), "cda", "CDA_extended.xsd")
	for _, c := range cdaCases(t) {
		t.Run(c.name, func(t *testing.T) {
			b, err := BuildCDA(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			out, ok := xmllint(t, schema, writeTemp(t, "DOC0001.XML", b))
			if !ok {
				t.Fatalf("xmllint --noout --schema CDA_extended.xsd:\n%s", out)
			}
			if !strings.HasSuffix(out, "validates") {
				t.Errorf("xmllint output %q", out)
			}
		})
	}
}

// TestXmllintCatchesAnInvalidCDA proves the validation above is not vacuous: the same
// document with its title after its effectiveTime is refused.
func TestXmllintCatchesAnInvalidCDA(t *testing.T) {
	schema := filepath.Join(sharedSchemas(t), "cda", "CDA_extended.xsd")
	b := string(must(BuildCDA(sampleDocument(t))))
	title := "  <title>Lettre de liaison — sortie du 3 mars</title>\n"
	b = strings.Replace(b, title, "", 1)
	b = strings.Replace(b, "  <confidentialityCode", title+"  <confidentialityCode", 1)
	if out, ok := xmllint(t, schema, writeTemp(t, "bad.xml", []byte(b))); ok {
		t.Fatalf("xmllint accepted a misordered CDA:\n%s", out)
	}
}

func TestCDARoundTrip(t *testing.T) {
	for _, c := range cdaCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want := mustNormalized(t, c.doc)
			if again := mustNormalized(t, want); !reflect.DeepEqual(again, want) {
				t.Fatalf("normalized is not idempotent:\n%+v\n%+v", again, want)
			}
			b, err := BuildCDA(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCDA(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.PDF, c.doc.PDF) {
				t.Fatal("the PDF is not byte-identical")
			}
			if g, w := utc(got), utc(want); !reflect.DeepEqual(g, w) {
				g.PDF, w.PDF = nil, nil
				t.Errorf("round trip differs:\n got %+v\nwant %+v", g, w)
			}
		})
	}
}

func TestBuildCDADefaults(t *testing.T) {
	before := time.Now().Add(-time.Second)
	d, err := ParseCDA(must(BuildCDA(minimalDocument(t))))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"type", d.Type, DefaultType},
		{"confidentiality", d.Confidentiality, "N"},
		{"language", d.Language, "fr-FR"},
		{"version", d.Version, 1},
		{"INS OID", d.Patient.INSOID, OIDINSNIR},
		{"INS", d.Patient.INS, "148112901900703"},
		{"first given name", d.Patient.FirstGivenName, "Yann-Erwan"},
		{"custodian", d.Custodian, d.Author.Organization},
		{"facility", d.HealthcareFacilityType, DefaultHealthcareFacilityType},
		{"practice", d.PracticeSetting, DefaultPracticeSetting},
		{"service start", d.ServiceStart, d.EffectiveTime},
		{"service stop", d.ServiceStop, time.Time{}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !reOID.MatchString(d.ID.Root) || !strings.HasPrefix(d.ID.Root, "2.25.") || d.ID == d.SetID {
		t.Errorf("generated ids %v %v", d.ID, d.SetID)
	}
	if d.EffectiveTime.Before(before) || d.EffectiveTime.After(time.Now()) {
		t.Errorf("effective time %v is not now", d.EffectiveTime)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestBuildCDARejects(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Document)
		want   string
	}{
		{"no title", func(d *Document) { d.Title = " \n" }, "titre"},
		{"wrong INS key", func(d *Document) { d.Patient.INS = "256036912304546" }, "clé"},
		{"INS too short", func(d *Document) { d.Patient.INS = "25603691230454" }, "15 caractères"},
		{"unknown INS OID", func(d *Document) { d.Patient.INSOID = "1.2.3" }, "OID d'INS"},
		{"no family name", func(d *Document) { d.Patient.FamilyName = "" }, "nom et prénoms"},
		{"no given names", func(d *Document) { d.Patient.GivenNames = " " }, "nom et prénoms"},
		{"birth date format", func(d *Document) { d.Patient.BirthDate = "12/03/1956" }, "date de naissance"},
		{"impossible birth date", func(d *Document) { d.Patient.BirthDate = "1956-02-30" }, "date de naissance"},
		{"sex", func(d *Document) { d.Patient.Sex = "X" }, "sexe"},
		{"birth place", func(d *Document) { d.Patient.BirthPlace = "Lyon" }, "COG"},
		{"RPPS length", func(d *Document) { d.Author.RPPS = "1234" }, "RPPS"},
		{"RPPS letters", func(d *Document) { d.Author.RPPS = "1000123456A" }, "RPPS"},
		{"no author name", func(d *Document) { d.Author.FamilyName = "" }, "nom du professionnel"},
		{"no structure id", func(d *Document) { d.Author.Organization.FINESS = "" }, "FINESS ou SIRET"},
		{"bad FINESS", func(d *Document) { d.Author.Organization.FINESS = "12345" }, "FINESS"},
		{"bad SIRET", func(d *Document) { d.Custodian = Organization{SIRET: "123", Name: "X"} }, "SIRET"},
		{"no structure name", func(d *Document) { d.Author.Organization.Name = "" }, "nom requis"},
		{"confidentiality", func(d *Document) { d.Confidentiality = "X" }, "confidentialité"},
		{"language", func(d *Document) { d.Language = "french" }, "langue"},
		{"id not an OID", func(d *Document) { d.ID.Root = "doc-1" }, "ni un OID ni un UUID"},
		{"id extension with ^", func(d *Document) { d.ID.Extension = "a^b" }, "extension"},
		{"type without display", func(d *Document) { d.Type = Code{Code: "11488-4"} }, "libellé"},
		{"code with a space", func(d *Document) { d.PracticeSetting.Code = "A B" }, "cadre d'exercice"},
		{"code system not an OID", func(d *Document) { d.Author.Specialty.System = "RPPS" }, "système de codes"},
		{"display too long", func(d *Document) { d.Type.Display = strings.Repeat("é", 257) }, "trop long"},
		{"stop before start", func(d *Document) { d.ServiceStop = d.ServiceStart.Add(-time.Hour) }, "précède"},
		{"no PDF", func(d *Document) { d.PDF = nil }, "PDF est vide"},
		{"not a PDF", func(d *Document) { d.PDF = []byte("hello") }, "pas un PDF"},
		{"control character", func(d *Document) { d.Patient.FamilyName = "DU\x00PRÉ" }, "contrôle"},
		{"name too long", func(d *Document) { d.Author.Organization.Name = strings.Repeat("x", 121) }, "trop long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := sampleDocument(t)
			c.change(&d)
			_, err := BuildCDA(d)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseCDARejects(t *testing.T) {
	good := string(must(BuildCDA(sampleDocument(t))))
	body := good[strings.Index(good, "<component>"):strings.Index(good, "</component>")]
	for _, c := range []struct {
		name, doc string
	}{
		{"not XML", "%PDF-1.4"},
		{"other root", `<foo xmlns="urn:hl7-org:v3"/>`},
		{"CDA without namespace", strings.Replace(good, `xmlns="urn:hl7-org:v3"`, "", 1)},
		{"structured body", strings.Replace(good, body, "<component><structuredBody/>", 1)},
		{"no body", strings.Replace(good, body, "<component>", 1)},
		{"text/plain body", strings.Replace(good, `mediaType="application/pdf"`, `mediaType="text/plain"`, 1)},
		{"not base64", strings.Replace(good, `representation="B64"`, `representation="TXT"`, 1)},
		{"broken base64", strings.Replace(good, `representation="B64">`, `representation="B64">!!`, 1)},
		{"two patients", strings.Replace(good, "</recordTarget>", "</recordTarget><recordTarget/>", 1)},
		{"no author", good[:strings.Index(good, "<author>")] + good[strings.Index(good, "</author>")+len("</author>"):]},
		{"bad effective time", strings.Replace(good, `<effectiveTime value="20240304103000+0100"/>`, `<effectiveTime value="2024-03-04"/>`, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseCDA([]byte(c.doc)); !errors.Is(err, ErrNotN1) {
				t.Fatalf("err = %v, want ErrNotN1", err)
			}
		})
	}
}

// TestParseCDAReadsTheANSExample reads a document this package did not write: the ANS N1
// example, with its IPP next to the INS, its guardian, participants and addresses.
func TestParseCDAReadsTheANSExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sharedSchemas(t), "examples", "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
	if err != nil {
		t.Skip(err)
	}
	d, err := ParseCDA(b)
	if err != nil {
		t.Fatal(err)
	}
	p := d.Patient
	if p.INS != "279035121518989" || p.INSOID != OIDINSNIRTest || p.FamilyName != "PAT-TROIS" ||
		p.GivenNames != "DOMINIQUE MARIE-LOUISE" || p.FirstGivenName != "DOMINIQUE" ||
		p.UsedFamilyName != "PAT-TROIS" || p.UsedGivenName != "DOMINIQUE" ||
		p.BirthDate != "1979-03-28" || p.Sex != "F" || p.BirthPlace != "51215" {
		t.Errorf("patient %+v", p)
	}
	a := d.Author
	if a.RPPS != "01234534765" || a.FamilyName != "CAMPARINI" || a.GivenName != "Marcel" ||
		a.Specialty.Code != "G15_10/SM03" || a.Organization.FINESS != "120459876" {
		t.Errorf("author %+v", a)
	}
	if d.Type.Code != "11502-2" || d.HealthcareFacilityType.Code != "SA07" || d.PracticeSetting.Code != "AMBULATOIRE" ||
		d.ServiceEvent.Code != "18723-7" || d.ServiceStart.IsZero() || d.ServiceStop.IsZero() {
		t.Errorf("codes %v %v %v %v, service %v–%v", d.Type, d.HealthcareFacilityType, d.PracticeSetting,
			d.ServiceEvent, d.ServiceStart, d.ServiceStop)
	}
	if !bytes.HasPrefix(d.PDF, []byte("%PDF-")) {
		t.Errorf("PDF starts with %q", d.PDF[:min(8, len(d.PDF))])
	}
}

func TestParseTS(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20240304103000+0100", time.Date(2024, 3, 4, 9, 30, 0, 0, time.UTC), true},
		{"20240304103000.123-0500", time.Date(2024, 3, 4, 15, 30, 0, 0, time.UTC), true},
		{"202403041030", time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC), true},
		{"20240304", time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC), true},
		{"2024", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"", time.Time{}, true},
		{"2024030", time.Time{}, false},
		{"20240304103000+01", time.Time{}, false},
		{"20241304", time.Time{}, false},
	} {
		got, err := parseTS(c.in)
		if (err == nil) != c.ok || (c.ok && !got.Equal(c.want)) {
			t.Errorf("parseTS(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestCDABodyIsTheExactPDFInBase64(t *testing.T) {
	d := sampleDocument(t)
	b := string(must(BuildCDA(d)))
	want := `<text mediaType="application/pdf" representation="B64">` + base64.StdEncoding.EncodeToString(d.PDF) + `</text>`
	if !strings.Contains(b, want) {
		t.Error("nonXMLBody/text is not the PDF in base64")
	}
}
