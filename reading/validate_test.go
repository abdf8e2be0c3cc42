package reading

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizeAndCheckAddress(t *testing.T) {
	tests := []struct {
		in, want string
		problem  string // substring of checkAddress's answer; "" for a valid address
	}{
		{"paul.mercier@medecin.mssante.fr", "paul.mercier@medecin.mssante.fr", ""},
		{"  Secretariat.Neuro@CHU-Exemple.MSSante.fr ", "Secretariat.Neuro@chu-exemple.mssante.fr", ""},
		{"mailto:a@b.mssante.fr", "a@b.mssante.fr", ""},
		{"<a@b.mssante.fr>", "a@b.mssante.fr", ""},
		{"yann.le-goff@medecin.mssante.fr", "yann.le-goff@medecin.mssante.fr", ""},
		{"o'brien+test@x.mssante.fr", "o'brien+test@x.mssante.fr", ""},
		{"x@", "x@", "domaine vide"},
		{"@medecin.mssante.fr", "@medecin.mssante.fr", "avant @ vide"},
		{"a@@b.fr", "a@@b.fr", "un seul @"},
		{"a@b@c.fr", "a@b@c.fr", "un seul @"},
		{"paul mercier@medecin.mssante.fr", "paul mercier@medecin.mssante.fr", "espace"},
		{"paul.mercier@medecin .mssante.fr", "paul.mercier@medecin .mssante.fr", "espace"},
		{"paul.mercier", "paul.mercier", "un seul @"},
		{".paul@x.mssante.fr", ".paul@x.mssante.fr", "point mal placé"},
		{"paul..m@x.mssante.fr", "paul..m@x.mssante.fr", "point mal placé"},
		{"paul@localhost", "paul@localhost", "sans point"},
		{"paul@x..fr", "paul@x..fr", "mal formé"},
		{"paul@-x.fr", "paul@-x.fr", "tiret"},
		{"paul@x_y.fr", "paul@x_y.fr", "« _ » interdit dans le domaine"},
		{"hélène@x.mssante.fr", "hélène@x.mssante.fr", "non ASCII avant"},
		{"h@médecin.mssante.fr", "h@médecin.mssante.fr", "non ASCII dans le domaine"},
		{"a(b)@x.fr", "a(b)@x.fr", "« ( » interdit"},
		{"", "", "vide"},
	}
	for _, tt := range tests {
		got := normalizeAddress(tt.in)
		if got != tt.want {
			t.Errorf("normalizeAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
		p := checkAddress(got)
		if (tt.problem == "") != (p == "") || !strings.Contains(p, tt.problem) {
			t.Errorf("checkAddress(%q) = %q, want %q", got, p, tt.problem)
		}
	}
}

func TestCheckBirthDate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct{ in, problem string }{
		{"1956-03-12", ""},
		{"2000-02-29", ""},
		{"2026-11-23", ""},
		{"1985-02-30", "impossible"},
		{"1900-02-29", "impossible"},
		{"1985-13-01", "impossible"},
		{"1985-00-10", "impossible"},
		{"2027-01-01", "futur"},
		{"1850-01-01", "impossible"},
		{"12/03/1956", "format"},
		{"1956-3-12", "format"},
		{"", "format"},
	}
	for _, tt := range tests {
		p := checkBirthDate(tt.in, now)
		if (tt.problem == "") != (p == "") || !strings.Contains(p, tt.problem) {
			t.Errorf("checkBirthDate(%q) = %q, want %q", tt.in, p, tt.problem)
		}
	}
}

func TestCheckBoxID(t *testing.T) {
	for in, ok := range map[string]bool{"biologie": true, "bio-2_x.y": true, "": false, "bio logie": false, "bio/x": false} {
		if got := checkBoxID(in) == ""; got != ok {
			t.Errorf("checkBoxID(%q) ok = %v, want %v", in, got, ok)
		}
	}
}
