package xdm

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func packageCases(t testing.TB) []struct {
	name string
	pkg  Package
} {
	full := Package{
		Document: sampleDocument(t),
		Recipients: []Recipient{
			{Address: "paul.mercier@medecin.mssante.fr", RPPS: "10001234567", FamilyName: "MERCIER", GivenName: "Paul"},
			{Address: "secretariat.cardio@ch-test.mssante.fr", Organization: "CH de Test | Cardio ^ Pôle 2 & 3"},
			{Address: "256036912304545@patient.mssante.fr"},
			{Address: "o'brien@pharmacie.mssante.fr", FamilyName: `O\Brien~`, GivenName: "Seán"},
		},
		SourceID:        "1.2.250.1.999.7",
		SubmissionSetID: "1.2.250.1.999.7.1.42",
		SubmissionTime:  time.Date(2024, 3, 4, 11, 0, 5, 0, paris),
		ContentType:     Code{Code: "SA05", System: SystemSecteurActivite, Display: "Centre de santé"},
		ClassCode:       Code{Code: "11", System: SystemClasseDocument, Display: "Synthèse"},
	}
	minimal := Package{
		Document:   minimalDocument(t),
		Recipients: []Recipient{{Address: "yann.le-goff@medecin.mssante.fr"}},
	}
	return []struct {
		name string
		pkg  Package
	}{
		{"every field", full},
		{"defaults", minimal},
	}
}

func unzip(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestXDMRoundTrip(t *testing.T) {
	for _, c := range packageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.pkg.normalized()
			if err != nil {
				t.Fatal(err)
			}
			b, err := BuildXDM(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseXDM(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Document.PDF, c.pkg.Document.PDF) {
				t.Fatal("the PDF is not byte-identical")
			}
			if g, w := utcPackage(got), utcPackage(want); !reflect.DeepEqual(g, w) {
				g.Document.PDF, w.Document.PDF = nil, nil
				t.Errorf("round trip differs:\n got %+v\nwant %+v", g, w)
			}
		})
	}
}

func TestXDMDefaults(t *testing.T) {
	got, err := ParseXDM(must(BuildXDM(packageCases(t)[1].pkg)))
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceID != DefaultSourceID || got.ContentType != DefaultContentType || got.ClassCode != DefaultClass ||
		!strings.HasPrefix(got.SubmissionSetID, "2.25.") || time.Since(got.SubmissionTime) > time.Minute {
		t.Errorf("defaults %q %v %v %q %v", got.SourceID, got.ContentType, got.ClassCode, got.SubmissionSetID, got.SubmissionTime)
	}
}

func TestXDMLayout(t *testing.T) {
	p := packageCases(t)[0].pkg
	b := must(BuildXDM(p))
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.XML"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	files := unzip(t, b)
	cda := files["IHE_XDM/SUBSET01/DOC0001.XML"]
	meta := string(files["IHE_XDM/SUBSET01/METADATA.XML"])
	for _, s := range []string{
		"<rim:Value>" + sha1Hex(cda) + "</rim:Value>",
		"<rim:Value>" + strconv.Itoa(len(cda)) + "</rim:Value>",
		"<rim:Value>DOC0001.XML</rim:Value>",
	} {
		if !strings.Contains(meta, s) {
			t.Errorf("METADATA.XML lacks %s", s)
		}
	}
	d, err := ParseCDA(cda)
	if err != nil || !bytes.Equal(d.PDF, p.Document.PDF) {
		t.Fatalf("DOC0001.XML does not wrap the PDF: %v", err)
	}
	index, readme := string(files["INDEX.HTM"]), string(files["README.TXT"])
	for _, link := range []string{`href="IHE_XDM/SUBSET01/DOC0001.XML"`, `href="IHE_XDM/SUBSET01/METADATA.XML"`, `href="README.TXT"`} {
		if !strings.Contains(index, link) {
			t.Errorf("INDEX.HTM lacks %s", link)
		}
	}
	if !strings.Contains(index, "Cabinet du Dr Mercier &amp; associés") || !strings.Contains(readme, "mssbridge") ||
		!strings.Contains(readme, "1690000001") {
		t.Errorf("INDEX.HTM / README.TXT do not name the sender:\n%s\n%s", index, readme)
	}
	for _, f := range []string{index, readme} {
		if strings.Contains(f, "DUPRÉ") || strings.Contains(f, p.Document.Patient.INS) {
			t.Error("INDEX.HTM or README.TXT names the patient")
		}
	}
}

