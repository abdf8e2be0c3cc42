package trust

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestValidAddress(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		addr string
		ok   bool
		why  string // part of the error, when not ok
	}{
		{"jean.martin@medecin.mssante.fr", true, ""},
		{"Jean.Martin@MEDECIN.MSSANTE.FR", true, ""},
		{"noreply-biologie@ch-exemple.mssante.fr", true, ""},
		{"256037512345678@patient.mssante.fr", true, ""},
		{"a+b_c!#$%&'*/=?^`{|}~-d@x.mssante.fr", true, ""},
		{`"jean@martin"@medecin.mssante.fr`, true, ""},
		{`"a\"b"@medecin.mssante.fr`, true, ""},
		{"x@xn--mdecin-bva.mssante.fr", true, ""},
		{"x@" + long63 + ".mssante.fr", true, ""},

		{"", false, "empty"},
		{"jean.martin", false, "no @"},
		{"@medecin.mssante.fr", false, "empty local part"},
		{"jean@", false, "domain: empty"},
		{"jean@martin@medecin.mssante.fr", false, "more than one @"},
		{"jean martin@medecin.mssante.fr", false, "space"},
		{`"jean martin"@medecin.mssante.fr`, false, "space"},
		{" jean@medecin.mssante.fr", false, "space"},
		{"jean@medecin.mssante.fr\n", false, "control"},
		{"jean\t@medecin.mssante.fr", false, "control"},
		{"jean@medecin.mssante.fr.", false, "trailing dot"},
		{".jean@medecin.mssante.fr", false, "dot"},
		{"jean.@medecin.mssante.fr", false, "dot"},
		{"jean..martin@medecin.mssante.fr", false, "dot"},
		{"jean@médecin.mssante.fr", false, "non-ASCII"},
		{"jéan@medecin.mssante.fr", false, "non-ASCII"},
		{"jean@medecin.mssante.fr\u200b", false, "non-ASCII"},
		{"jean@localhost", false, "single label"},
		{"jean@[192.0.2.1]", false, "literal"},
		{"jean@medecin..mssante.fr", false, "empty label"},
		{"jean@-medecin.mssante.fr", false, "hyphen"},
		{"jean@medecin-.mssante.fr", false, "hyphen"},
		{"jean@med_ecin.mssante.fr", false, "not allowed"},
		{"x@" + long63 + "a.mssante.fr", false, "label longer"},
		{strings.Repeat("a", 65) + "@x.mssante.fr", false, "local part longer"},
		{"a@" + strings.Repeat(long63+".", 4) + "fr", false, "longer than 254"},
		{`"unterminated@medecin.mssante.fr`, false, "unterminated"},
		{`""@medecin.mssante.fr`, false, "empty quoted"},
		{`"a"b"@medecin.mssante.fr`, false, "unescaped quote"},
		{"jean(comment)@medecin.mssante.fr", false, "not allowed"},
		{"<jean@medecin.mssante.fr>", false, "not allowed"},
		{"Jean <jean@medecin.mssante.fr>", false, "space"},
	}
	for _, tc := range tests {
		err := ValidAddress(tc.addr)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidAddress(%q) = %v, want nil", tc.addr, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidAddress(%q) = nil, want error ~%q", tc.addr, tc.why)
			continue
		}
		if !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ValidAddress(%q) = %v, does not wrap ErrInvalidAddress", tc.addr, err)
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ValidAddress(%q) = %v, want ~%q", tc.addr, err, tc.why)
		}
		if tc.addr != "" && strings.Contains(err.Error(), tc.addr) {
			t.Errorf("error repeats the address: %v", err)
		}
	}
}

func TestContainsAny(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		in   bool
	}{
		{"jean.martin@medecin.mssante.fr", true},
		{"JEAN@MEDECIN.MSSANTE.FR", true},
		{"x@ch-exemple.mssante.fr", true},
		{"x@a.b.c.mssante.fr", true},
		{"x@mssante.fr", true},
		{"256037512345678@patient.mssante.fr", true},

		{"x@medecin.mssante.fr.example.net", false},
		{"x@mssante.fr.evil", false},
		{"x@fakemssante.fr", false},
		{"x@mssante-fr.com", false},
		{"x@mssante.com", false},
		{"x@gmail.com", false},
		{"x@medecin.mssante.fr.", false},
		{"x@xn--mssant-bva.fr", false},
		{"x@mssanté.fr", false},
		{"x@evil.com@medecin.mssante.fr", false},
		{`"x@evil.com"@medecin.mssante.fr`, true}, // the domain is the part after the last @, outside the quotes
		{"medecin.mssante.fr", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := s.Contains(tc.addr); got != tc.in {
			t.Errorf("Any.Contains(%q) = %v, want %v", tc.addr, got, tc.in)
		}
	}
	if !s.AnyUnderRoot() {
		t.Error("AnyUnderRoot = false")
	}
}

const listeBlanche = `<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema" date="2026-01-05">
  <Operateur>
    <Nom>Opérateur A</Nom>
    <Domaine>
      <Nom>medecin.mssante.fr</Nom>
    </Domaine>
    <Domaine>
      <Nom>
        CH-Exemple.MSSante.fr
      </Nom>
    </Domaine>
  </Operateur>
  <Operateur>
    <Nom>Opérateur Malin</Nom>
    <Domaine><Nom>evil.example.com</Nom></Domaine>
    <Domaine><Nom>mssante.fr.evil</Nom></Domaine>
    <Domaine><Nom>pas un domaine</Nom></Domaine>
    <Domaine><Nom>patient.mssante.fr</Nom></Domaine>
  </Operateur>
</ListeBlanche>
`

