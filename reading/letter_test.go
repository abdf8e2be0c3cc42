package reading

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/pdf"
)

func TestFindDates(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"née le 12/03/1956", []string{"1956-03-12"}},
		{"Date de naissance : 02.11.1948", []string{"1948-11-02"}},
		{"né le 30 juin 2015, sexe : M", []string{"2015-06-30"}},
		{"né le 1er mars 1950", []string{"1950-03-01"}},
		{"NÉ LE 3 FÉVR. 1961", []string{"1961-02-03"}},
		{"le 12 - 03 - 1956 et le 1956-03-12", []string{"1956-03-12", "1956-03-12"}},
		{"le 30/02/1985", []string{""}}, // no such day: found, but no value
		{"le 12/03/56", nil},            // two-digit years are not read
		{"Tél. 04 72 00 00 00", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range findDates(fold(tt.in)) {
			got = append(got, d.value)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("findDates(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldAndNameKey(t *testing.T) {
	if got := fold("Née le cœur Ça"); got != "NEE LE COEUR CA" {
		t.Errorf("fold = %q", got)
	}
	for _, pair := range [][2]string{{"N'Diaye", "NDIAYE"}, {"Le Goff", "LE GOFF"}, {"Dupré", "DUPRE"}, {"Jean-Pierre", "jean pierre"}} {
		if nameKey(pair[0]) != nameKey(pair[1]) {
			t.Errorf("nameKey(%q) != nameKey(%q)", pair[0], pair[1])
		}
	}
	ft := newFText("Œdème : Dupré")
	if i := strings.Index(ft.fold, "DUPRE"); ft.origOf(i, i+5) != "Dupré" {
		t.Errorf("origOf = %q (fold %q)", ft.origOf(i, i+5), ft.fold)
	}
}

func TestPatientFromLine(t *testing.T) {
	tests := []struct {
		line string
		want patientCand // line field ignored
		ok   bool
	}{
		{"Patiente : Mme DUPRÉ Jeanne Marie, née le 12/03/1956",
			patientCand{family: "DUPRÉ", given: "Jeanne Marie", birth: "1956-03-12", sex: "F", sexStrong: true}, true},
		{"M. FAURE Bernard, né le 17/08/1939", patientCand{family: "FAURE", given: "Bernard", birth: "1939-08-17", sex: "M", sexStrong: true}, true},
		{"Enfant ARNAUD Théo, né le 30 juin 2015, sexe : M", patientCand{family: "ARNAUD", given: "Théo", birth: "2015-06-30", sex: "M", sexStrong: true}, true},
		{"Nom de naissance : LE GOFF", patientCand{family: "LE GOFF"}, true},
		{"Prénom(s) : Yann-Erwan", patientCand{given: "Yann-Erwan"}, true},
		{"Patiente : Mme MARTIN née DUPONT Marie, née le 04/07/1950",
			patientCand{family: "DUPONT", used: "MARTIN", given: "Marie", birth: "1950-07-04", sex: "F", sexStrong: true}, true},
		{"Patiente : Mme DUPONT épouse MARTIN Marie", patientCand{family: "DUPONT", used: "MARTIN", given: "Marie", sex: "F", sexStrong: true}, true},
		{"Nom : MOREL      Prénom : Alice      DDN : 05.01.1990      Sexe : F",
			patientCand{family: "MOREL", given: "Alice", birth: "1990-01-05", sex: "F", sexStrong: true}, true},
		{"Née le 21/04/1985", patientCand{birth: "1985-04-21", sex: "F"}, true},
		{"Patiente : N'DIAYE Awa", patientCand{family: "N'DIAYE", given: "Awa", sex: "F"}, true},
		// Someone else than the patient, or no identity at all.
		{"Mère : Mme DUPONT Anne, née le 01/01/1960", patientCand{}, false},
		{"Docteur Paul MERCIER", patientCand{}, false},
		{"J'ai revu votre patiente ce jour.", patientCand{}, false},
		{"Madame Jeanne DUPRÉ", patientCand{}, false}, // an addressee block line, no birth date
	}
	for _, tt := range tests {
		got, ok := patientFromLine(newFText(tt.line))
		got.line = ""
		if ok != tt.ok || got != tt.want {
			t.Errorf("%q:\n got %+v %v\nwant %+v %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFindDesignations(t *testing.T) {
	tests := []struct {
		line           string
		family, given  string
		alts           int
		title, rawWant string
	}{
		{"Destinataire : Dr Yann LE GOFF - RPPS 10005678903", "LE GOFF", "Yann", 0, "DR", "Dr Yann LE GOFF"},
		{"À l'attention du Docteur Martin, cardiologue à Lyon", "Martin", "", 0, "DR", "Docteur Martin"},
		{"Madame le Docteur Claire BENOIT", "BENOIT", "Claire", 0, "DR", "Madame le Docteur Claire BENOIT"},
		{"Copie : Pr MARTIN Jean-Pierre (Lyon)", "MARTIN", "Jean-Pierre", 0, "PR", "Pr MARTIN Jean-Pierre"},
		{"Docteur Jean Martin", "", "", 2, "DR", "Docteur Jean Martin"},
		{"Dr J. MARTIN, pneumologue", "MARTIN", "J.", 0, "DR", "Dr J. MARTIN"},
		{"Monsieur le Docteur Anne-Sophie DE LA TOUR", "DE LA TOUR", "Anne-Sophie", 0, "DR", "Monsieur le Docteur Anne-Sophie DE LA TOUR"},
	}
	for _, tt := range tests {
		ds := findDesignations(newFText(tt.line))
		if len(ds) != 1 {
			t.Errorf("%q: %d designations %+v", tt.line, len(ds), ds)
			continue
		}
		n := ds[0].name
		if n.family != tt.family || n.given != tt.given || len(n.alts) != tt.alts || n.title != tt.title || n.raw != tt.rawWant {
			t.Errorf("%q: %+v", tt.line, n)
		}
	}
	for _, line := range []string{"Cher Docteur,", "Madame, Monsieur,", "Docteur, je vous remercie"} {
		if ds := findDesignations(newFText(line)); len(ds) != 0 {
			t.Errorf("%q: designations %+v", line, ds)
		}
	}
}

func TestLabelOf(t *testing.T) {
	tests := []struct {
		line  string
		role  Role
		value string
	}{
		{"Destinataire : paul.mercier@medecin.mssante.fr", RoleTo, "paul.mercier@medecin.mssante.fr"},
		{"Adressé à : Docteur Claire BENOIT", RoleTo, "Docteur Claire BENOIT"},
		{"À l'attention du Dr Claire BENOIT", RoleTo, "Dr Claire BENOIT"},
		{"À : x@y.mssante.fr", RoleTo, "x@y.mssante.fr"},
		{"Prescripteur : Dr Paul MERCIER", RoleTo, "Dr Paul MERCIER"},
		{"Copie à : secretariat.neuro@chu-exemple.mssante.fr", RoleCc, "secretariat.neuro@chu-exemple.mssante.fr"},
		{"cc : Dr François PETIT", RoleCc, "Dr François PETIT"},
		{"Double à : Dr Marc FONTAINE", RoleCc, "Dr Marc FONTAINE"},
		{"- Copies :", RoleCc, ""},
		{"À l'examen, l'abdomen est souple.", "", ""},
		{"Adressée par le Dr Jean MARTIN", "", ""},
		{"Pour information, le bilan est normal.", "", ""},
	}
	for _, tt := range tests {
		ft := newFText(tt.line)
		role, _, value, ok := labelOf(ft)
		if tt.role == "" {
			if ok {
				t.Errorf("%q: label %s", tt.line, role)
			}
			continue
		}
		if !ok || role != tt.role || strings.TrimSpace(ft.origOf(value, len(ft.fold))) != tt.value {
			t.Errorf("%q: %v %s %q", tt.line, ok, role, ft.origOf(value, len(ft.fold)))
		}
	}
}

func TestGarbagePages(t *testing.T) {
	pages := []pdf.Page{
		{Number: 1, Text: "Compte rendu de consultation. Patiente : Mme DUPRÉ Jeanne, née le 12/03/1956 ; 88 µmol/L."},
		{Number: 2, Text: "❈ ✁✂✄ ☎✆✝✞✟✂✠✡✟ ✄ ☛ ☞✠✡✌✆✁✂ ❙✍✎✏✑✒✍ ✓✍ ✒✔✎✓✑✕✖✕✗✑✍"},
		{Number: 3, Text: "✁✂"}, // too short to judge
	}
	if got := garbagePages(pages); !reflect.DeepEqual(got, []int{2}) {
		t.Errorf("garbagePages = %v", got)
	}
}

// page builds a page from (x, top, text) lines, 10 points high, top measured down from 842.
func page(n int, lines ...any) pdf.Page {
	p := pdf.Page{Number: n}
	for i := 0; i+2 < len(lines); i += 3 {
		x, top, text := lines[i].(float64), lines[i+1].(float64), lines[i+2].(string)
		y1 := 842 - top
		p.Lines = append(p.Lines, pdf.Line{Text: text, X0: x, Y0: y1 - 10, X1: x + 5.5*float64(len([]rune(text))), Y1: y1})
	}
	texts := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		texts[i] = l.Text
	}
	p.Text = strings.Join(texts, "\n")
	return p
}

// TestReadLetterAuthor: the structure's own addresses, the letterhead and the signature are
// never recipients, wherever they are printed.
func TestReadLetterAuthor(t *testing.T) {
	letter := page(1,
		56.0, 50.0, "Centre Hospitalier de Valmont",
		56.0, 64.0, "Unité de dialyse - dialyse@ch-valmont.mssante.fr",
		56.0, 200.0, "Destinataire : dialyse@ch-valmont.mssante.fr",
		56.0, 214.0, "Copie à : Dr Hélène ROUSSEL",
		56.0, 260.0, "Objet : Lettre de liaison",
		56.0, 280.0, "Patiente : Mme DUPRÉ Jeanne Marie, née le 12/03/1956",
		56.0, 320.0, "Bien confraternellement,",
		330.0, 350.0, "Dr Hélène ROUSSEL",
	)
	r := NewReader(testExtractor, fakeTrust{}, WithOwnAddresses("Dialyse@CH-Valmont.mssante.fr"))
	got := r.readLetter([]pdf.Page{letter})
	if len(got.to)+len(got.cc) != 0 || len(got.recipientProblems) != 0 {
		t.Errorf("recipients %+v %+v, problems %q", got.to, got.cc, got.recipientProblems)
	}
	if got.patient.family != "DUPRÉ" || got.patient.birth != "1956-03-12" {
		t.Errorf("patient %+v", got.patient)
	}
}

// TestTagsWinOverLetter: recipients from the software (tags, metadata, sidecar) are used
// whole; the letter's are not added to them, and its problems about recipients do not count.
func TestTagsWinOverLetter(t *testing.T) {
	r := NewReader(testExtractor, fakeTrust{})
	res := Result{Recipients: []Recipient{}, Reasons: []string{}}
	tag := &found{source: SourceTag, to: []Recipient{{Address: "paul.mercier@medecin.mssante.fr", Role: RoleTo, Source: SourceTag}}}
	letter := &letterFound{
		to:                []Recipient{{Address: "autre@medecin.mssante.fr", Role: RoleTo, Source: SourceText}},
		cc:                []Recipient{{Address: "copie@medecin.mssante.fr", Role: RoleCc, Source: SourceText}},
		recipientProblems: []string{"« Dr X » : plusieurs professionnels"},
	}
	r.merge(&res, []*found{tag}, nil, letter, time.Now())
	if len(res.Recipients) != 1 || res.Recipients[0].Address != "paul.mercier@medecin.mssante.fr" || len(res.Reasons) != 0 {
		t.Errorf("recipients %+v, reasons %q", res.Recipients, res.Reasons)
	}
}

func TestCheckAgainstINS(t *testing.T) {
	tests := []struct {
		pt      Patient
		reasons int
	}{
		{Patient{INS: "256036912304545", INSKeyValid: true, BirthDate: "1956-03-12", Sex: "F"}, 0},
		{Patient{INS: "256036912304545", INSKeyValid: true, BirthDate: "1957-04-12", Sex: "F"}, 1},
		{Patient{INS: "256036912304545", INSKeyValid: true, BirthDate: "1956-03-12", Sex: "M"}, 1},
		{Patient{INS: "256036912304545", INSKeyValid: false, BirthDate: "1957-04-12", Sex: "M"}, 0}, // a wrong key is its own reason
	}
	for _, tt := range tests {
		res := Result{Patient: tt.pt}
		checkAgainstINS(&res)
		if len(res.Reasons) != tt.reasons {
			t.Errorf("%+v: reasons %q", tt.pt, res.Reasons)
		}
	}
}