// metadataParts writes METADATA.XML, and its RegistryObjectList alone, to files.
func metadataParts(t *testing.T, p Package) (whole, list string) {
	meta := string(unzip(t, must(BuildXDM(p)))["IHE_XDM/SUBSET01/METADATA.XML"])
	i := strings.Index(meta, "<rim:RegistryObjectList>")
	j := strings.Index(meta, "</rim:RegistryObjectList>") + len("</rim:RegistryObjectList>")
	rol := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		strings.Replace(meta[i:j], "<rim:RegistryObjectList>", `<rim:RegistryObjectList xmlns:rim="`+nsRIM+`">`, 1)
	return writeTemp(t, "METADATA.XML", []byte(meta)), writeTemp(t, "RegistryObjectList.xml", []byte(rol))
}

// lcmSchema writes the driver schema of testdata/ with the shared ebRS directory put in.
func lcmSchema(t *testing.T, ebrs string) string {
	in, err := os.ReadFile("testdata/lcm-SubmitObjectsRequest.xsd.in")
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "lcm.xsd", bytes.ReplaceAll(in, []byte("@EBRS@"), []byte(filepath.ToSlash(ebrs))))
}

// TestMetadataValidatesAgainstEbRS validates METADATA.XML against the ebRIM 3.0 schemas of
// ../shared/schemas/ebrs. That set lacks lcm.xsd (lcm:SubmitObjectsRequest), so the whole
// request is validated with testdata/lcm-SubmitObjectsRequest.xsd.in, which imports the
// shared rs.xsd and rim.xsd, and its rim:RegistryObjectList alone against rim.xsd unchanged.
func TestMetadataValidatesAgainstEbRS(t *testing.T) {
	ebrs := filepath.Join(sharedSchemas(t), "ebrs", "ebRS")
	rim := filepath.Join(ebrs, "rim.xsd")
	if _, err := os.Stat(rim); err != nil {
		t.Skip(err)
	}
	lcm := lcmSchema(t, ebrs)
	for _, c := range packageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			whole, list := metadataParts(t, c.pkg)
			if out, ok := xmllint(t, lcm, whole); !ok {
				t.Errorf("SubmitObjectsRequest:\n%s", out)
			}
			if out, ok := xmllint(t, rim, list); !ok {
				t.Errorf("RegistryObjectList against rim.xsd:\n%s", out)
			}
		})
	}
	t.Run("the shared set alone has no SubmitObjectsRequest", func(t *testing.T) {
		whole, _ := metadataParts(t, packageCases(t)[1].pkg)
		out, ok := xmllint(t, filepath.Join(ebrs, "rs.xsd"), whole)
		if ok || !strings.Contains(out, "No matching global declaration") {
			t.Errorf("rs.xsd: %v\n%s", ok, out)
		}
	})
	t.Run("a misordered RegistryPackage is refused", func(t *testing.T) {
		whole, _ := metadataParts(t, packageCases(t)[1].pkg)
		b, _ := os.ReadFile(whole)
		s := string(b)
		i := strings.Index(s, "      <rim:Name>")
		j := strings.Index(s[i:], "</rim:Name>\n") + i + len("</rim:Name>\n")
		name := s[i:j]
		s = s[:i] + s[j:]
		s = strings.Replace(s, "<rim:RegistryPackage ", "<rim:RegistryPackage ", 1)
		k := strings.Index(s, `      <rim:Slot name="submissionTime">`)
		s = s[:k] + name + s[k:]
		if out, ok := xmllint(t, lcm, writeTemp(t, "bad.xml", []byte(s))); ok {
			t.Errorf("accepted a Name before the Slots:\n%s", out)
		}
	})
}

