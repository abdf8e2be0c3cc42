package account

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	if ok, err := Verify(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := Verify(h, "correct horse batterY"); ok {
		t.Error("wrong password accepted")
	}
	h2, _ := Hash("correct horse battery")
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("another password"), bcrypt.MinCost)
	if ok, err := Verify(string(b), "another password"); !ok || err != nil {
		t.Errorf("bcrypt hash: %v %v", ok, err)
	}
	if ok, _ := Verify(string(b), "nope"); ok {
		t.Error("bcrypt: wrong password accepted")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=1024$x$y", "$argon2i$v=19$m=1024,t=1,p=1$x$y"} {
		if ok, err := Verify(bad, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v", bad, ok, err)
		}
	}
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	f := Open(path)
	if users, err := f.Users(); err != nil || len(users) != 0 {
		t.Fatalf("absent file: %v %v", users, err)
	}
	now := time.Now()
	if err := f.Add("Marie.Dupont", "short", now); err == nil {
		t.Error("short password accepted")
	}
	if err := f.Add("bad login!", "long enough password", now); err == nil {
		t.Error("bad login accepted")
	}
	if err := f.Add("Marie.Dupont", "long enough password", now); err != nil {
		t.Fatal(err)
	}
	if err := f.Add("marie.dupont", "long enough password", now); !errors.Is(err, ErrExists) {
		t.Errorf("second add: %v", err)
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	}
	// Another process (the CLI) writes the file: the running desk sees it.
	other := Open(path)
	if err := other.Add("paul", "another long password", now); err != nil {
		t.Fatal(err)
	}
	u, ok, err := f.Lookup("PAUL")
	if err != nil || !ok {
		t.Fatalf("lookup after another writer: %v %v", ok, err)
	}
	if ok, _ := Verify(u.Hash, "another long password"); !ok {
		t.Error("stored hash does not verify")
	}
	if err := f.SetPassword("paul", "a new long password", now); err != nil {
		t.Fatal(err)
	}
	u, _, _ = other.Lookup("paul")
	if ok, _ := Verify(u.Hash, "a new long password"); !ok || u.Changed.IsZero() {
		t.Error("password not changed")
	}
	if err := other.Remove("paul"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Lookup("paul"); ok {
		t.Error("removed account still found")
	}
	if err := f.Remove("paul"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "long enough password") {
		t.Error("password in clear in the file")
	}
}

func TestReadPasswordFromPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("un mot de passe assez long\n")
	w.Close()
	var out strings.Builder
	pw, err := ReadPassword(r, &out, "Mot de passe : ", true)
	if err != nil || pw != "un mot de passe assez long" {
		t.Fatalf("%q %v", pw, err)
	}
}
