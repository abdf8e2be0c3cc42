package safefile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFileAndMove(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "doc.pdf")
	if err := WriteFile(p, []byte("%PDF-1.4 x")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if st.Mode().Perm() != FileMode {
			t.Errorf("file mode %v, want %v", st.Mode().Perm(), FileMode)
		}
		dst, _ := os.Stat(filepath.Dir(p))
		if dst.Mode().Perm() != DirMode {
			t.Errorf("dir mode %v, want %v", dst.Mode().Perm(), DirMode)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	moved := filepath.Join(dir, "c", "doc.pdf")
	if err := Move(p, moved); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(moved)
	if !bytes.Equal(got, []byte("%PDF-1.4 x")) {
		t.Errorf("moved content %q", got)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("source still there after move: %v", err)
	}
	if err := Move(p, moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("moving a missing file: %v, want ErrNotExist", err)
	}
}

func TestWriteFromErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.pdf")
	boom := errors.New("boom")
	err := WriteFrom(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a failed write left %v", entries)
	}
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".doc.pdf.123-4.tmp", ".doc.pdf.tmp", "keep.tmp", ".x.123-a.tmp", "doc.pdf"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	n, err := CleanTemp(dir)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1", n, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("left %d files, want 4", len(entries))
	}
}
