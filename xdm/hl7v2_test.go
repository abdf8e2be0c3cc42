package xdm

import (
	"testing"
)

func TestHL7Escaping(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"plain", "plain"},
		{`a^b|c&d~e\f`, `a\S\b\F\c\T\d\R\e\E\f`},
		{`\F\`, `\E\F\E\`},
		{"Pôle 2 & 3", `Pôle 2 \T\ 3`},
	} {
		if got := esc(c.in); got != c.out {
			t.Errorf("esc(%q) = %q, want %q", c.in, got, c.out)
		}
		if got := unesc(c.out); got != c.in {
			t.Errorf("unesc(%q) = %q, want %q", c.out, got, c.in)
		}
	}
}

func TestHL7Types(t *testing.T) {
	for _, c := range []struct {
		name, got, want string
	}{
		{"CX", cx("148112901900703", OIDINSNIR), "148112901900703^^^&1.2.250.1.213.1.4.8&ISO^NH"},
		{"XCN", xcnPS("10001234567", "MERCIER", "Paul"), "810001234567^MERCIER^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"},
		{"XCN without RPPS", xcnPS("", "MERCIER", ""), "^MERCIER^^^^^^^^D"},
		{"XCN empty", xcnPS("", "", ""), ""},
		{"XON", xonStruct("CH A^B", "1690000001"), `CH A\S\B^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1690000001`},
		{"XON name only", xonStruct("CH", ""), "CH"},
		{"XTN", xtnEmail("a@b.mssante.fr"), "^^Internet^a@b.mssante.fr"},
		{"CE", ce(Code{"G15_10/SM54", "1.2.250.1.213.1.1.4.5", "Médecin"}), "G15_10/SM54^Médecin^1.2.250.1.213.1.1.4.5"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if id, oid := parseCX("148112901900703^^^&1.2.250.1.213.1.4.8&ISO^NH"); id != "148112901900703" || oid != OIDINSNIR {
		t.Errorf("parseCX = %q %q", id, oid)
	}
	// An identifier that is not 8+RPPS (here an ADELI, prefix 0) is not taken for an RPPS.
	if rpps, fam, giv := parseXCNPS("0751234567^DURAND^Luc^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"); rpps != "" || fam != "DURAND" || giv != "Luc" {
		t.Errorf("parseXCNPS = %q %q %q", rpps, fam, giv)
	}
}

func TestIntendedRecipientRoundTrip(t *testing.T) {
	for _, r := range []Recipient{
		{Address: "a@medecin.mssante.fr"},
		{Address: "a@medecin.mssante.fr", RPPS: "10001234567", FamilyName: "A|B", GivenName: "C^D"},
		{Address: "cardio@ch.mssante.fr", Organization: `CH \ Cardio & co ~`},
		{Address: "x@y.mssante.fr", FamilyName: "ONLY"},
	} {
		if got := parseIntendedRecipient(intendedRecipient(r)); got != r {
			t.Errorf("%q read back as %+v", intendedRecipient(r), got)
		}
	}
	// Forms written by others: IHE's example with a name only, an XON with an id.
	if r := parseIntendedRecipient("Some Hospital^^^^^^^^^1.2.3.9.1789.45|^Wel^Marcus^^^Dr^MD|^^Internet^mwel@healthcare.example.org"); r.Organization != "Some Hospital" || r.FamilyName != "Wel" || r.Address != "mwel@healthcare.example.org" {
		t.Errorf("IHE example read as %+v", r)
	}
	if r := parseIntendedRecipient("Main Hospital"); r.Organization != "Main Hospital" || r.Address != "" {
		t.Errorf("XON alone read as %+v", r)
	}
}

func TestClassFor(t *testing.T) {
	for _, c := range []struct{ typ, class string }{
		{"11488-4", "10"},
		{"11490-0", "10"},
		{"60591-5", "11"},
		{"57833-6", "42"},
		{"89601-9", "52"},
		{"unknown", "10"},
	} {
		got := ClassFor(Code{Code: c.typ, System: SystemLOINC})
		if got.Code != c.class || got.System != SystemClasseDocument || got.Display == "" {
			t.Errorf("ClassFor(%s) = %+v, want %s", c.typ, got, c.class)
		}
	}
}
