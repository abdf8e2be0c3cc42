package hostile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// sentPDFs returns the PDF attachments the operator received, by attachment name.
func sentPDFs(t *testing.T, r *rig) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, d := range r.op.Deliveries() {
		p, err := inbound.Parse(d.Data, inbound.DefaultLimits)
		if err != nil {
			t.Fatalf("a delivered message does not parse: %v", err)
		}
		for _, a := range p.Attachments {
			out[a.Filename] = a.Data
		}
	}
	return out
}

// A file still being written (the minute, scaled down: chunks every 200 ms for 4 s
// against a 500 ms quiet window, then a 1.5 s pause mid-file, three quiet windows) is claimed
// once, whole, after its writer is done.
func TestFileStillBeingWrittenIsClaimedWhole(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{watch: "{quiet: 500ms, rescan: 1s, max_wait: 20s}"})
	r.start()
	doc := gen.ManyPages(20, gen.Dupont)
	path := filepath.Join(r.input, "en-cours.pdf")
	os.MkdirAll(r.input, 0o700)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	chunk := len(doc)/25 + 1
	written := 0
	for i := 0; written < len(doc); i++ {
		n := min(chunk, len(doc)-written)
		if _, err := f.Write(doc[written : written+n]); err != nil {
			t.Fatal(err)
		}
		written += n
		pause := 200 * time.Millisecond
		if i == 12 {
			pause = 1500 * time.Millisecond // longer than the quiet window: no %%EOF yet
		}
		if written < len(doc) {
			time.Sleep(pause)
			if jobs := r.jobs(); len(jobs) != 0 {
				t.Fatalf("claimed while still being written (%d of %d bytes)", written, len(doc))
			}
		}
	}
	f.Close()
	waitFor(t, 15*time.Second, "the document to be sent", func() bool {
		jobs := r.jobs()
		return len(jobs) == 1 && jobs[0].State == store.StateSent
	})
	got := sentPDFs(t, r)["en-cours.pdf"]
	if !bytes.Equal(got, doc) {
		t.Errorf("sent %d bytes, the writer wrote %d", len(got), len(doc))
	}
	if n := len(r.op.Deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	r.alive()
}

// A file that disappears right after it appeared leaves no job stuck and blocks nothing; a
// file replaced by another under the same name is sent whole (never a mix of the two).
func TestFileVanishesOrIsReplacedAfterTheEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	r.start()
	for i := 0; i < 5; i++ {
		r.drop("disparu.pdf", gen.Tagged(gen.Dupont, "Disparu"))
		time.Sleep(time.Duration(i*60) * time.Millisecond)
		os.Remove(filepath.Join(r.input, "disparu.pdf"))
	}
	v1, v2 := gen.Tagged(gen.Dupont, "Version 1"), gen.ManyPages(3, gen.Dupont)
	r.drop("remplace.pdf", v1)
	time.Sleep(100 * time.Millisecond)
	r.drop("remplace.pdf", v2) // rename over it: the reader sees one or the other, whole
	r.drop("temoin.pdf", gen.Tagged(gen.Dupont, "Temoin"))
	waitFor(t, 15*time.Second, "the witness to be sent and every job to settle", func() bool {
		jobs := r.jobs()
		sent := false
		for _, j := range jobs {
			sent = sent || (j.SourceName == "temoin.pdf" && j.State == store.StateSent)
		}
		return sent && settled(jobs)
	})
	time.Sleep(time.Second) // a late claim of the replaced file would show now
	for _, j := range r.jobs() {
		switch {
		case j.SourceName == "disparu.pdf" && j.State != store.StateSent:
			if !strings.Contains(j.LastError, "disparu") {
				t.Errorf("vanished file: %s %q", j.State, j.LastError)
			}
		case j.SourceName == "remplace.pdf" && j.State != store.StateSent:
			t.Errorf("replaced file: %s %q", j.State, j.LastError)
		}
	}
	for name, data := range sentPDFs(t, r) {
		if name == "remplace.pdf" && !bytes.Equal(data, v1) && !bytes.Equal(data, v2) {
			t.Errorf("the replaced file went out as neither version (%d bytes)", len(data))
		}
	}
	if entries, _ := os.ReadDir(r.input); len(entries) != 0 {
		t.Errorf("left in the input: %v", entries)
	}
	r.alive()
}

// A file the service cannot read yet (another program's exclusive lock on Windows; on Unix,
// permissions that shut the service out) stays in the input, blocks nothing, and is taken
// once readable.
func TestUnreadableFileWaitsWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions cannot shut the service out (Windows locks: see watcher/open_windows.go)")
	}
	r := newRig(t, rigOptions{})
	r.start()
	r.drop("verrouille.pdf", gen.Tagged(gen.Dupont, "Verrouille"))
	locked := filepath.Join(r.input, "verrouille.pdf")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	r.drop("libre.pdf", gen.Tagged(gen.Dupont, "Libre"))
	waitFor(t, 10*time.Second, "the free file to be sent", func() bool {
		for _, j := range r.jobs() {
			if j.SourceName == "libre.pdf" && j.State == store.StateSent {
				return true
			}
		}
		return false
	})
	os.Chmod(locked, 0o600)
	waitFor(t, 15*time.Second, "the unlocked file to be sent", func() bool {
		for _, j := range r.jobs() {
			if j.SourceName == "verrouille.pdf" && j.State == store.StateSent {
				return true
			}
		}
		return false
	})
}

// An input folder the service may read but not change (a share mounted read-only, rights to
// read without delete): the document stays in the input, blocks nothing, and is claimed
// once (never copied again and again into new jobs) when the folder is writable again.
func TestUndeletableInputIsNotDuplicated(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{watch: "{quiet: 200ms, rescan: 300ms, max_wait: 2s}"})
	r.drop("fige.pdf", gen.Tagged(gen.Dupont, "Fige"))
	if !shutFolder(t, r.input) {
		t.Skip("cannot make a folder unwritable here")
	}
	r.start()
	time.Sleep(4 * time.Second) // the watcher retries the claim at 1 s, 2 s...
	jobs := r.jobs()
	spool, _ := os.ReadDir(filepath.Join(r.dataDir, "spool"))
	if len(jobs) > 1 || len(spool) > 0 {
		t.Errorf("input not writable: %d jobs, %d files copied into the spool", len(jobs), len(spool))
	}
	openFolder(r.input)
	waitFor(t, 15*time.Second, "the document to be sent once the folder is writable", func() bool {
		for _, j := range r.jobs() {
			if j.State == store.StateSent {
				return true
			}
		}
		return false
	})
	// A restart finishes whatever claims were left half done: none may send it again.
	r.stopBridge()
	r.start()
	time.Sleep(1500 * time.Millisecond)
	if n := len(r.op.Deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}
