package hostile

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/inbound"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// shutFolder makes dir unwritable until the test ends or openFolder: permissions for an
// ordinary account; for root, which permissions do not stop, the immutable attribute
// (chattr +i, ext4 and most Linux file systems). It reports false when neither works.
func shutFolder(t *testing.T, dir string) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			return false
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	} else {
		if err := exec.Command("chattr", "+i", dir).Run(); err != nil {
			return false
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	}
	probe := dir + string(os.PathSeparator) + ".probe"
	if err := os.WriteFile(probe, nil, 0o600); err == nil {
		os.Remove(probe)
		return false
	}
	return true
}

func openFolder(dir string) {
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o700)
	} else {
		exec.Command("chattr", "-i", dir).Run()
	}
}

// runInbound runs inbound.Run in the background; stop ends it and waits.
func runInbound(r *mailRig) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inbound.Run(ctx, r.opts) }()
	stopped := false
	return ctx, func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
}

// waitAMoment lets the inbox try (and fail) a few times: its reconnection delay starts at
// one second and doubles.
const waitAMoment = 3500 * time.Millisecond

// A read-only import folder: the message stays in the INBOX, nothing is deposited; once the
// folder is writable again the message is deposited and leaves the INBOX.
func TestReadOnlyImportFolderKeepsMailOnServer(t *testing.T) {
	t.Parallel()
	r := newMailRig(t, 0)
	if !shutFolder(t, r.opts.ImportDir) {
		t.Skip("cannot make a folder unwritable here (not root with chattr, nor an ordinary account)")
	}
	r.deliver(message("attente", pdfPart("CR.pdf", gen.Tagged(gen.Dupont, "Attente"))))
	_, stop := runInbound(r)
	defer stop()
	time.Sleep(waitAMoment)
	if n := r.inboxCount(); n != 1 {
		t.Fatalf("%d messages in the INBOX while the import folder is read-only, want 1", n)
	}
	if entries, _ := os.ReadDir(r.opts.ImportDir); len(entries) != 0 {
		t.Fatalf("deposited in a read-only folder: %v", entries)
	}
	openFolder(r.opts.ImportDir)
	waitFor(t, 20*time.Second, "the deposit once the folder is writable", func() bool { return len(r.records("done")) == 1 })
	if n := r.inboxCount(); n != 0 {
		t.Errorf("%d messages left in the INBOX after the deposit", n)
	}
	if entries, _ := os.ReadDir(r.opts.ImportDir); len(entries) != 2 {
		t.Errorf("import folder: %d files, want the document and its sidecar", len(entries))
	}
}

// A missing import folder (a share not mounted, a folder deleted by mistake) is not silently
// re-created where the clinical software does not look: the message stays in the INBOX until
// the folder is back.
func TestMissingImportFolderKeepsMailOnServer(t *testing.T) {
	t.Parallel()
	r := newMailRig(t, 0)
	_, stop := runInbound(r)
	defer stop()
	time.Sleep(300 * time.Millisecond) // connected, idle
	if err := os.RemoveAll(r.opts.ImportDir); err != nil {
		t.Fatal(err)
	}
	r.deliver(message("absent", pdfPart("CR.pdf", gen.Tagged(gen.Dupont, "Absent"))))
	time.Sleep(waitAMoment)
	if _, err := os.Stat(r.opts.ImportDir); err == nil {
		t.Fatal("the missing import folder was re-created")
	}
	if n := r.inboxCount(); n != 1 {
		t.Fatalf("%d messages in the INBOX while the import folder is missing, want 1", n)
	}
	if err := os.MkdirAll(r.opts.ImportDir, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the deposit once the folder is back", func() bool { return len(r.records("done")) == 1 })
	if n := r.inboxCount(); n != 0 {
		t.Errorf("%d messages left in the INBOX after the deposit", n)
	}
}
