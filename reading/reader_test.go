package reading

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/pdf"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// fakeTrust: mssante.fr and its subdomains, as the trust package does without a whitelist.
type fakeTrust struct{}

func (fakeTrust) Contains(address string) bool {
	_, domain, ok := strings.Cut(address, "@")
	domain = strings.ToLower(domain)
	return ok && (domain == "mssante.fr" || strings.HasSuffix(domain, ".mssante.fr"))
}

var testExtractor *pdf.Extractor

func TestMain(m *testing.M) {
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{
		CacheDir: filepath.Join(os.TempDir(), "mssbridge-test-pdfium-cache"),
		Workers:  2,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "NewExtractor:", err)
		os.Exit(1)
	}
	testExtractor = ex
	code := m.Run()
	ex.Close()
	os.Exit(code)
}

func newTestReader() *Reader {
	r := NewReader(testExtractor, fakeTrust{})
	r.now = func() time.Time { return testNow }
	return r
}

const (
	insDupont = "256037512345654"
	insGirard = "272096912304536"
)

type wantRecipient struct {
	address string
	role    Role
	source  Source
	trusted bool
}

func TestReadTagged(t *testing.T) {
	tests := []struct {
		file       string
		sidecar    bool
		decision   Decision
		reasons    []string // prefixes, in order
		recipients []wantRecipient
		patient    Patient
		document   Document
		pages      int
	}{
		{file: "white-tags.pdf", decision: DecisionSend,
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"},
			document:   Document{Title: "Compte rendu de consultation de cardiologie"}},
		{file: "tag-beside-date.pdf", decision: DecisionSend,
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "page2-tags.pdf", decision: DecisionSend, pages: 2,
			recipients: []wantRecipient{
				{"claire.benoit@medecin.mssante.fr", RoleTo, SourceTag, true},
				{"secretariat.neuro@chu-exemple.mssante.fr", RoleCc, SourceTag, true}},
			// The INS from the tag, the rest from the letter's patient line.
			patient: Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "lowercase-spaces.pdf", decision: DecisionSend,
			recipients: []wantRecipient{
				{"claire.benoit@medecin.mssante.fr", RoleTo, SourceTag, true},
				{"Secretariat.Neuro@chu-exemple.mssante.fr", RoleTo, SourceTag, true}},
			patient:  Patient{FamilyName: "ARNAUD", GivenNames: "Théo", BirthDate: "2015-06-30", Sex: "M"}, // « né le »
			document: Document{Box: "biologie"}},
		{file: "one-line-two-tags.pdf", decision: DecisionSend,
			recipients: []wantRecipient{
				{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true},
				{"claire.benoit@medecin.mssante.fr", RoleCc, SourceTag, true}},
			patient: Patient{FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}}, // « Mme »
		{file: "groff-letter.pdf", decision: DecisionSend,
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"},
			document:   Document{Title: "Compte rendu de consultation"}},
		{file: "bad-address.pdf", decision: DecisionHold,
			reasons: []string{"Balise #MSS-TO illisible : adresse « x@ » invalide", "Aucun destinataire trouvé"},
			patient: Patient{FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "bad-ins.pdf", decision: DecisionHold,
			// The letter printed under the tags is about Mme DUPONT: that too holds it.
			reasons: []string{"Balise #MSS-INS illisible : la clé de l'INS « 139082A00408872 » ne correspond pas",
				"Les sources ne désignent pas le même patient : né(e) le 1939-08-17 (balise) et le 1956-03-12 (texte du courrier)",
				"Les sources ne désignent pas le même patient : FAURE (balise) et DUPONT (texte du courrier)"},
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{FamilyName: "FAURE", GivenNames: "Bernard", BirthDate: "1939-08-17", Sex: "F"}},
		{file: "bad-date.pdf", decision: DecisionHold,
			// Held for the malformed tag; the patient shown is the letter's.
			reasons:    []string{"Balise #MSS-PATIENT illisible : date « 1985-02-30 » impossible"},
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "unknown-tag.pdf", decision: DecisionHold,
			reasons: []string{"Balise #MSS-T0 inconnue", "Aucun destinataire trouvé"},
			patient: Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "out-of-trust.pdf", decision: DecisionHold,
			reasons:    []string{"Destinataire hors de l'espace de confiance MSSanté : dr.lambert@gmail.com"},
			recipients: []wantRecipient{{"dr.lambert@gmail.com", RoleTo, SourceTag, false}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "meta-keywords.pdf", decision: DecisionSend,
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceMetadata, true}},
			patient:    Patient{INS: insGirard, INSKeyValid: true, FamilyName: "GIRARD", GivenNames: "Lucie", BirthDate: "1972-09-09", Sex: "F"},
			document:   Document{Subject: "Résultats de biologie"}},
		{file: "meta-and-tag.pdf", decision: DecisionSend,
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"},
			document:   Document{Title: "Titre des métadonnées"}},
		{file: "sidecar-letter.pdf", sidecar: true, decision: DecisionSend,
			recipients: []wantRecipient{
				{"paul.mercier@medecin.mssante.fr", RoleTo, SourceSidecar, true},
				{"secretariat.neuro@chu-exemple.mssante.fr", RoleCc, SourceSidecar, true}},
			patient:  Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"},
			document: Document{Title: "Compte rendu de consultation", Date: "2026-11-20"}},
		{file: "sidecar-letter.pdf", decision: DecisionHold, // the same letter without its sidecar
			reasons: []string{"Aucun destinataire trouvé"},
			patient: Patient{FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "conflict.pdf", sidecar: true, decision: DecisionHold,
			reasons: []string{
				"Les sources ne désignent pas le même patient : INS 256037512345654 (balise) et 185046912304548 (fichier compagnon)",
				"Les sources ne désignent pas le même patient : né(e) le 1956-03-12 (balise) et le 1985-04-01 (fichier compagnon)",
				"Les sources ne désignent pas le même patient : DUPONT (balise) et DURAND (fichier compagnon)"},
			recipients: []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceTag, true}},
			patient:    Patient{INS: insDupont, INSKeyValid: true, FamilyName: "DUPONT", GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}},
		{file: "encrypted.pdf", decision: DecisionHold, pages: -1,
			reasons: []string{"Le PDF est protégé par un mot de passe", "Aucun destinataire trouvé", "Patient non identifié"}},
	}
	r := newTestReader()
	for _, tt := range tests {
		name := tt.file
		if !tt.sidecar && strings.HasPrefix(tt.file, "sidecar") {
			name += " without sidecar"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			sidecar := ""
			if tt.sidecar {
				sidecar = strings.TrimSuffix(path, ".pdf") + ".json"
			}
			res, err := r.Read(context.Background(), path, sidecar)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res, path)
			if res.Decision != tt.decision {
				t.Errorf("decision %s, want %s (reasons %q)", res.Decision, tt.decision, res.Reasons)
			}
			checkPrefixes(t, res.Reasons, tt.reasons)
			checkRecipients(t, res.Recipients, tt.recipients)
			if res.Patient != tt.patient {
				t.Errorf("patient %+v\n           want %+v", res.Patient, tt.patient)
			}
			if res.Document != tt.document {
				t.Errorf("document %+v, want %+v", res.Document, tt.document)
			}
			wantPages, wantText := tt.pages, true
			switch wantPages {
			case 0:
				wantPages = 1
			case -1:
				wantPages, wantText = 0, false
			}
			if res.Pages != wantPages || res.TextLayer != wantText {
				t.Errorf("pages, text layer = %d, %v; want %d, %v", res.Pages, res.TextLayer, wantPages, wantText)
			}
		})
	}
}

