//go:build integration && linux

package integration

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileFill writes a file into dir until the file system is full and returns its path.
func hostileFill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "remplissage.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	// Fill the last blocks too.
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
	var st syscall.Statfs_t
	syscall.Statfs(dir, &st)
	t.Logf("data disk filled: %d bytes free", st.Bavail*uint64(st.Bsize))
	return p
}

// The data disk fills up under a running bridge (data_dir on a small tmpfs): documents
// dropped meanwhile are not lost and nothing is left half-written; the bridge keeps running;
// once space returns every document is delivered, once.
func TestHostileDataDiskFull(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	c := newCase(t, goodStartTLS())
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Room for the PDF reader's compilation cache (about 40 MB) and the store.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", c.dataDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		c.stop()
		exec.Command("umount", "-l", c.dataDir).Run()
	})
	docs := []doc{}
	for i := 0; i < 4; i++ {
		docs = append(docs, doc{Name: fmt.Sprintf("plein-%d.pdf", i), Title: fmt.Sprintf("Disque plein %d", i),
			To: []string{addr("plein", fmt.Sprint(i), "medecin.mssante.fr")}, Patient: dupont(301 + i)})
	}
	pdfs := makePDFs(t, docs)
	c.start()
	// One document before the disk fills, so that the reader's cache and the store exist.
	c.drop(docs[0].Name, pdfs[0])
	c.waitFor("the first document", 90*time.Second, func() (bool, string) {
		m, _ := mailbox(docs[0].To[0])
		return len(m) == 1, "not delivered yet"
	})
	filler := hostileFill(t, c.dataDir)
	for i := 1; i < len(docs); i++ {
		c.drop(docs[i].Name, pdfs[i])
	}
	time.Sleep(8 * time.Second)
	if gone, err := c.exited(); gone {
		t.Fatalf("the bridge stopped when the disk filled: %v\n%s", err, tail(c.lastLog(), 2000))
	}
	// Every document is somewhere: still in the input, or taken whole.
	inInput := c.inputFiles()
	t.Logf("while full: %d of %d documents still in the input folder", len(inInput), len(docs)-1)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.waitFor("every document once space returned", 120*time.Second, func() (bool, string) {
		var missing []string
		for _, d := range docs[1:] {
			if m, _ := mailbox(d.To[0]); len(m) == 0 {
				missing = append(missing, d.Name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("not delivered: %v", missing)
	})
	c.waitInputEmpty(30 * time.Second)
	for _, d := range docs {
		if m, _ := mailbox(d.To[0]); len(m) != 1 {
			t.Errorf("%s: %d deliveries, want 1", d.Name, len(m))
		}
	}
	// Nothing half-written: no temporary file of ours left anywhere in data_dir.
	filepath.WalkDir(c.dataDir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if held := c.jobFiles("held"); len(held) > 0 {
		t.Errorf("%d document(s) held after the disk filled", len(held))
	}
	if failed := c.jobFiles("failed"); len(failed) > 0 {
		for _, f := range failed {
			t.Errorf("failed after the disk filled: %s", f.Raw)
		}
	}
}
