package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/directory/synth"
)

const samplePath = "../../shared/samples/annuaire-sample.txt"

func sample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath)
	if err != nil {
		t.Skipf("sample not available: %v", err)
	}
	return b
}

// writeSource writes data as the source file in a fresh folder and returns its path and the
// index folder to use.
func writeSource(t testing.TB, data []byte) (src, idx string) {
	t.Helper()
	dir := t.TempDir()
	src = filepath.Join(dir, "annuaire.txt")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return src, filepath.Join(dir, "index")
}

func openData(t testing.TB, data []byte) *Index {
	t.Helper()
	src, idx := writeSource(t, data)
	ix, err := Open(context.Background(), src, idx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// oracle parses an extraction the simplest way (UTF-8, LF, well-formed) into the entries the
// index must return, keyed by address.
func oracle(t testing.TB, data []byte) (map[string]Entry, []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	head := strings.Split(lines[0], "|")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	get := func(f []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	out := map[string]Entry{}
	var order []string
	for _, l := range lines[1:] {
		f := strings.Split(l, "|")
		if len(f) != len(head) {
			t.Fatalf("oracle: malformed line %q", l)
		}
		town := get(f, "L6LIGNEACHEMINEMENT structure BAL")
		if i := strings.IndexByte(town, ' '); i > 0 && isDigits(town[:i]) {
			town = town[i+1:]
		}
		if i := strings.Index(town, " CEDEX"); i > 0 {
			town = town[:i]
		}
		e := Entry{
			Kind: get(f, "Type de BAL"), Address: strings.ToLower(get(f, "Adresse BAL")),
			IDType: get(f, "Type d'identifiant PP"), PPID: get(f, "Identifiant PP"),
			NationalID: get(f, "Identification nationale PP"), Civility: get(f, "Civilité d'exercice"),
			FamilyName: get(f, "Nom d'exercice"), GivenName: get(f, "Prénom d'exercice"),
			Profession: get(f, "Libellé profession"), Specialty: get(f, "Libellé savoir-faire"),
			Dematerialised: get(f, "Dématérialisation") == "O",
			Structure:      get(f, "Raison Sociale structure BAL"), Service: get(f, "Service de rattachement"),
			Postcode: get(f, "Code postal structure BAL"), Town: town,
			Department: get(f, "Département structure BAL"),
		}
		if _, dup := out[e.Address]; !dup {
			out[e.Address] = e
			order = append(order, e.Address)
		}
	}
	return out, order
}

func addresses(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Address)
	}
	return out
}

// Variants of the sample that must all give the same index.
func sampleVariants(t *testing.T) map[string][]byte {
	s := sample(t)
	return map[string][]byte{
		"utf8":           s,
		"windows1252":    encodeWindows1252(string(s)),
		"bom":            append([]byte("\xef\xbb\xbf"), s...),
		"crlf":           bytes.ReplaceAll(s, []byte("\n"), []byte("\r\n")),
		"crlf-1252":      bytes.ReplaceAll(encodeWindows1252(string(s)), []byte("\n"), []byte("\r\n")),
		"reordered":      reorder(s),
		"no-final-break": bytes.TrimRight(s, "\n"),
	}
}

// reorder reverses the columns of an extraction and inserts two unknown ones, as the ANS did
// when the layout changed.
func reorder(data []byte) []byte {
	var b bytes.Buffer
	for i, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		f := strings.Split(l, "|")
		slices.Reverse(f)
		extra := []string{"Colonne future", "Autre colonne"}
		if i > 0 {
			extra = []string{"valeur", ""}
		}
		f = slices.Insert(f, 3, extra...)
		b.WriteString(strings.Join(f, "|") + "\n")
	}
	return b.Bytes()
}