// checkResult checks what every result must be: file, hash, non-nil lists, a decision that
// matches the reasons, and JSON with the contract's members.
func checkResult(t *testing.T, res Result, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if res.File != filepath.Base(path) || res.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("file, sha256 = %q, %q", res.File, res.SHA256)
	}
	if res.Recipients == nil || res.Reasons == nil {
		t.Errorf("nil list: recipients %v, reasons %v", res.Recipients == nil, res.Reasons == nil)
	}
	if (res.Decision == DecisionSend) != (len(res.Reasons) == 0) {
		t.Errorf("decision %s with reasons %q", res.Decision, res.Reasons)
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["text"]; ok {
		t.Errorf("the text layer is in the JSON: %s", js)
	}
	for _, k := range []string{"file", "sha256", "pages", "text_layer", "patient", "recipients", "document", "decision", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON without %q: %s", k, js)
		}
	}
}

func checkRecipients(t *testing.T, got []Recipient, want []wantRecipient) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("recipients %+v, want %+v", got, want)
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Address != w.address || g.Role != w.role || g.Source != w.source || g.InTrustSpace != w.trusted {
			t.Errorf("recipient %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestReadSamples reads the shared samples with no directory: what is printed is read, what
// needs the directory is held. TestSamplesTruth reads them with one.
func TestReadSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "samples")
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Skipf("shared samples not available: %v", err)
	}
	var truth []struct {
		File       string  `json:"file"`
		Patient    Patient `json:"patient"`
		Recipients []struct{ Address, Role string }
		Decision   Decision `json:"decision"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	r := newTestReader()
	for _, s := range truth {
		t.Run(s.File, func(t *testing.T) {
			path := filepath.Join(dir, "pdf", s.File)
			res, err := r.Read(context.Background(), path, "")
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res, path)
			switch {
			case strings.HasPrefix(s.File, "07-"): // tagged: sent on its tag and the printed INS
				if res.Decision != DecisionSend || res.Decision != s.Decision {
					t.Errorf("decision %s (reasons %q), truth %s", res.Decision, res.Reasons, s.Decision)
				}
				if len(res.Recipients) != 1 || res.Recipients[0].Address != s.Recipients[0].Address ||
					string(res.Recipients[0].Role) != s.Recipients[0].Role || res.Recipients[0].Source != SourceTag {
					t.Errorf("recipients %+v, truth %+v", res.Recipients, s.Recipients)
				}
				if res.Patient.INS != s.Patient.INS || !res.Patient.INSKeyValid || res.Patient.Sex != s.Patient.Sex {
					t.Errorf("patient %+v, truth %+v", res.Patient, s.Patient)
				}
				if res.Pages != 2 || !res.TextLayer {
					t.Errorf("pages, text layer = %d, %v", res.Pages, res.TextLayer)
				}
				// Routing reads the normalised text, pages separated by form feeds.
				p1, p2, ok := strings.Cut(res.Text, "\f")
				if !ok || !strings.Contains(p1, "#MSS-TO: aminata.ndiaye@medecin.mssante.fr") ||
					!strings.HasPrefix(p2, "Conclusion : fonction rénale stable.") || strings.Contains(p2, "\f") {
					t.Errorf("Text = %q", res.Text)
				}
			case strings.HasPrefix(s.File, "08-"): // a scan
				if res.Decision != DecisionHold || !contains(res.Reasons, "Aucun texte lisible dans le document (scan ?)") || res.TextLayer || res.Text != "" {
					t.Errorf("decision %s, text layer %v, reasons %q", res.Decision, res.TextLayer, res.Reasons)
				}
			case strings.HasPrefix(s.File, "01-"): // the address is printed: no directory needed
				if res.Decision != DecisionSend || len(res.Recipients) != 1 || res.Recipients[0].Address != s.Recipients[0].Address ||
					res.Recipients[0].Source != SourceText || res.Patient != s.Patient {
					t.Errorf("decision %s, reasons %q, recipients %+v, patient %+v", res.Decision, res.Reasons, res.Recipients, res.Patient)
				}
			case strings.HasPrefix(s.File, "02-"), strings.HasPrefix(s.File, "03-"), strings.HasPrefix(s.File, "04-"):
				// Named by RPPS or name: without a directory, held.
				if res.Decision != DecisionHold || !containsPrefix(res.Reasons, "« ") || res.Patient != s.Patient {
					t.Errorf("decision %s, reasons %q, patient %+v", res.Decision, res.Reasons, res.Patient)
				}
				for _, rc := range res.Recipients {
					if rc.Source == SourceDirectory {
						t.Errorf("recipient from a directory the reader does not have: %+v", rc)
					}
				}
			default:
				if res.Decision != DecisionHold || res.Patient.INS != s.Patient.INS || res.Patient.INSKeyValid != s.Patient.INSKeyValid {
					t.Errorf("decision %s, reasons %q, INS %q (key valid %v), truth %q (%v)", res.Decision, res.Reasons,
						res.Patient.INS, res.Patient.INSKeyValid, s.Patient.INS, s.Patient.INSKeyValid)
				}
				if !s.Patient.INSKeyValid && !contains(res.Reasons, "La clé de l'INS imprimé 139082A00408872 ne correspond pas") {
					t.Errorf("wrong INS key not in reasons %q", res.Reasons)
				}
			}
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestReadUnreadable(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 3000)
	for i := range garbage {
		garbage[i] = byte(i * 31)
	}
	good, err := os.ReadFile(filepath.Join("testdata", "white-tags.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte
		sidecar string // "" for none
		reasons []string
	}{
		{"empty", nil, "", []string{"Le fichier n'est pas un PDF lisible : fichier vide"}},
		{"garbage", garbage, "", []string{"Le fichier n'est pas un PDF lisible : "}},
		{"truncated", good[:len(good)/4], "", []string{"Le fichier n'est pas un PDF lisible : "}},
		{"text", []byte("Ceci n'est pas un PDF\n"), "", []string{"Le fichier n'est pas un PDF lisible : "}},
		{"garbage with a good sidecar", garbage, `{"recipients":[{"address":"a@b.mssante.fr","role":"to"}],"patient":{"ins":"` + insDupont + `"}}`,
			[]string{"Le fichier n'est pas un PDF lisible : "}},
		{"good PDF, unreadable sidecar", good, `{"recipients": [`,
			[]string{"Fichier compagnon « doc.json » : JSON illisible"}},
		{"good PDF, empty sidecar", good, "-", []string{"Fichier compagnon « doc.json » : JSON illisible"}},
	}
	r := newTestReader()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "doc.pdf")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			sidecar := ""
			if tt.sidecar != "" {
				sidecar = filepath.Join(dir, "doc.json")
				content := tt.sidecar
				if content == "-" {
					content = ""
				}
				if err := os.WriteFile(sidecar, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res, err := r.Read(context.Background(), path, sidecar)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res, path)
			if res.Decision != DecisionHold || len(res.Reasons) == 0 || !strings.HasPrefix(res.Reasons[0], tt.reasons[0]) {
				t.Errorf("decision %s, reasons %q; want hold starting %q", res.Decision, res.Reasons, tt.reasons[0])
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	r := newTestReader()
	if _, err := r.Read(context.Background(), filepath.Join("testdata", "no-such.pdf"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing PDF: %v", err)
	}
	if _, err := r.Read(context.Background(), filepath.Join("testdata", "white-tags.pdf"), filepath.Join("testdata", "no-such.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sidecar: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Read(ctx, filepath.Join("testdata", "white-tags.pdf"), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := NewReader(nil, fakeTrust{}).Read(context.Background(), filepath.Join("testdata", "white-tags.pdf"), ""); err == nil {
		t.Error("no extractor: no error")
	}
	// Without a trust space, nobody is trusted.
	res, err := NewReader(testExtractor, nil).Read(context.Background(), filepath.Join("testdata", "white-tags.pdf"), "")
	if err != nil || res.Decision != DecisionHold || res.Recipients[0].InTrustSpace {
		t.Errorf("nil trust: %v, %+v", err, res)
	}
}

// A document over pdf.MaxInspectBytes (pdfcpu does not read it) keeps the tags of its Info
// dictionary: PDFium reads them with the pages, and the result is the small document's.
func TestMetadataTagsOfALargeFile(t *testing.T) {
	r := newTestReader()
	small := filepath.Join("testdata", "meta-keywords.pdf")
	data, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}
	big, err := gen.Padded(data, pdf.MaxInspectBytes+1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "meta-keywords-17Mo.pdf")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := r.Read(context.Background(), small, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision != DecisionSend || got.Decision != want.Decision {
		t.Fatalf("decision %s (reasons %q), want %s", got.Decision, got.Reasons, want.Decision)
	}
	checkRecipients(t, got.Recipients, []wantRecipient{{"paul.mercier@medecin.mssante.fr", RoleTo, SourceMetadata, true}})
	if got.Patient != want.Patient || got.Document != want.Document {
		t.Errorf("patient %+v document %+v\nwant    %+v document %+v", got.Patient, got.Document, want.Patient, want.Document)
	}
}
