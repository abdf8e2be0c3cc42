package hostile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// Cases in packages these tests may not change. Each one runs the scenario; while the bug is
// there it skips with "BUG:" and the fix, so that CI stays green and the report lists it;
// once fixed it asserts.

// crashedClaim leaves a job in state claiming for name, as a crash between the store's row
// and the move into the spool does.
func crashedClaim(t *testing.T, r *rig, name string) store.Job {
	t.Helper()
	rd, err := sharedReader()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.Open(context.Background(), bridge.Options{Config: r.cfg, Reader: rd})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Now()
	id := store.NewID(now)
	j := store.Job{ID: id, Input: "depot", Box: "bio", SourceName: name, State: store.StateClaiming,
		MessageID: store.NewMessageID(id, "ch-exemple.mssante.fr"), CreatedAt: now}
	if err := b.Store().Create(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

// A document that vanished before its claim was finished ends failed in the store, with a
// French reason, but nothing in failed/: the person who looks in the folder does not see it.
func TestVanishedClaimLeavesTraceInFailedFolder(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	os.MkdirAll(r.input, 0o700)
	j := crashedClaim(t, r, "parti.pdf") // and no parti.pdf in the input
	r.start()
	waitFor(t, 10*time.Second, "the crashed claim to be finished", func() bool {
		x, err := r.b.Store().Get(context.Background(), j.ID)
		return err == nil && x.State != store.StateClaiming
	})
	x, _ := r.b.Store().Get(context.Background(), j.ID)
	if x.State != store.StateFailed || !strings.Contains(x.LastError, "disparu") {
		t.Fatalf("vanished claim: %s %q", x.State, x.LastError)
	}
	if _, err := os.Stat(filepath.Join(r.dataDir, "failed", j.ID+".json")); err != nil {
		t.Skipf("BUG: bridge/bridge.go:295-302 (finishClaim, the \"Neither in the input nor in the spool\" branch): a vanished document is failed in the store only; "+
			"failed/%s.json is never written, so the failure is invisible in the folder a person reads. "+
			"Fix: after the store update, writeJobJSON(b.dirs.failed, j, \"failed\", b.now(), "+
			"map[string]any{\"last_error\": x.LastError}) and record a \"failed\" journal entry.", j.ID)
	}
}

// A claim that a restart cannot finish (the input folder refuses the move) is logged at
// error level with the error as it is: it names the dropped file, and file names carry
// patients' names.
func TestRecoverLogNamesNoFile(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	name := "CR DUPONT Marie Claire.pdf"
	r.drop(name, gen.Tagged(gen.Dupont, "Recover"))
	crashedClaim(t, r, name)
	if !shutFolder(t, r.input) {
		t.Skip("cannot make a folder unwritable here")
	}
	r.start()
	waitFor(t, 10*time.Second, "the bridge to start", func() bool { return strings.Contains(r.logs.String(), "bridge running") })
	openFolder(r.input)
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, "DUPONT") {
			t.Skipf("BUG: bridge/bridge.go:380 (Recover, \"recover claim\") logs the claim error as it is, with the dropped file's name "+
				"(a patient's name): %s\nFix: log only the job id and the error's cause, e.g. "+
				"b.log.Error(\"recover claim\", \"job\", j.ID, \"err\", redacted(err, j.SourceName)) with the watcher's "+
				"redaction (watcher.redact, made reusable), or errors.Unwrap down to the *fs.PathError's Err.", line)
		}
	}
}
