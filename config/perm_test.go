package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCheckSecretFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits mean nothing on Windows: see perm_windows_test.go")
	}
	dir := t.TempDir()
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o640, false}, {0o644, false}, {0o604, false}, {0o620, false}, {0o602, false}, {0o666, false},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, "box.key")
		os.WriteFile(p, []byte("secret"), 0o600)
		if err := os.Chmod(p, tt.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckSecretFile(p)
		if (err == nil) != tt.ok {
			t.Errorf("mode %04o: err = %v, want ok=%v", tt.mode, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: the message does not say what to do: %v", tt.mode, err)
		}
	}
	// A link to a readable-by-all file is judged by its target.
	target := filepath.Join(dir, "shared.key")
	os.WriteFile(target, []byte("secret"), 0o644)
	os.Chmod(target, 0o644)
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(target, link); err == nil {
		if CheckSecretFile(link) == nil {
			t.Error("a link to a 0644 key was accepted")
		}
	}
	if CheckSecretFile(dir) == nil {
		t.Error("a folder was accepted as a key file")
	}
	if CheckSecretFile(filepath.Join(dir, "absent")) == nil {
		t.Error("a missing file was accepted")
	}
	var c Checks = OSChecks{}
	if _, ok := c.(interface{ SecretFile(string) error }); !ok {
		t.Error("OSChecks does not offer SecretFile")
	}
}
