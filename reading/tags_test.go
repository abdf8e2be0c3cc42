package reading

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestScanTags(t *testing.T) {
	tests := []struct {
		name string
		in   string
		meta bool
		want []rawTag
	}{
		{"plain", "#MSS-TO: a@b.mssante.fr", false, []rawTag{{"TO", "a@b.mssante.fr", true}}},
		{"lower case, spaces", "#mss-to :  a@b.mssante.fr ", false, []rawTag{{"TO", "a@b.mssante.fr", true}}},
		{"no space", "#Mss-Patient:X|Y|2000-01-01", false, []rawTag{{"PATIENT", "X|Y|2000-01-01", true}}},
		{"two on a line", "#MSS-TO: a@b.fr #MSS-CC: c@d.fr", false,
			[]rawTag{{"TO", "a@b.fr", true}, {"CC", "c@d.fr", true}}},
		{"after other text", "Dr X   #MSS-BOX: bio", false, []rawTag{{"BOX", "bio", true}}},
		{"no colon", "#MSS-TO a@b.fr", false, []rawTag{{"TO", "a@b.fr", false}}},
		{"digit in key", "#MSS-T0: a@b.fr", false, []rawTag{{"T0", "a@b.fr", true}}},
		{"empty value", "#MSS-TITLE:", false, []rawTag{{"TITLE", "", true}}},
		{"no tag", "Patiente : MOREL Alice", false, nil},
		{"MSS without # in text is not a tag", "MSS-TO: a@b.fr", false, nil},
		{"metadata with ;", "#MSS-TO: a@b.fr, c@d.fr; #MSS-PATIENT: X|Y|2000-01-01", true,
			[]rawTag{{"TO", "a@b.fr, c@d.fr", true}, {"PATIENT", "X|Y|2000-01-01", true}}},
		{"metadata without #", "MSS-TO: a@b.fr; MSS-TITLE: Titre", true,
			[]rawTag{{"TO", "a@b.fr", true}, {"TITLE", "Titre", true}}},
		{"metadata: not inside a word", "secretariat.mss-to@x.fr", true, nil},
	}
	for _, tt := range tests {
		re := textTagRE
		if tt.meta {
			re = metaTagRE
		}
		if got := scanTags(tt.in, re); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: scanTags(%q) = %+v, want %+v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestTagParser(t *testing.T) {
	const okINS = "256037512345654"
	tests := []struct {
		name     string
		lines    []string
		to, cc   []string
		family   string
		given    string
		birth    string
		place    string
		ins      string
		box      string
		title    string
		problems []string // prefixes, in order
	}{
		{name: "full", lines: []string{
			"#MSS-TO: a@b.mssante.fr, C@D.MSSANTE.FR", "#MSS-CC: e@f.mssante.fr",
			"#MSS-PATIENT: DUPONT | Marie  Claire | 1956-03-12 | 2 56 03 75 123 456 54",
			"#MSS-BOX: biologie", "#MSS-TITLE: Compte rendu"},
			to: []string{"a@b.mssante.fr", "C@d.mssante.fr"}, cc: []string{"e@f.mssante.fr"},
			family: "DUPONT", given: "Marie Claire", birth: "1956-03-12", ins: okINS, box: "biologie", title: "Compte rendu"},
		{name: "INS alone", lines: []string{"#MSS-INS: " + okINS}, ins: okINS},
		{name: "same tag on every page", lines: []string{"#MSS-INS: " + okINS, "#MSS-INS: 2 56 03 75 123 456 54", "#MSS-TO: a@b.fr", "#MSS-TO: a@b.fr"},
			ins: okINS, to: []string{"a@b.fr"}},
		{name: "to and cc: to wins", lines: []string{"#MSS-CC: a@b.fr", "#MSS-TO: a@b.fr"}, to: []string{"a@b.fr"}},
		{name: "malformed address", lines: []string{"#MSS-TO: x@, a@b.fr"}, to: []string{"a@b.fr"},
			problems: []string{"Balise #MSS-TO illisible : adresse « x@ » invalide"}},
		{name: "wrong INS key", lines: []string{"#MSS-INS: 1 39 08 2A 004 088 72"},
			problems: []string{"Balise #MSS-INS illisible : la clé de l'INS « 139082A00408872 » ne correspond pas"}},
		{name: "INS not an INS", lines: []string{"#MSS-INS: 12345"},
			problems: []string{"Balise #MSS-INS illisible : INS « 12345 » invalide (l'INS doit compter 15 caractères"}},
		{name: "impossible date", lines: []string{"#MSS-PATIENT: MARTIN|Paul|1985-02-30"},
			problems: []string{"Balise #MSS-PATIENT illisible : date « 1985-02-30 » impossible"}},
		{name: "patient with bad INS keeps nothing", lines: []string{"#MSS-PATIENT: MARTIN|Paul|1985-02-01|185020000000000"},
			problems: []string{"Balise #MSS-PATIENT illisible : la clé de l'INS"}},
		{name: "patient fields missing", lines: []string{"#MSS-PATIENT: MARTIN|1985-02-01"},
			problems: []string{"Balise #MSS-PATIENT illisible : attendu NOM|Prénoms|AAAA-MM-JJ"}},
		{name: "patient empty names", lines: []string{"#MSS-PATIENT: | |1985-02-01"},
			problems: []string{"Balise #MSS-PATIENT illisible : nom de famille vide", "Balise #MSS-PATIENT illisible : prénoms vides"}},
		{name: "two patients", lines: []string{"#MSS-PATIENT: A|B|2000-01-01", "#MSS-PATIENT: C|D|2000-01-01"},
			family: "A", given: "B", birth: "2000-01-01",
			problems: []string{"Balise #MSS-PATIENT répétée avec des valeurs différentes"}},
		{name: "INS and PATIENT disagree", lines: []string{"#MSS-PATIENT: A|B|1956-03-12|" + okINS, "#MSS-INS: 272096912304536"},
			family: "A", given: "B", birth: "1956-03-12", ins: okINS,
			problems: []string{"Balise #MSS-PATIENT et Balise #MSS-INS donnent deux INS différents"}},
		{name: "unknown key", lines: []string{"#MSS-T0: a@b.fr"}, problems: []string{"Balise #MSS-T0 inconnue"}},
		{name: "birth place", lines: []string{"#MSS-PATIENT: A|B|1956-03-12|" + okINS + "|75056"},
			family: "A", given: "B", birth: "1956-03-12", ins: okINS, place: "75056"},
		{name: "corsican birth place", lines: []string{"#MSS-PATIENT: A|B|1956-03-12||2a004"},
			family: "A", given: "B", birth: "1956-03-12", place: "2A004"},
		{name: "bad birth place", lines: []string{"#MSS-PATIENT: A|B|1956-03-12|" + okINS + "|Paris"}, ins: okINS,
			problems: []string{"Balise #MSS-PATIENT illisible : lieu de naissance « PARIS »"}},
		{name: "no colon", lines: []string{"#MSS-TO a@b.fr"}, problems: []string{"Balise #MSS-TO illisible : « : » manquant"}},
		{name: "empty value", lines: []string{"#MSS-TO:"}, problems: []string{"Balise #MSS-TO illisible : valeur vide"}},
		{name: "bad box", lines: []string{"#MSS-BOX: bio logie"}, problems: []string{"Balise #MSS-BOX illisible : identifiant de boîte"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTagParser(SourceTag, testNow)
			for _, l := range tt.lines {
				for _, tag := range scanTags(l, textTagRE) {
					p.add(tag)
				}
			}
			f := p.f
			if got := addresses(f.to); !reflect.DeepEqual(got, tt.to) {
				t.Errorf("to = %v, want %v", got, tt.to)
			}
			if got := addresses(f.cc); !reflect.DeepEqual(got, tt.cc) {
				t.Errorf("cc = %v, want %v", got, tt.cc)
			}
			if f.birthPlace != tt.place {
				t.Errorf("birth place = %q, want %q", f.birthPlace, tt.place)
			}
			if f.family != tt.family || f.given != tt.given || f.birth != tt.birth || f.ins != tt.ins {
				t.Errorf("patient = %q|%q|%q|%q, want %q|%q|%q|%q", f.family, f.given, f.birth, f.ins, tt.family, tt.given, tt.birth, tt.ins)
			}
			if f.box != tt.box || f.title != tt.title {
				t.Errorf("box, title = %q, %q; want %q, %q", f.box, f.title, tt.box, tt.title)
			}
			checkPrefixes(t, f.problems, tt.problems)
		})
	}
}

func addresses(rs []Recipient) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Address)
	}
	return out
}

func checkPrefixes(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("reasons = %q, want %d starting %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("reason %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}
