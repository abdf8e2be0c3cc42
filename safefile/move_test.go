package safefile

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// A rename refused for want of rights is not retried as copy-and-remove: that left the
// source in place and a copy behind at each try.
func TestMoveRefusedLeavesNoCopy(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("folder rights are ACLs on Windows")
	}
	src := filepath.Join(t.TempDir(), "in")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "a.pdf"), []byte("%PDF-1.4\n"), 0o600)
	// Shut the source folder: permissions for an ordinary account, the immutable attribute
	// for root (whom permissions do not stop).
	if os.Geteuid() == 0 {
		if err := exec.Command("chattr", "+i", src).Run(); err != nil {
			t.Skip("chattr unavailable:", err)
		}
		defer exec.Command("chattr", "-i", src).Run()
	} else {
		os.Chmod(src, 0o500)
		defer os.Chmod(src, 0o700)
	}
	dst := filepath.Join(t.TempDir(), "spool", "J1.pdf")
	err := Move(filepath.Join(src, "a.pdf"), dst)
	if err == nil {
		t.Fatal("move out of a shut folder succeeded")
	}
	if !IsPermanent(err) {
		t.Errorf("err = %v, want a permanent error", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("a copy was left at the destination: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src, "a.pdf")); err != nil {
		t.Errorf("the source is gone: %v", err)
	}
}