// TestMetadataUsesTheXDSIdentifiers reads METADATA.XML back and checks every scheme of
// IHE ITI TF-3 Table 4.2.5-1 that a document entry and a submission set need.
func TestMetadataUsesTheXDSIdentifiers(t *testing.T) {
	p := packageCases(t)[0].pkg
	meta := unzip(t, must(BuildXDM(p)))["IHE_XDM/SUBSET01/METADATA.XML"]
	m, err := parseMetadata(meta)
	if err != nil {
		t.Fatal(err)
	}
	var x xSubmitObjectsRequest
	if err := xml.Unmarshal(meta, &x); err != nil {
		t.Fatal(err)
	}
	ss, de := &x.List.Packages[0], &x.List.Extrinsics[0]
	if de.ObjectType != uuidDocumentEntry || de.MimeType != "text/xml" {
		t.Errorf("ExtrinsicObject objectType %q mimeType %q", de.ObjectType, de.MimeType)
	}
	if len(x.List.Classifications) != 1 || x.List.Classifications[0].ClassificationNode != uuidSubmissionSet ||
		x.List.Classifications[0].ClassifiedObject != ss.ID {
		t.Errorf("submission set classification %+v", x.List.Classifications)
	}
	if a := x.List.Associations; len(a) != 1 || a[0].AssociationType != associationHasMember ||
		a[0].SourceObject != ss.ID || a[0].TargetObject != de.ID || a[0].slot1("SubmissionSetStatus") != "Original" {
		t.Errorf("association %+v", a)
	}
	d := mustNormalized(t, p.Document)
	pid := "256036912304545^^^&1.2.250.1.213.1.4.10&ISO^NH"
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"classCode", de.code(uuidDocumentEntryClassCode), p.ClassCode},
		{"typeCode", de.code(uuidDocumentEntryTypeCode), d.Type},
		{"formatCode", de.code(uuidDocumentEntryFormatCode), FormatCodePDF},
		{"confidentialityCode", de.code(uuidDocumentEntryConfidential), Code{"N", SystemConfidentiality, "Normal"}},
		{"healthcareFacilityTypeCode", de.code(uuidDocumentEntryFacilityType), d.HealthcareFacilityType},
		{"practiceSettingCode", de.code(uuidDocumentEntryPractice), d.PracticeSetting},
		{"eventCodeList", de.code(uuidDocumentEntryEventCode), d.ServiceEvent},
		{"contentTypeCode", ss.code(uuidSubmissionSetContentType), p.ContentType},
		{"patientId (entry)", de.externalID(uuidDocumentEntryPatientID), pid},
		{"patientId (set)", ss.externalID(uuidSubmissionSetPatientID), pid},
		{"uniqueId (entry)", de.externalID(uuidDocumentEntryUniqueID), "1.2.250.1.999.1.2.3^JOB-0042"},
		{"uniqueId (set)", ss.externalID(uuidSubmissionSetUniqueID), p.SubmissionSetID},
		{"sourceId", ss.externalID(uuidSubmissionSetSourceID), p.SourceID},
		{"creationTime", de.slot1("creationTime"), "20240304093000"},
		{"serviceStartTime", de.slot1("serviceStartTime"), "20240301070000"},
		{"serviceStopTime", de.slot1("serviceStopTime"), "20240303160000"},
		{"submissionTime", ss.slot1("submissionTime"), "20240304100005"},
		{"languageCode", de.slot1("languageCode"), "fr-FR"},
		{"sourcePatientId", de.slot1("sourcePatientId"), pid},
		{"sourcePatientInfo", de.slot("sourcePatientInfo"), []string{
			"PID-3|" + pid, "PID-5|DUPRÉ^Jeanne^Jeanne Marie^^^^L", "PID-5|MARTIN^Jeanne^^^^^D",
			"PID-7|19560312", "PID-8|F", "PID-11|^^^^^^BDL^^69123"}},
		{"legalAuthenticator", de.slot1("legalAuthenticator"), "810001234567^MERCIER^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"},
		{"URI", de.slot1("URI"), "DOC0001.XML"},
		{"title", de.Name[0].Value, d.Title},
		{"hash, size", m.entry.hash != "" && m.entry.size > 0, true},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, o := range []*xRegistryObject{ss, de} {
		scheme := uuidDocumentEntryAuthor
		if o == ss {
			scheme = uuidSubmissionSetAuthor
		}
		a := o.classification(scheme)
		if a == nil {
			t.Fatalf("no author classification on %s", o.ID)
		}
		for slot, want := range map[string]string{
			"authorPerson":      "810001234567^MERCIER^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
			"authorInstitution": `Cabinet du Dr Mercier \T\ associés^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1690000001`,
			"authorRole":        "PCP^Médecin traitant^2.16.840.1.113883.5.88",
			"authorSpecialty":   "G15_10/SM54^Médecin - Qualifié en Médecine Générale (SM)^1.2.250.1.213.1.1.4.5",
		} {
			if got := a.slot1(slot); got != want {
				t.Errorf("%s = %q, want %q", slot, got, want)
			}
		}
	}
	wantRecipients := []string{
		"|810001234567^MERCIER^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS|^^Internet^paul.mercier@medecin.mssante.fr",
		`CH de Test \F\ Cardio \S\ Pôle 2 \T\ 3||^^Internet^secretariat.cardio@ch-test.mssante.fr`,
		"||^^Internet^256036912304545@patient.mssante.fr",
		`|^O\E\Brien\R\^Seán^^^^^^^D|^^Internet^o'brien@pharmacie.mssante.fr`,
	}
	if got := ss.slot("intendedRecipient"); !reflect.DeepEqual(got, wantRecipients) {
		t.Errorf("intendedRecipient\n got %q\nwant %q", got, wantRecipients)
	}
}

