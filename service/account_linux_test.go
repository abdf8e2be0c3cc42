package service

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestPrepareAccount creates a real system user: it runs only as root with
// MSSBRIDGE_INTEGRATION=1 (.ci/run's packages step), and removes the user afterwards.
func TestPrepareAccount(t *testing.T) {
	if os.Geteuid() != 0 || os.Getenv("MSSBRIDGE_INTEGRATION") != "1" {
		t.Skip("creates a system user: root and MSSBRIDGE_INTEGRATION=1 only")
	}
	b := make([]byte, 3)
	rand.Read(b)
	name := "mssbt" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "var", "lib", "mssbridge")
	shared := filepath.Join(dir, "srv", "dui", "export")
	locked := filepath.Join(dir, "locked")
	os.MkdirAll(locked, 0o700) // root's, 0700: the user cannot write there
	old := filepath.Join(dir, "olddata")
	os.MkdirAll(filepath.Join(old, "held"), 0o700)
	os.WriteFile(filepath.Join(old, "held", "x.json"), []byte("{}"), 0o600)
	cfg := filepath.Join(dir, "mssbridge.yaml")
	os.WriteFile(cfg, []byte("x"), 0o600)

	notes, err := PrepareAccount(Account{User: name, Home: data, Own: []string{data, old}, Write: []string{shared, locked}, Read: []string{cfg}})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(notes, "\n"))
	}
	all := strings.Join(notes, "\n")
	t.Log(all)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("the user was not created: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if uid >= 1000 {
		t.Errorf("uid %d: not a system user", uid)
	}
	for _, d := range []string{data, filepath.Dir(data), shared, filepath.Join(old, "held", "x.json")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if int(fi.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Errorf("%s is not the user's", d)
		}
	}
	for _, w := range []string{"created the system user " + name, "cannot write in " + locked, "cannot read " + cfg, "gave " + old} {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q", w)
		}
	}
	// Again: nothing to do, the user exists.
	notes, err = PrepareAccount(Account{User: name, Home: data, Own: []string{data}})
	if err != nil || len(notes) != 0 {
		t.Errorf("second run: %v %q", err, notes)
	}
}
