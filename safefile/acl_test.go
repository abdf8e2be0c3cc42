package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPrivateSDDL(t *testing.T) {
	tests := []struct {
		user string
		want string
	}{
		{"S-1-5-19", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-19)"},
		{"S-1-5-80-3232712927-1625117661-2590453128-1738570065-3637376297", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-80-3232712927-1625117661-2590453128-1738570065-3637376297)"},
		{"S-1-5-21-1004336348-1177238915-682003330-1001", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)"},
		// LocalSystem is SY already: no second entry.
		{"S-1-5-18", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
		{"", ""},
		{"WD", ""},
		{"S-1-5-19)(A;OICI;FA;;;WD", ""},
		{"S-1-", ""},
	}
	for _, tt := range tests {
		got, err := privateSDDL(tt.user)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("privateSDDL(%q) = %q, %v; want %q", tt.user, got, err, tt.want)
		}
	}
}

func TestIsPrivate(t *testing.T) {
	const user = "S-1-5-19"
	full := func(sid string) ace {
		return ace{typ: aceAllowed, flags: privateInheritAce, mask: fileAllAccess, sid: sid}
	}
	private := []ace{full(sidSystem), full(sidAdmins), full(user)}
	with := func(f func(a []ace) []ace) []ace {
		c := append([]ace(nil), private...)
		return f(c)
	}
	tests := []struct {
		name      string
		protected bool
		aces      []ace
		user      string
		want      bool
	}{
		{"exact", true, private, user, true},
		{"order does not matter", true, []ace{full(user), full(sidSystem), full(sidAdmins)}, user, true},
		{"LocalSystem", true, []ace{full(sidSystem), full(sidAdmins)}, sidSystem, true},
		{"inherits from the parent", false, private, user, false},
		{"Users may read", true, with(func(a []ace) []ace {
			return append(a, ace{typ: aceAllowed, flags: privateInheritAce, mask: 0x1200A9, sid: "S-1-5-32-545"})
		}), user, false},
		{"Everyone instead of the account", true, []ace{full(sidSystem), full(sidAdmins), full("S-1-1-0")}, user, false},
		{"another account", true, private, "S-1-5-20", false},
		{"not inherited by files", true, with(func(a []ace) []ace { a[2].flags = aceContInherit; return a }), user, false},
		{"inherit only", true, with(func(a []ace) []ace { a[1].flags |= aceInheritOnly; return a }), user, false},
		{"read only for the account", true, with(func(a []ace) []ace { a[2].mask = 0x1200A9; return a }), user, false},
		{"deny entry", true, with(func(a []ace) []ace { a[0].typ = 1; return a }), user, false},
		{"twice the same", true, []ace{full(sidSystem), full(sidSystem), full(user)}, user, false},
		{"empty", true, nil, user, false},
	}
	for _, tt := range tests {
		if got := isPrivate(tt.protected, tt.aces, tt.user); got != tt.want {
			t.Errorf("%s: isPrivate = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// withRestrict replaces restrict for one test (the Windows one would change real ACLs).
func withRestrict(t *testing.T, f func(dir string) error) {
	old := restrict
	restrict = f
	t.Cleanup(func() { restrict = old })
}

func TestMkdirAllRestrictsWhatItCreates(t *testing.T) {
	base := t.TempDir()
	var got []string
	withRestrict(t, func(dir string) error { got = append(got, dir); return nil })

	existing := filepath.Join(base, "import")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want string // the folder restricted, "" for none
	}{
		{filepath.Join(base, "data", "spool"), filepath.Join(base, "data")},
		{filepath.Join(base, "data", "held"), filepath.Join(base, "data", "held")},
		{filepath.Join(base, "data", "held"), ""},
		{existing, ""},
		{filepath.Join(base, "data", "sent", "2025-06") + string(filepath.Separator), filepath.Join(base, "data", "sent")},
	}
	for _, tt := range tests {
		got = nil
		if err := MkdirAll(tt.dir); err != nil {
			t.Fatalf("MkdirAll(%s): %v", tt.dir, err)
		}
		if fi, err := os.Stat(tt.dir); err != nil || !fi.IsDir() {
			t.Fatalf("MkdirAll(%s): no folder: %v", tt.dir, err)
		}
		var want []string
		if tt.want != "" {
			want = []string{tt.want}
		}
		if len(got) != len(want) || (len(want) == 1 && got[0] != want[0]) {
			t.Errorf("MkdirAll(%s) restricted %q, want %q", tt.dir, got, want)
		}
	}
	// A file where a folder should be is an error, and nothing is restricted.
	if err := os.WriteFile(filepath.Join(base, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got = nil
	if MkdirAll(filepath.Join(base, "file", "sub")) == nil || len(got) != 0 {
		t.Errorf("MkdirAll under a file: restricted %q, want an error and nothing", got)
	}
}

func TestMkdirAllUndoesWhenAccessCannotBeRestricted(t *testing.T) {
	base := t.TempDir()
	refused := errors.New("ACLs not supported")
	withRestrict(t, func(string) error { return refused })
	if err := os.Mkdir(filepath.Join(base, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := MkdirAll(filepath.Join(base, "data", "audit", "x"))
	if !errors.Is(err, refused) {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if _, err := os.Stat(filepath.Join(base, "data", "audit")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder that could not be made private is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "data")); err != nil {
		t.Errorf("a folder that was already there went: %v", err)
	}
	// And a write does not go through an unprotected folder.
	if err := WriteFile(filepath.Join(base, "data", "held", "j.json"), []byte("{}")); !errors.Is(err, refused) {
		t.Errorf("WriteFile into a folder that cannot be made private: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "data", "held")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("held/ left behind: %v", err)
	}
}