// zipEntry is one entry of a hand-made archive; raw entries are written with the sizes
// they declare, whatever their content.
type zipEntry struct {
	name     string
	data     []byte
	mode     fs.FileMode
	raw      bool
	declared uint64
	crc      uint32 // raw entries: a wrong CRC-32 when not zero
}

func makeZip(t testing.TB, entries []zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		if e.raw {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestCompression)
			fw.Write(e.data)
			fw.Close()
			h.CRC32 = crc32.ChecksumIEEE(e.data)
			if e.crc != 0 {
				h.CRC32 = e.crc
			}
			h.CompressedSize64 = uint64(c.Len())
			h.UncompressedSize64 = e.declared
			w, err := zw.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(c.Bytes())
			continue
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	validOnce  sync.Once
	validCache map[string][]byte
)

// validEntries are the entries of one good package (built once: its ids are random), to
// which a test adds or changes one.
func validEntries(t testing.TB) []zipEntry {
	validOnce.Do(func() { validCache = unzip(t, must(BuildXDM(packageCases(t)[1].pkg))) })
	var es []zipEntry
	for _, n := range []string{"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.XML"} {
		es = append(es, zipEntry{name: n, data: validCache[n]})
	}
	return es
}

func with(t testing.TB, extra ...zipEntry) []zipEntry { return append(validEntries(t), extra...) }

func replacing(t testing.TB, name string, e zipEntry) []zipEntry {
	es := validEntries(t)
	for i := range es {
		if es[i].name == name {
			e.name = name
			es[i] = e
		}
	}
	return es
}

