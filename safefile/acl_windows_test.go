//go:build windows

package safefile

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// broad are the groups that must never reach a private folder or what is inside.
var broad = map[string]string{"S-1-1-0": "Everyone", "S-1-5-32-545": "Users", "S-1-5-11": "Authenticated Users", "S-1-5-32-546": "Guests"}

func wantPrivate(t *testing.T, dir string) {
	t.Helper()
	user, err := processUser()
	if err != nil {
		t.Fatal(err)
	}
	protected, aces, err := readDACL(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !isPrivate(protected, aces, user) {
		t.Errorf("%s: DACL protected=%v %+v, want exactly SYSTEM, Administrators and %s, full control, inherited", dir, protected, aces, user)
	}
}

// wantOnly checks what a file or folder below a private folder inherited.
func wantOnly(t *testing.T, path string) {
	t.Helper()
	user, _ := processUser()
	_, aces, err := readDACL(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range aces {
		if name, bad := broad[a.sid]; bad && a.typ == aceAllowed {
			t.Errorf("%s: %s is granted %#x", path, name, a.mask)
		}
		if a.sid != sidSystem && a.sid != sidAdmins && a.sid != user {
			t.Errorf("%s: unexpected entry for %s", path, a.sid)
		}
		seen[a.sid] = true
	}
	if !seen[user] || !seen[sidAdmins] {
		t.Errorf("%s: the service account or the administrators lost access: %+v", path, aces)
	}
}

func TestMkdirAllPrivateOnWindows(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := MkdirAll(filepath.Join(data, "spool")); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, data)
	wantOnly(t, filepath.Join(data, "spool"))
	// Folders created below later, by us or by os.MkdirAll (audit.Open), and files.
	if err := WriteFile(filepath.Join(data, "held", "J1.json"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "audit"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "audit", "journal.jsonl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(data, "held"), filepath.Join(data, "held", "J1.json"), filepath.Join(data, "audit", "journal.jsonl")} {
		wantOnly(t, p)
	}
}

func TestMkdirAllLeavesAnExistingFolderAlone(t *testing.T) {
	imp := filepath.Join(t.TempDir(), "import")
	if err := os.Mkdir(imp, 0o755); err != nil {
		t.Fatal(err)
	}
	// The clinical software's folder: Users may read it.
	const sddl = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
	setSDDL(t, imp, sddl)
	before := sddlOf(t, imp)
	if err := MkdirAll(imp); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(imp, "doc.pdf"), []byte("%PDF-1.4")); err != nil {
		t.Fatal(err)
	}
	if after := sddlOf(t, imp); after != before {
		t.Errorf("the existing folder's DACL changed: %s -> %s", before, after)
	}
}

func TestMakePrivateOnWindows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "sent"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sent", "J1.pdf"), []byte("%PDF-1.4"), 0o600); err != nil {
		t.Fatal(err)
	}
	setSDDL(t, dir, "D:P(A;OICI;FA;;;WD)")
	if err := MakePrivate(dir); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, dir)
	// Windows carried the new entries down to what was already inside.
	wantOnly(t, filepath.Join(dir, "sent"))
	wantOnly(t, filepath.Join(dir, "sent", "J1.pdf"))
	// Called again, it is a no-op that still succeeds.
	if err := MakePrivate(dir); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, dir)
}

func setSDDL(t *testing.T, path, sddl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
}

func sddlOf(t *testing.T, path string) string {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	return sd.String()
}

func TestMoveTakesTheRightsOfItsNewFolder(t *testing.T) {
	base := t.TempDir()
	input := filepath.Join(base, "depot")
	if err := os.Mkdir(input, 0o755); err != nil {
		t.Fatal(err)
	}
	// An input folder where every user may read what the clinical software drops.
	setSDDL(t, input, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;FA;;;"+mustUser(t)+")")
	src := filepath.Join(input, "CR.pdf")
	if err := os.WriteFile(src, []byte("%PDF-1.4"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !grants(t, src, "S-1-5-32-545") {
		t.Fatal("precondition: the dropped file does not grant Users")
	}
	spool := filepath.Join(base, "data", "spool")
	if err := MkdirAll(spool); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(spool, "J1.pdf")
	if err := Move(src, dst); err != nil {
		t.Fatal(err)
	}
	wantOnly(t, dst)
	// The rewrite used when the DACL cannot be reset gives the same result.
	src2 := filepath.Join(input, "CR2.pdf")
	if err := os.WriteFile(src2, []byte("%PDF-1.4 two"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(spool, "J2.pdf")
	if err := os.Rename(src2, dst2); err != nil {
		t.Fatal(err)
	}
	// What the fix is for: a plain rename kept the rights from the input folder.
	if !grants(t, dst2, "S-1-5-32-545") {
		t.Error("precondition: a renamed file no longer grants Users (Windows re-inherits on rename?)")
	}
	if err := rewrite(dst2); err != nil {
		t.Fatal(err)
	}
	wantOnly(t, dst2)
	if b, _ := os.ReadFile(dst2); string(b) != "%PDF-1.4 two" {
		t.Errorf("rewritten file holds %q", b)
	}
}

func mustUser(t *testing.T) string {
	t.Helper()
	u, err := processUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func grants(t *testing.T, path, sid string) bool {
	t.Helper()
	_, aces, err := readDACL(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aces {
		if a.sid == sid && a.typ == aceAllowed {
			return true
		}
	}
	return false
}