func TestSampleVariants(t *testing.T) {
	want, order := oracle(t, sample(t))
	for name, data := range sampleVariants(t) {
		t.Run(name, func(t *testing.T) {
			ix := openData(t, data)
			st := ix.Stats()
			if st.Lines != 407 || st.Entries != 407 || st.Skipped != 0 {
				t.Errorf("stats %+v, want 407 lines and entries", st)
			}
			wantEnc := "UTF-8"
			if strings.Contains(name, "1252") {
				wantEnc = "Windows-1252"
			}
			if st.Encoding != wantEnc {
				t.Errorf("encoding %q, want %q", st.Encoding, wantEnc)
			}
			for _, a := range order {
				got, ok := ix.ByAddress(a)
				if !ok || got != want[a] {
					t.Fatalf("ByAddress(%q) = %+v, %v\nwant %+v", a, got, ok, want[a])
				}
			}
			checkSample(t, ix)
		})
	}
}

// checkSample runs the lookups every variant of the sample must answer alike.
func checkSample(t *testing.T, ix *Index) {
	t.Helper()
	e, ok := ix.ByAddress("  Paul.Mercier@MEDECIN.mssante.fr ")
	wantE := Entry{Kind: "PER", Address: "paul.mercier@medecin.mssante.fr", IDType: "8", PPID: "10003456781",
		NationalID: "810003456781", Civility: "DR", FamilyName: "MERCIER", GivenName: "Paul",
		Profession: "Médecin", Specialty: "Médecine Générale", Dematerialised: true,
		Structure: "Cabinet Mercier", Postcode: "69003", Town: "LYON", Department: "69"}
	if !ok || e != wantE {
		t.Errorf("ByAddress(paul.mercier) = %+v, %v", e, ok)
	}
	if org, ok := ix.ByAddress("secretariat.neuro@chu-exemple.mssante.fr"); !ok || org.Kind != "ORG" ||
		org.Structure != "CHU Exemple — Neurologie" || org.Town != "BRON" || org.PPID != "" {
		t.Errorf("ORG entry = %+v, %v", org, ok)
	}
	if _, ok := ix.ByAddress("nobody@medecin.mssante.fr"); ok {
		t.Error("unknown address found")
	}

	rpps := []struct {
		id   string
		want []string
	}{
		{"10004567892", []string{"claire.benoit@medecin.mssante.fr"}},
		{"810004567892", []string{"claire.benoit@medecin.mssante.fr"}},
		{"100 045 678 92", []string{"claire.benoit@medecin.mssante.fr"}},
		{"10009876543", []string{"claire.benoit2@medecin.mssante.fr"}},
		{"710004567892", nil}, // another id type prefix
		{"1000456789", nil},
		{"", nil},
		{"abcdefghijk", nil},
		{"99999999999", nil},
	}
	for _, c := range rpps {
		if got := addresses(ix.ByRPPS(c.id)); !slices.Equal(got, c.want) {
			t.Errorf("ByRPPS(%q) = %v, want %v", c.id, got, c.want)
		}
	}

	names := []struct {
		family, given string
		want          []string
	}{
		// The sample's homonyms: both, in file order — never one of them picked.
		{"BENOIT", "Claire", []string{"claire.benoit@medecin.mssante.fr", "claire.benoit2@medecin.mssante.fr"}},
		{"benoît", "CLAIRE", []string{"claire.benoit@medecin.mssante.fr", "claire.benoit2@medecin.mssante.fr"}},
		{"Le-Goff", "Yann", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"le goff", "", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"LEGOFF", "yann", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"LE GOFF", "Yann-Erwan", nil},
		{"NDIAYE", "Aminata", []string{"aminata.ndiaye@medecin.mssante.fr"}},
		{"N’Diaye", "", []string{"aminata.ndiaye@medecin.mssante.fr"}},
		{"Mercier", "P.", []string{"paul.mercier@medecin.mssante.fr"}},
		{"LAURENT", "LEA", []string{"lea.laurent138@medecin.mssante.fr", "lea.laurent277@medecin.mssante.fr",
			"lea.laurent374@medecin.mssante.fr", "lea.laurent399@medecin.mssante.fr"}},
		{"FABRE", "Louis", []string{"pharmacie.centrale@pharmacien.mssante.fr"}},
		{"INCONNU", "", nil},
		{"", "Paul", nil},
	}
	for _, c := range names {
		if got := addresses(ix.ByName(c.family, c.given)); !slices.Equal(got, c.want) {
			t.Errorf("ByName(%q, %q) = %v, want %v", c.family, c.given, got, c.want)
		}
	}

	search := []struct {
		q    string
		want []string
	}{
		{"benoit marseille", []string{"claire.benoit2@medecin.mssante.fr"}},
		{"Claire BENOIT pédiatrie", []string{"claire.benoit2@medecin.mssante.fr"}},
		{"10005678903", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"810005678903", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"cardio brest", []string{"yann.le-goff@medecin.mssante.fr"}}, // prefix
		{"le goff", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"legoff 29200", []string{"yann.le-goff@medecin.mssante.fr"}},
		{"chu neurologie", []string{"secretariat.neuro@chu-exemple.mssante.fr"}},
		{"y goff", []string{"yann.le-goff@medecin.mssante.fr"}}, // initial
		{"Paul.Mercier@medecin.mssante.fr", []string{"paul.mercier@medecin.mssante.fr"}},
		{"paul.mercier@medecin.mssante.fr brest", nil},
		{"benoit brest", nil},
		{"xyzzy", nil},
		{"  ", nil},
	}
	for _, c := range search {
		if got := addresses(ix.Search(c.q, 10)); !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := ix.Search("lyon", 3); len(got) != 3 {
		t.Errorf("Search(lyon, 3) gave %d entries", len(got))
	}
	if got := ix.Search("medecin", 0); len(got) != DefaultSearchLimit {
		t.Errorf("Search(medecin, 0) gave %d entries, want %d", len(got), DefaultSearchLimit)
	}
}

func TestMissingColumns(t *testing.T) {
	s := sample(t)
	drop := map[string]bool{"Dématérialisation": true, "L6LIGNEACHEMINEMENT structure BAL": true,
		"Prénom d'exercice": true, "Identification nationale PP": true}
	var b bytes.Buffer
	var keep []int
	for i, l := range strings.Split(strings.TrimRight(string(s), "\n"), "\n") {
		f := strings.Split(l, "|")
		if i == 0 {
			for j, h := range f {
				if !drop[h] {
					keep = append(keep, j)
				}
			}
		}
		var g []string
		for _, j := range keep {
			g = append(g, f[j])
		}
		b.WriteString(strings.Join(g, "|") + "\n")
	}
	ix := openData(t, b.Bytes())
	e, ok := ix.ByAddress("paul.mercier@medecin.mssante.fr")
	if !ok || e.GivenName != "" || e.Town != "" || e.Dematerialised || e.NationalID != "" || e.FamilyName != "MERCIER" || e.Postcode != "69003" {
		t.Errorf("entry without the dropped columns = %+v", e)
	}
	// Without "Identification nationale PP", the national id is built from type + id.
	if got := addresses(ix.ByRPPS("810003456781")); !slices.Equal(got, []string{"paul.mercier@medecin.mssante.fr"}) {
		t.Errorf("ByRPPS without national id column = %v", got)
	}
	if got := ix.ByName("MERCIER", "Paul"); len(got) != 0 {
		t.Errorf("a given name matched an empty one: %v", addresses(got))
	}
	if got := ix.ByName("MERCIER", ""); len(got) != 1 {
		t.Errorf("ByName(MERCIER, \"\") = %v", addresses(got))
	}
}

func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"no address column", "Type de BAL|Nom d'exercice\nPER|MARTIN\n", "Adresse BAL"},
		{"empty file", "", "empty"},
		{"blank lines only", "\n\r\n\n", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, idx := writeSource(t, []byte(c.data))
			_, err := Open(context.Background(), src, idx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %q", err, c.want)
			}
			if c.want == "Adresse BAL" {
				var he *HeaderError
				if !errors.As(err, &he) || !slices.Equal(he.Missing, []string{"Adresse BAL"}) {
					t.Errorf("err = %#v, want a *HeaderError", err)
				}
			}
		})
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "absent.txt"), t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing source: err = %v", err)
	}
	// Header names are matched without regard to case, accents and spacing.
	ix := openData(t, []byte("ADRESSE  BAL|nom D’EXERCICE|prenom d'exercice\nA@B.mssante.fr|Martin|Jean\n"))
	if e, ok := ix.ByAddress("a@b.mssante.fr"); !ok || e.FamilyName != "Martin" || e.GivenName != "Jean" {
		t.Errorf("loose header names: %+v %v", e, ok)
	}
}