func TestParseXDMRefusesHostileArchives(t *testing.T) {
	small := []byte("x")
	many := validEntries(t)
	for i := 0; i <= MaxEntries; i++ {
		many = append(many, zipEntry{name: "junk/" + strconv.Itoa(i), data: small})
	}
	cda := validEntries(t)[3].data
	for _, c := range []struct {
		name    string
		entries []zipEntry
		want    string
	}{
		{"parent directory", with(t, zipEntry{name: "../../etc/cron.d/x", data: small}), ".."},
		{"parent inside", with(t, zipEntry{name: "IHE_XDM/../../x", data: small}), ".."},
		{"absolute path", with(t, zipEntry{name: "/etc/passwd", data: small}), "absolu"},
		{"drive letter", with(t, zipEntry{name: "C:/Windows/x.dll", data: small}), "absolu"},
		{"backslash", with(t, zipEntry{name: `IHE_XDM\..\x`, data: small}), "barre oblique inverse"},
		{"dot element", with(t, zipEntry{name: "./INDEX2.HTM", data: small}), "mal formé"},
		{"empty element", with(t, zipEntry{name: "IHE_XDM//x", data: small}), "mal formé"},
		{"control character", with(t, zipEntry{name: "x\x00.txt", data: small}), "contrôle"},
		{"duplicate", with(t, zipEntry{name: "ihe_xdm/subset01/doc0001.xml", data: small}), "deux fois"},
		{"symbolic link", with(t, zipEntry{name: "link", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}), "fichier ordinaire"},
		{"too many entries", many, "entrées (au plus 1000)"},
		{"declared entry size", with(t, zipEntry{name: "big.bin", data: small, raw: true, declared: MaxEntrySize + 1}), "annonce"},
		{"declared total size", with(t,
			zipEntry{name: "a.bin", data: small, raw: true, declared: 40 << 20},
			zipEntry{name: "b.bin", data: small, raw: true, declared: 40 << 20},
			zipEntry{name: "c.bin", data: small, raw: true, declared: 40 << 20}), "annoncent plus de"},
		{"actual size beyond the declared one (bomb)", replacing(t, "IHE_XDM/SUBSET01/DOC0001.XML",
			zipEntry{data: append(cda, make([]byte, MaxEntrySize+1)...), raw: true, declared: uint64(len(cda))}), "dépasse la taille annoncée"},
		{"corrupted entry", replacing(t, "IHE_XDM/SUBSET01/DOC0001.XML",
			zipEntry{data: cda, raw: true, declared: uint64(len(cda)), crc: 1}), "somme de contrôle"},
		{"metadata beyond its limit", replacing(t, "IHE_XDM/SUBSET01/METADATA.XML",
			zipEntry{data: make([]byte, maxMetadataSize+1)}), "dépasse"},
		{"not a zip", nil, "pas une archive ZIP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			if c.entries == nil {
				b = []byte("%PDF-1.4 not a zip")
			} else {
				b = makeZip(t, c.entries)
			}
			_, err := ParseXDM(b)
			if !errors.Is(err, ErrUnsafeZip) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrUnsafeZip mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseXDMRefusesInconsistentPackages(t *testing.T) {
	entries := validEntries(t)
	meta, cda := string(entries[2].data), string(entries[3].data)
	other := string(unzip(t, must(BuildXDM(packageCases(t)[0].pkg)))["IHE_XDM/SUBSET01/DOC0001.XML"])
	set := func(name, data string) []zipEntry {
		return replacing(t, name, zipEntry{data: []byte(data)})
	}
	metaWith := func(from, to string) []zipEntry {
		if !strings.Contains(meta, from) {
			t.Fatalf("%q not in METADATA.XML", from)
		}
		return set("IHE_XDM/SUBSET01/METADATA.XML", strings.Replace(meta, from, to, 1))
	}
	hash := sha1Hex([]byte(cda))
	for _, c := range []struct {
		name    string
		entries []zipEntry
		want    error
		detail  string
	}{
		{"no metadata", validEntries(t)[:2], ErrMetadata, "METADATA.XML"},
		{"document missing", validEntries(t)[:3], ErrMetadata, "absent"},
		{"another document", set("IHE_XDM/SUBSET01/DOC0001.XML", other), ErrMetadata, "taille"},
		{"hash mismatch", metaWith(hash, strings.Repeat("0", 40)), ErrMetadata, "SHA-1"},
		{"size mismatch", metaWith("<rim:Value>"+strconv.Itoa(len(cda))+"<", "<rim:Value>"+strconv.Itoa(len(cda)+1)+"<"), ErrMetadata, "taille"},
		{"patient of the entry", metaWith("^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH\" id", "^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH\" id"), ErrMetadata, "patient"},
		{"URI outside the subset", metaWith("<rim:Value>DOC0001.XML</rim:Value>", "<rim:Value>../../DOC0001.XML</rim:Value>"), ErrMetadata, "URI"},
		{"no association", metaWith("AssociationType:HasMember", "AssociationType:Replaces"), ErrMetadata, "HasMember"},
		{"no submission set", metaWith(uuidSubmissionSet, "urn:uuid:00000000-0000-4000-8000-000000000000"), ErrMetadata, "lot de soumission"},
		{"PDF entry, not a CDA", metaWith(`mimeType="text/xml"`, `mimeType="application/pdf"`), ErrUnsupported, "text/xml"},
		{"two subsets", with(t, zipEntry{name: "IHE_XDM/SUBSET02/METADATA.XML", data: []byte(meta)}), ErrUnsupported, "SUBSET"},
		{"metadata not XML", set("IHE_XDM/SUBSET01/METADATA.XML", "{}"), ErrMetadata, ""},
		{"metadata with entities", set("IHE_XDM/SUBSET01/METADATA.XML", `<?xml version="1.0"?>
<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0">&b;</lcm:SubmitObjectsRequest>`), ErrMetadata, "entity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseXDM(makeZip(t, c.entries))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.detail)
			}
		})
	}
}

// TestParseXDMChecksTheCDAAgainstTheMetadata changes the CDA and its hash and size together,
// so that only the cross-checks with the CDA can see it.
func TestParseXDMChecksTheCDAAgainstTheMetadata(t *testing.T) {
	entries := validEntries(t)
	meta, cda := string(entries[2].data), string(entries[3].data)
	for _, c := range []struct {
		name, from, to, detail string
	}{
		{"patient", `extension="148112901900703"`, `extension="256036912304545"`, "patient"},
		{"document id", `<id root="2.25.`, `<id extension="X" root="2.25.`, "uniqueId"},
		{"document type", `code="11488-4"`, `code="11490-0"`, "typeCode"},
		{"not a CDA", cda, "<x/>", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(cda, c.from, c.to, 1)
			if bad == cda {
				t.Fatalf("%q not in the CDA", c.from)
			}
			m := strings.Replace(meta, sha1Hex([]byte(cda)), sha1Hex([]byte(bad)), 1)
			m = strings.Replace(m, "<rim:Value>"+strconv.Itoa(len(cda))+"<", "<rim:Value>"+strconv.Itoa(len(bad))+"<", 1)
			es := validEntries(t)
			es[2].data, es[3].data = []byte(m), []byte(bad)
			_, err := ParseXDM(makeZip(t, es))
			want := ErrMetadata
			if c.detail == "" {
				want = ErrNotN1
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("err = %v, want %v mentioning %q", err, want, c.detail)
			}
		})
	}
}

