package reading

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSidecar(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		to, cc   []string
		ins      string
		family   string
		birth    string
		title    string
		date     string
		problems []string
	}{
		{name: "extract object", json: `{"file":"a.pdf","sha256":"x","decision":"hold",
			"patient":{"ins":"2 56 03 75 123 456 54","ins_key_valid":false,"family_name":"DUPONT","given_names":"Marie","birth_date":"1956-03-12","sex":"F"},
			"recipients":[{"address":"Paul.Mercier@Medecin.MSSante.fr","rpps":"10003456781","role":"to","source":"text"},{"address":"s@x.mssante.fr","role":"cc"}],
			"document":{"title":"CR","date":"2026-11-20"}}`,
			to: []string{"Paul.Mercier@medecin.mssante.fr"}, cc: []string{"s@x.mssante.fr"},
			ins: "256037512345654", family: "DUPONT", birth: "1956-03-12", title: "CR", date: "2026-11-20"},
		{name: "role left out means to", json: `{"recipients":[{"address":"a@b.mssante.fr"}]}`, to: []string{"a@b.mssante.fr"}},
		{name: "not JSON", json: `{"patient":`, problems: []string{"Fichier compagnon « a.json » : JSON illisible"}},
		{name: "empty file", json: ``, problems: []string{"Fichier compagnon « a.json » : JSON illisible"}},
		{name: "two objects", json: `{} {}`, problems: []string{"Fichier compagnon « a.json » : JSON illisible (plusieurs objets)"}},
		{name: "bad address", json: `{"recipients":[{"address":"x@","role":"to"},{"address":"a@b.fr","role":"to"}]}`,
			to: []string{"a@b.fr"}, problems: []string{"Fichier compagnon « a.json » : adresse « x@ » invalide"}},
		{name: "bad role", json: `{"recipients":[{"address":"a@b.fr","role":"bcc"}]}`,
			problems: []string{"Fichier compagnon « a.json » : rôle « bcc » inconnu"}},
		{name: "bad RPPS", json: `{"recipients":[{"address":"a@b.fr","rpps":"123"}]}`,
			problems: []string{"Fichier compagnon « a.json » : RPPS « 123 » invalide"}},
		{name: "wrong INS key", json: `{"patient":{"ins":"139082A00408872"}}`,
			problems: []string{"Fichier compagnon « a.json » : la clé de l'INS « 139082A00408872 » ne correspond pas"}},
		{name: "impossible date", json: `{"patient":{"family_name":"X","birth_date":"1985-02-30"}}`, family: "X",
			problems: []string{"Fichier compagnon « a.json » : date « 1985-02-30 » impossible"}},
		{name: "bad document date", json: `{"document":{"date":"20/11/2026"}}`,
			problems: []string{"Fichier compagnon « a.json » : date « 20/11/2026 » au mauvais format"}},
		{name: "bad sex", json: `{"patient":{"sex":"X"}}`, problems: []string{"Fichier compagnon « a.json » : sexe « X » inconnu"}},
		{name: "too big", json: `{"x":"` + strings.Repeat("a", maxSidecarBytes) + `"}`,
			problems: []string{"Fichier compagnon « a.json » : trop volumineux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseSidecar("a.json", []byte(tt.json), testNow)
			if got := addresses(f.to); !reflect.DeepEqual(got, tt.to) {
				t.Errorf("to = %v, want %v", got, tt.to)
			}
			if got := addresses(f.cc); !reflect.DeepEqual(got, tt.cc) {
				t.Errorf("cc = %v, want %v", got, tt.cc)
			}
			for _, r := range append(f.to, f.cc...) {
				if r.Source != SourceSidecar {
					t.Errorf("%s: source %q", r.Address, r.Source)
				}
			}
			if f.ins != tt.ins || f.family != tt.family || f.birth != tt.birth || f.title != tt.title || f.date != tt.date {
				t.Errorf("ins, family, birth, title, date = %q %q %q %q %q; want %q %q %q %q %q",
					f.ins, f.family, f.birth, f.title, f.date, tt.ins, tt.family, tt.birth, tt.title, tt.date)
			}
			checkPrefixes(t, f.problems, tt.problems)
		})
	}
}