// Same content with a prefix and no default namespace: matching is by local name.
const listeBlanchePrefixed = `<lb:ListeBlanche xmlns:lb="https://listeblanche.mssante.fr/schema">
<lb:Domaine><lb:Nom>medecin.mssante.fr</lb:Nom></lb:Domaine>
<lb:Domaine><lb:Nom>ch-exemple.mssante.fr</lb:Nom></lb:Domaine>
<lb:Domaine><lb:Nom>patient.mssante.fr</lb:Nom></lb:Domaine>
</lb:ListeBlanche>`

const textList = "\ufeff# liste blanche locale\n" +
	"medecin.mssante.fr\n" +
	"\n" +
	"  CH-EXEMPLE.mssante.fr.   # trailing dot and case are fine in the file\r\n" +
	"patient.mssante.fr\n" +
	"example.com\n"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadList(t *testing.T) {
	files := []struct {
		name, content string
		ignored       int
	}{
		{"listeblanche.xml", listeBlanche, 3},
		{"prefixed.xml", listeBlanchePrefixed, 0},
		{"domains.txt", textList, 1},
	}
	want := []string{"ch-exemple.mssante.fr", "medecin.mssante.fr", "patient.mssante.fr"}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			s, err := Load(writeFile(t, f.name, f.content))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Domains(); !slices.Equal(got, want) {
				t.Fatalf("Domains = %v, want %v", got, want)
			}
			if got := len(s.Ignored()); got != f.ignored {
				t.Fatalf("Ignored = %+v, want %d entries", s.Ignored(), f.ignored)
			}
			for _, ig := range s.Ignored() {
				if ig.Line == 0 || ig.Reason == "" {
					t.Errorf("ignored entry without line or reason: %+v", ig)
				}
			}
			tests := []struct {
				addr string
				in   bool
			}{
				{"jean@medecin.mssante.fr", true},
				{"JEAN@Medecin.MSSante.FR", true},
				{"sec@ch-exemple.mssante.fr", true},
				{"256037512345678@patient.mssante.fr", true},
				{"x@other.mssante.fr", false},       // under mssante.fr but not listed
				{"x@sub.medecin.mssante.fr", false}, // exact match only
				{"x@mssante.fr", false},
				{"x@evil.example.com", false}, // listed, but outside mssante.fr
				{"x@example.com", false},
				{"x@mssante.fr.evil", false},
				{"x@medecin.mssante.fr.example.net", false},
				{"x@medecin.mssante.fr.", false},
			}
			for _, tc := range tests {
				if got := s.Contains(tc.addr); got != tc.in {
					t.Errorf("Contains(%q) = %v, want %v", tc.addr, got, tc.in)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"bad.txt", "medecin.mssante.fr\nnot a domain\n", "bad.txt:2:"},
		{"address.txt", "# ok\njean@medecin.mssante.fr\n", "address.txt:2:"},
		{"wildcard.txt", "*.mssante.fr\n", "wildcard.txt:1:"},
		{"unicode.txt", "médecin.mssante.fr\n", "unicode.txt:1:"},
		{"empty.txt", "# nothing\n\n", "no domain under mssante.fr"},
		{"outside.txt", "example.com\n", "no domain under mssante.fr"},
		{"broken.xml", "<ListeBlanche><Domaine><Nom>a.mssante.fr</Nom>", "XML"},
		{"nodomain.xml", "<ListeBlanche/>", "no domain"},
	}
	for _, tc := range tests {
		_, err := Load(writeFile(t, tc.name, tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want error ~%q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestNewAndZero(t *testing.T) {
	s := New("medecin.mssante.fr", "example.org", "")
	if !s.Contains("a@medecin.mssante.fr") || s.Contains("a@example.org") {
		t.Error("New: wrong membership")
	}
	if len(s.Ignored()) != 2 {
		t.Errorf("New: ignored = %+v", s.Ignored())
	}
	var zero Space
	if zero.Contains("a@medecin.mssante.fr") {
		t.Error("zero Space contains an address")
	}
	var nilSpace *Space
	if nilSpace.Contains("a@medecin.mssante.fr") {
		t.Error("nil Space contains an address")
	}
}

func TestDomainAndPatient(t *testing.T) {
	tests := []struct {
		addr, domain string
		patient      bool
	}{
		{"jean@Medecin.MSSante.fr", "medecin.mssante.fr", false},
		{"256037512345678@patient.mssante.fr", "patient.mssante.fr", true},
		{"256037512345678@PATIENT.MSSANTE.FR", "patient.mssante.fr", true},
		{"256037512345678@patient.mssante.fr.evil", "patient.mssante.fr.evil", false},
		{"256037512345678@x.patient.mssante.fr", "x.patient.mssante.fr", false},
		{`"a@b"@patient.mssante.fr`, "patient.mssante.fr", true},
		{"a b@patient.mssante.fr", "patient.mssante.fr", false},
		{"no-at", "", false},
	}
	for _, tc := range tests {
		if got := Domain(tc.addr); got != tc.domain {
			t.Errorf("Domain(%q) = %q, want %q", tc.addr, got, tc.domain)
		}
		if got := IsPatientAddress(tc.addr); got != tc.patient {
			t.Errorf("IsPatientAddress(%q) = %v, want %v", tc.addr, got, tc.patient)
		}
	}
}