func TestParseXDMAcceptsLowerCaseNamesAndDirectories(t *testing.T) {
	es := validEntries(t)
	for i := range es {
		es[i].name = strings.ToLower(es[i].name)
	}
	es = append([]zipEntry{{name: "ihe_xdm/", mode: fs.ModeDir | 0o755}, {name: "ihe_xdm/subset01/", mode: fs.ModeDir | 0o755}}, es...)
	// The URI slot still says DOC0001.XML: the lookup is case-insensitive, as on the media.
	if _, err := ParseXDM(makeZip(t, es)); err != nil {
		t.Fatal(err)
	}
}

func TestBuildXDMRejects(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Package)
		want   string
	}{
		{"no recipient", func(p *Package) { p.Recipients = nil }, "aucun destinataire"},
		{"recipient without address", func(p *Package) { p.Recipients[0].Address = "" }, "adresse"},
		{"recipient RPPS", func(p *Package) { p.Recipients[0].RPPS = "12" }, "RPPS de destinataire"},
		{"sourceId", func(p *Package) { p.SourceID = "mssbridge" }, "sourceId"},
		{"submission set id", func(p *Package) { p.SubmissionSetID = "urn:uuid:x" }, "lot de soumission"},
		{"class code", func(p *Package) { p.ClassCode = Code{Code: "10"} }, "classCode"},
		{"slot value too long once escaped", func(p *Package) {
			p.Recipients[0].Organization = strings.Repeat("^", 80)
			p.Recipients[0].FamilyName = strings.Repeat("&", 80)
		}, "256 caractères"},
		{"document", func(p *Package) { p.Document.Title = "" }, "titre"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := packageCases(t)[0].pkg
			p.Recipients = append([]Recipient(nil), p.Recipients...)
			c.change(&p)
			_, err := BuildXDM(p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

// A package written from the PDF's file is the package built from its bytes, byte for byte,
// and a file that fails while it is read fails the build instead of giving a short package.
func TestBuildXDMToFromFile(t *testing.T) {
	for _, c := range packageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.pkg.normalized() // IDs fixed once, for both builds
			if err != nil {
				t.Fatal(err)
			}
			want, err := BuildXDM(p)
			if err != nil {
				t.Fatal(err)
			}
			fromFile := p
			pdf := p.Document.PDF
			fromFile.Document.PDF, fromFile.Document.PDFFile, fromFile.Document.PDFSize = nil, bytes.NewReader(pdf), int64(len(pdf))
			var got bytes.Buffer
			if err := BuildXDMTo(&got, fromFile); err != nil {
				t.Fatal(err)
			}
			// Entry identifiers (urn:uuid) are drawn anew at each build: the CDA must be the same.
			cda := subsetDir + "/" + documentName
			if g, w := unzip(t, got.Bytes())[cda], unzip(t, want)[cda]; !bytes.Equal(g, w) || len(g) == 0 {
				t.Fatalf("CDA from the file (%d bytes) differs from the CDA from memory (%d bytes)", len(g), len(w))
			}
			parsed, err := ParseXDM(got.Bytes())
			if err != nil || !bytes.Equal(parsed.Document.PDF, pdf) {
				t.Fatalf("ParseXDM: %v (PDF identical: %v)", err, err == nil && bytes.Equal(parsed.Document.PDF, pdf))
			}

			broken := fromFile
			broken.Document.PDFFile = failingReaderAt{data: pdf, failAt: int64(len(pdf) / 2)}
			if err := BuildXDMTo(io.Discard, broken); err == nil {
				t.Fatal("a PDF file failing halfway gave no error")
			}
		})
	}
}

type failingReaderAt struct {
	data   []byte
	failAt int64
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt {
		return 0, errors.New("disk read error")
	}
	return copy(p, f.data[off:]), nil
}