func TestMalformedLines(t *testing.T) {
	h := "Type de BAL|Adresse BAL|Nom d'exercice|Prénom d'exercice\n"
	data := h +
		"PER|a@x.mssante.fr|MARTIN|Jean\n" + // line 2
		"PER|b@x.mssante.fr|MARTIN\n" + // 3: too few
		"PER|c@x.mssante.fr|MARTIN|Jean|extra\n" + // 4: too many
		"\n" + // 5: blank, ignored
		"PER||DUPONT|Anne\n" + // 6: no address
		"PER|d@x.mssante.fr|DURAND|Luc|\n" + // 7: a trailing pipe is tolerated
		"PER|e@x.mssante.fr|" + strings.Repeat("X", maxLine+10) + "|Long\n" + // 8: too long
		"PER|f@x.mssante.fr|PETIT|Léa" // 9: no final line break
	ix := openData(t, []byte(data))
	st := ix.Stats()
	if st.Lines != 7 || st.Entries != 3 || st.Skipped != 4 {
		t.Errorf("stats = %+v", st)
	}
	var lines []int
	for _, m := range st.Malformed {
		lines = append(lines, m.Line)
	}
	if !slices.Equal(lines, []int{3, 4, 6, 8}) {
		t.Errorf("malformed lines %v (%+v)", lines, st.Malformed)
	}
	for _, a := range []string{"a@x.mssante.fr", "d@x.mssante.fr", "f@x.mssante.fr"} {
		if _, ok := ix.ByAddress(a); !ok {
			t.Errorf("%s not indexed", a)
		}
	}
	for _, a := range []string{"b@x.mssante.fr", "c@x.mssante.fr", "e@x.mssante.fr"} {
		if _, ok := ix.ByAddress(a); ok {
			t.Errorf("malformed line %s indexed", a)
		}
	}
	// Line numbers stay right across blocks (1 MiB each) and around a line too long to keep.
	big, _ := synthetic(t, 12000, 11) // ~2.5 MB
	blines := strings.SplitAfter(string(big), "\n")
	blines = slices.Insert(blines, 9000, "PER|broken\n")                                  // line 9001
	blines = slices.Insert(blines, 5000, "PER|"+strings.Repeat("y", 3*maxLine)+"|long\n") // line 5001
	ix = openData(t, []byte(strings.Join(blines, "")))
	st = ix.Stats()
	lines = lines[:0]
	for _, m := range st.Malformed {
		lines = append(lines, m.Line)
	}
	if st.Lines != 12002 || st.Entries != 12000 || !slices.Equal(lines, []int{5001, 9002}) {
		t.Errorf("big file: %d lines, %d entries, malformed %v", st.Lines, st.Entries, st.Malformed)
	}

	// Only the first few are listed.
	var b strings.Builder
	b.WriteString(h)
	for i := range 25 {
		fmt.Fprintf(&b, "PER|%d@x.mssante.fr\n", i)
	}
	src, idx := writeSource(t, []byte(b.String()))
	st, err := Build(context.Background(), src, idx)
	if err != nil || st.Skipped != 25 || len(st.Malformed) != maxReported || st.Malformed[0].Line != 2 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// Each line is read as UTF-8 when it is valid UTF-8, else as Windows-1252: a UTF-8 file with a
// Latin-1 line keeps its UTF-8 header and lines.
func TestEncodingDetection(t *testing.T) {
	h := "Adresse BAL|Nom d'exercice|Prénom d'exercice\n"
	utf := h + "a@x.mssante.fr|LEFÈVRE|Hélène\n"
	ix := openData(t, []byte(utf))
	if e, _ := ix.ByAddress("a@x.mssante.fr"); e.GivenName != "Hélène" || ix.Stats().Encoding != "UTF-8" {
		t.Errorf("UTF-8: %+v %s", e, ix.Stats().Encoding)
	}
	mixed := append([]byte(h+"a@x.mssante.fr|MARTIN|Jean\n"), encodeWindows1252("b@x.mssante.fr|LEFÈVRE|Hélène — Œ\n")...)
	ix = openData(t, mixed)
	e, _ := ix.ByAddress("b@x.mssante.fr")
	a, _ := ix.ByAddress("a@x.mssante.fr")
	if e.GivenName != "Hélène — Œ" || a.GivenName != "Jean" || ix.Stats().Encoding != "UTF-8 and Windows-1252 (1 lines)" {
		t.Errorf("Latin-1: %+v %s", e, ix.Stats().Encoding)
	}
	if got := addresses(ix.ByName("lefevre", "helene oe")); len(got) != 1 {
		t.Errorf("ByName on Latin-1 = %v", got)
	}
}

func TestGivenNames(t *testing.T) {
	data := "Adresse BAL|Nom d'exercice|Prénom d'exercice|Identifiant PP|Type d'identifiant PP\n" +
		"jean@x.mssante.fr|MARTIN|Jean|10000000001|8\n" +
		"jp@x.mssante.fr|MARTIN|Jean-Pierre|10000000002|8\n" +
		"jp2@x.mssante.fr|Martin|JEAN PIERRE|10000000003|8\n" +
		"yann@x.mssante.fr|MARTIN|Yann|10000000004|8\n" +
		"yannick@x.mssante.fr|MARTIN|Yannick|10000000005|8\n" +
		"zoe@x.mssante.fr|DUPONT|Zoé|10000000006|8\n" +
		"jean@x.mssante.fr|MARTIN|Jean|10000000001|8\n" + // the same box twice: one entry
		"coeur@x.mssante.fr|DU CŒUR|Anne-Sophie|10000000007|8\n" +
		"long@x.mssante.fr|LONGUE|" + strings.Repeat("Marie-", 40000) + "Ève|10000000008|8\n" // a 240 kB record

	ix := openData(t, []byte(data))
	cases := []struct {
		family, given string
		want          []string
	}{
		{"Martin", "Jean", []string{"jean@x.mssante.fr"}},
		{"Martin", "Jean-Pierre", []string{"jp@x.mssante.fr", "jp2@x.mssante.fr"}},
		{"MARTIN", "jean pierre", []string{"jp@x.mssante.fr", "jp2@x.mssante.fr"}},
		{"MARTIN", "Jeanpierre", []string{"jp@x.mssante.fr", "jp2@x.mssante.fr"}},
		{"Martin", "Pierre", nil},
		{"Martin", "Yann", []string{"yann@x.mssante.fr"}},
		{"Martin", "Yannick", []string{"yannick@x.mssante.fr"}},
		{"Martin", "J.", []string{"jean@x.mssante.fr"}},
		{"Martin", "J.-P.", []string{"jp@x.mssante.fr", "jp2@x.mssante.fr"}},
		{"Martin", "Y", []string{"yann@x.mssante.fr", "yannick@x.mssante.fr"}},
		{"Martin", "", []string{"jean@x.mssante.fr", "jp@x.mssante.fr", "jp2@x.mssante.fr", "yann@x.mssante.fr", "yannick@x.mssante.fr"}},
		{"dupont", "ZOE", []string{"zoe@x.mssante.fr"}},
		{"Du Coeur", "anne sophie", []string{"coeur@x.mssante.fr"}},
		{"ducœur", "A.-S.", []string{"coeur@x.mssante.fr"}},
		{"Dupont", "Zo", nil},
		{"Longue", "", []string{"long@x.mssante.fr"}},
	}
	for _, c := range cases {
		if got := addresses(ix.ByName(c.family, c.given)); !slices.Equal(got, c.want) {
			t.Errorf("ByName(%q, %q) = %v, want %v", c.family, c.given, got, c.want)
		}
	}
	if got := ix.ByRPPS("10000000001"); len(got) != 1 {
		t.Errorf("a repeated box gave %d entries", len(got))
	}
	if ix.Stats().Entries != 9 {
		t.Errorf("entries = %d, want 9 (repeated lines are kept, lookups show one)", ix.Stats().Entries)
	}
	// Records longer than a first read, found by a lookup and by a scan.
	if e, ok := ix.ByAddress("long@x.mssante.fr"); !ok || !strings.HasSuffix(e.GivenName, "-Ève") {
		t.Errorf("long record: %v", ok)
	}
	if got := addresses(ix.Search("ev", 5)); !slices.Equal(got, []string{"long@x.mssante.fr"}) {
		t.Errorf("Search(ev) = %v", got)
	}
}

func TestNormalizeName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Le-Goff", "LE GOFF"},
		{"  le   goff ", "LE GOFF"},
		{"LE GOFF", "LE GOFF"},
		{"N’Diaye", "N DIAYE"},
		{"N'DIAYE", "N DIAYE"},
		{"Jean\u2013Pierre", "JEAN PIERRE"},
		{"Jean\u2212Pierre", "JEAN PIERRE"},
		{"Hélène", "HELENE"},
		{"He\u0301le\u0300ne", "HELENE"},
		{"Cœur", "COEUR"},
		{"Ærø", "AERO"},
		{"Strauß", "STRAUSS"},
		{"Łukasz Żółć", "LUKASZ ZOLC"},
		{"J.-P.", "J P"},
		{"Saint\u00a0Étienne", "SAINT ETIENNE"},
		{"ﬁlou", "FILOU"},
		{"Ωmega", "ΩMEGA"},
		{"", ""},
		{" - ", ""},
	}
	for _, c := range cases {
		if got := NormalizeName(c.in); got != c.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", c.in, got, c.want)
		}
		if got, want := NameKey(c.in), strings.ReplaceAll(c.want, " ", ""); got != want {
			t.Errorf("NameKey(%q) = %q, want %q", c.in, got, want)
		}
	}
	if len(latinAFold) != 128 || len(latin1Fold) != 64 {
		t.Fatalf("fold tables: %d, %d", len(latinAFold), len(latin1Fold))
	}
	for r := rune(0xc0); r <= 0x17f; r++ {
		if r == 0xd7 || r == 0xf7 {
			continue
		}
		if f := foldRune(r); f == "" || strings.ToUpper(f) != f {
			t.Errorf("foldRune(%q) = %q", r, f)
		}
	}
	for i := range 256 {
		s := string(appendWindows1252(nil, []byte{byte(i)}))
		if i >= 0x80 && i < 0xa0 && !slices.Contains([]int{0x81, 0x8d, 0x8f, 0x90, 0x9d}, i) {
			if b := encodeWindows1252(s); len(b) != 1 || b[0] != byte(i) {
				t.Errorf("Windows-1252 %#x -> %q -> %x", i, s, b)
			}
		}
	}
}

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	s := sample(t)
	src, idx := writeSource(t, s)
	n0 := builds.Load()
	ix, err := Open(ctx, src, idx)
	if err != nil {
		t.Fatal(err)
	}
	first := ix.Path()
	ix.Close()
	if builds.Load() != n0+1 {
		t.Fatalf("first Open built %d times", builds.Load()-n0)
	}
	// Unchanged source: the index is reused.
	ix, err = Open(ctx, src, idx)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if builds.Load() != n0+1 {
		t.Error("unchanged source rebuilt")
	}
	// Changed content (same mtime as before is impossible to promise; size changes).
	s2 := append(append([]byte(nil), s...), "PER|nouveau@medecin.mssante.fr|8|10000000099|810000000099||||DR|NOUVEAU|Marc|C|Civil|10|Médecin||Médecine Générale|N|Cabinet||||1||R|rue||69003 LYON|69003|69|FRANCE\n"...)
	if err := os.WriteFile(src, s2, 0o600); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(ctx, src, idx)
	if err != nil {
		t.Fatal(err)
	}
	if builds.Load() != n0+2 {
		t.Error("changed source not rebuilt")
	}
	if _, ok := ix.ByAddress("nouveau@medecin.mssante.fr"); !ok {
		t.Error("new line not found after rebuild")
	}
	second := ix.Path()
	ix.Close()
	if second == first {
		t.Error("same index name for two versions")
	}
	// Same size, same content, new mtime: rebuilt (the extraction is republished whole).
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(src, future, future); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(ctx, src, idx)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if builds.Load() != n0+3 {
		t.Error("touched source not rebuilt")
	}
	// A damaged index is rebuilt.
	if err := os.Truncate(ix.Path(), 5000); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(ctx, src, idx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.ByAddress("nouveau@medecin.mssante.fr"); !ok {
		t.Error("lookup after rebuilding a damaged index")
	}
	ix.Close()
	if builds.Load() != n0+4 {
		t.Error("damaged index not rebuilt")
	}
	// One index left, no temporary files, private modes.
	des, err := os.ReadDir(idx)
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 1 || !strings.HasSuffix(des[0].Name(), ".idx") {
		t.Errorf("index folder holds %v", des)
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(ix.Path())
		dst, _ := os.Stat(idx)
		if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
			t.Errorf("modes: file %v, folder %v", st.Mode().Perm(), dst.Mode().Perm())
		}
	}
	// Lookups on a closed index answer nothing.
	if _, ok := ix.ByAddress("nouveau@medecin.mssante.fr"); ok || ix.Search("nouveau", 5) != nil || ix.ByName("NOUVEAU", "") != nil {
		t.Error("closed index answered")
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBuildCancelled(t *testing.T) {
	src, idx := writeSource(t, sample(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, src, idx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	des, _ := os.ReadDir(idx)
	if len(des) != 0 {
		t.Errorf("cancelled build left %v", des)
	}
}

// synthetic writes a synthetic extraction and returns its lines.
func synthetic(t testing.TB, n int, seed uint64) ([]byte, []synth.Line) {
	t.Helper()
	var b bytes.Buffer
	g := synth.New(&b, seed)
	lines := make([]synth.Line, 0, n)
	for range n {
		l, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), lines
}

// A larger file: buckets that need a binary search (MEDECIN, MARTIN), several partitions.
func TestSyntheticLookups(t *testing.T) {
	n := 30000
	if testing.Short() {
		n = 5000
	}
	data, lines := synthetic(t, n, 7)
	ix := openData(t, data)
	if st := ix.Stats(); st.Entries != n || st.Skipped != 0 {
		t.Fatalf("stats %+v", st)
	}
	want, _ := oracle(t, data)
	byName := map[[2]string][]string{}
	for _, l := range lines {
		if l.Family != "" {
			k := [2]string{NameKey(l.Family), NameKey(l.Given)}
			byName[k] = append(byName[k], l.Address)
		}
	}
	for i, l := range lines {
		e, ok := ix.ByAddress(l.Address)
		if !ok || e != want[l.Address] {
			t.Fatalf("line %d: ByAddress(%q) = %+v, %v, want %+v", i+2, l.Address, e, ok, want[l.Address])
		}
		if l.RPPS != "" {
			if got := addresses(ix.ByRPPS(l.RPPS)); !slices.Equal(got, []string{l.Address}) {
				t.Fatalf("ByRPPS(%s) = %v", l.RPPS, got)
			}
		}
		if l.Family != "" && i%10 == 0 {
			got := addresses(ix.ByName(l.Family, l.Given))
			if w := byName[[2]string{NameKey(l.Family), NameKey(l.Given)}]; !slices.Equal(got, w) {
				t.Fatalf("ByName(%q, %q) = %v, want %v", l.Family, l.Given, got, w)
			}
		}
	}
	// Search agrees with a scan of the oracle.
	for _, q := range []string{"martin lyon", "pharmacien brest", "cardiologie nantes", "jean-pierre", "urgences bastia", "medecin bastia"} {
		got := addresses(ix.Search(q, 1<<20))
		var w []string
		for _, l := range lines {
			e := want[l.Address]
			if matchAll(&e, words(q)) {
				w = append(w, l.Address)
			}
		}
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) || len(w) == 0 {
			t.Errorf("Search(%q): %d entries, want %d", q, len(got), len(w))
		}
	}
}

// matchAll is the oracle of Search for queries whose words all exist whole.
func matchAll(e *Entry, qs []string) bool {
	f := entryFields(e)
	var ws []string
	forEachWord(nil, &f, false, func(w []byte) { ws = append(ws, string(w)) })
	for _, q := range qs {
		if !slices.Contains(ws, q) {
			return false
		}
	}
	return true
}

func TestConcurrentLookups(t *testing.T) {
	data, lines := synthetic(t, 5000, 3)
	ix := openData(t, data)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 300 {
				l := lines[r.IntN(len(lines))]
				if e, ok := ix.ByAddress(l.Address); !ok || e.Address != l.Address {
					errs <- "ByAddress " + l.Address
					return
				}
				if l.RPPS != "" && len(ix.ByRPPS(l.RPPS)) != 1 {
					errs <- "ByRPPS " + l.RPPS
					return
				}
				if l.Family != "" && !slices.Contains(addresses(ix.ByName(l.Family, l.Given)), l.Address) {
					errs <- "ByName " + l.Address
					return
				}
				if l.Family != "" && len(ix.Search(l.Family+" "+l.Town, 5)) == 0 {
					errs <- "Search " + l.Family
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Opens racing on a missing index build it once.
func TestConcurrentOpen(t *testing.T) {
	src, idx := writeSource(t, sample(t))
	n0 := builds.Load()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix, err := Open(context.Background(), src, idx)
			if err != nil {
				t.Error(err)
				return
			}
			defer ix.Close()
			if len(ix.ByName("BENOIT", "Claire")) != 2 {
				t.Error("lookup after concurrent Open")
			}
		}()
	}
	wg.Wait()
	if builds.Load() != n0+1 {
		t.Errorf("%d builds for 4 concurrent Opens", builds.Load()-n0)
	}
}

func TestRadixSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		keys := make([]uint64, n)
		offs := make([]uint32, n)
		for i := range keys {
			keys[i] = r.Uint64N(1 << 20) // many equal keys: stability matters
			offs[i] = uint32(i)
		}
		radixSort(keys, offs, make([]uint64, n), make([]uint32, n), 40)
		for i := 1; i < n; i++ {
			if keys[i] < keys[i-1] || (keys[i] == keys[i-1] && offs[i] < offs[i-1]) {
				t.Fatalf("n=%d: not sorted stably at %d", n, i)
			}
		}
	}
}

func BenchmarkByAddress(b *testing.B) {
	data, lines := synthetic(b, 50000, 5)
	ix := openData(b, data)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.ByAddress(lines[i%len(lines)].Address)
	}
}

// A common name with repeated boxes: past 16 entries, duplicates are found through a set.
func TestManyHomonyms(t *testing.T) {
	var b strings.Builder
	b.WriteString("Adresse BAL|Nom d'exercice|Prénom d'exercice\n")
	var want []string
	for i := range 300 {
		a := fmt.Sprintf("p%d@x.mssante.fr", i)
		fmt.Fprintf(&b, "%s|MARTIN|P%d\n", a, i)
		want = append(want, a)
		if i%7 == 0 {
			fmt.Fprintf(&b, "%s|Martin|P%d\n", a, i) // the same box again
		}
	}
	ix := openData(t, []byte(b.String()))
	if got := addresses(ix.ByName("martin", "")); !slices.Equal(got, want) {
		t.Errorf("ByName(martin) gave %d entries, want %d", len(got), len(want))
	}
	if got := ix.Search("martin", 1000); len(got) != 300 {
		t.Errorf("Search(martin) gave %d entries", len(got))
	}
}
