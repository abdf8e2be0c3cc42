package bridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/store"
)

// fakeClock is the real clock moved by an offset the test sets: a jump.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) jump(d time.Duration) { c.offset.Add(int64(d)) }
func deferOnce(calls *atomic.Int32) func(string, string) *smtp.SMTPError {
	return func(string, string) *smtp.SMTPError {
		if calls.Add(1) == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}
}

// A document deferred, then the bridge stopped while it was being sent, then the clock set a
// day back: its retry time and its last update lie a day ahead. Restarted, the bridge sends it
// at once, once, with its Message-ID, instead of waiting a day.
func TestClockGoingBackStrandsNothing(t *testing.T) {
	var calls atomic.Int32
	clock := &fakeClock{}
	h := newHarness(t, deferOnce(&calls))
	h.now = clock.now
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	// The first try is deferred (451); the retry comes 200 ms later and goes through. Stop
	// between the two: the job is routed with a retry time ahead.
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h.shutdown()
	jobs, _ := listAll(t, h)
	if len(jobs) != 1 || jobs[0].State == store.StateSent {
		t.Skipf("the retry went through before the stop (%d jobs); nothing to show", len(jobs))
	}
	id := jobs[0].ID

	clock.jump(-24 * time.Hour)
	h.start()
	sent := h.waitState(store.StateSent, 1)
	if sent[0].ID != id {
		t.Fatalf("sent %s, want %s", sent[0].ID, id)
	}
	if ds := h.op.Deliveries(); len(ds) != 1 || ds[0].MessageID != sent[0].MessageID {
		t.Errorf("%d deliveries, want the document once with its Message-ID", len(ds))
	}
}

// The same with the job caught in state sending by the stop: last updated "ahead" of the
// clock gone back (a day, or 30 s: less than the restart gap plus a minute, which a time
// comparison missed), it is still recovered and sent again with the same Message-ID.
func TestClockGoingBackStillRecoversInterruptedSends(t *testing.T) {
	for _, back := range []time.Duration{24 * time.Hour, 30 * time.Second} {
		t.Run(back.String(), func(t *testing.T) { recoverAfterClockBack(t, back) })
	}
}

func recoverAfterClockBack(t *testing.T, back time.Duration) {
	clock := &fakeClock{}
	h := newHarness(t, nil)
	h.now = clock.now
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	jobs := h.waitState(store.StateSent, 1)
	h.shutdown()
	markInterrupted(t, h, jobs[0].ID, clock.now)

	clock.jump(-back)
	h.start()
	h.waitState(store.StateSent, 1)
	deadline := time.Now().Add(10 * time.Second)
	for len(h.op.Deliveries()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ds := h.op.Deliveries(); len(ds) != 2 || ds[0].MessageID != ds[1].MessageID {
		t.Fatalf("%d deliveries, want the interrupted send made again with its Message-ID", len(ds))
	}
}

// The clock jumping four days forward while a server answers 4xx must not fail the document
// at its next try as if three days of retries had been made.
func TestClockGoingForwardFailsNothing(t *testing.T) {
	var calls atomic.Int32
	clock := &fakeClock{}
	h := newHarness(t, func(string, string) *smtp.SMTPError {
		calls.Add(1)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	})
	h.now = clock.now
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	clock.jump(4 * 24 * time.Hour) // give_up_after is 72 h
	for calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if calls.Load() < 4 {
		t.Fatalf("%d tries in 10 s", calls.Load())
	}
	jobs, _ := listAll(t, h)
	if len(jobs) != 1 || jobs[0].State == store.StateFailed {
		t.Fatalf("after a jump forward: %+v, want the job still retried", jobs)
	}
}

func TestMinTriesBeforeGiveUp(t *testing.T) {
	h := newHarness(t, nil)
	b := &Bridge{cfg: h.cfg}
	s := &b.cfg.Sending
	for _, tc := range []struct {
		initial, max, timeout, giveUp time.Duration
		want                          int
	}{
		// 30 s doubling to 30 min, 60 s timeouts, 72 h: 6 tries to reach the cap, then 122.
		{30 * time.Second, 30 * time.Minute, time.Minute, 72 * time.Hour, 128},
		{time.Second, time.Second, time.Second, time.Second, 1},
	} {
		s.RetryInitial, s.RetryMax, s.Timeout, s.GiveUpAfter = tc.initial, tc.max, tc.timeout, tc.giveUp
		if got := b.minTriesBeforeGiveUp(); got != tc.want {
			t.Errorf("%+v: %d tries, want %d", tc, got, tc.want)
		}
	}
}

func TestClockJump(t *testing.T) {
	a := time.Now()
	if d := clockJump(a, a.Add(5*time.Minute)); d != 0 {
		t.Errorf("five minutes of monotonic time read as a jump of %s", d)
	}
	// Without a monotonic reading both clocks are the wall clock: no jump can be seen.
	if d := clockJump(a.Round(0), a.Round(0).Add(time.Hour)); d != 0 {
		t.Errorf("wall-only readings gave %s", d)
	}
}

func listAll(t *testing.T, h *harness) ([]store.Job, error) {
	t.Helper()
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.Store().List(context.Background(), store.Filter{})
}

// markInterrupted puts a sent job back as a crash during its send leaves it: state sending,
// the document in the spool.
func markInterrupted(t *testing.T, h *harness, id string, now func() time.Time) {
	t.Helper()
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	archived, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "sent", "*", id+".pdf"))
	if len(archived) != 1 {
		t.Fatalf("archived: %v", archived)
	}
	if err := os.Rename(archived[0], filepath.Join(h.cfg.DataDir, "spool", id+".pdf")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Store().Update(context.Background(), id, func(j *store.Job) error { j.State = store.StateSending; return nil }); err != nil {
		t.Fatal(err)
	}
}

// A job whose step could not write its outcome (the store refused it: a full disk) is set
// aside instead of being taken again at once, in a loop; one whose step wrote is not.
func TestStalledJobIsSetAside(t *testing.T) {
	h := newHarness(t, nil)
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	id := store.NewID(time.Now())
	if err := b.Store().Create(ctx, store.Job{ID: id, Input: "depot", Box: "bio", SourceName: "a.pdf", State: store.StateRouted, MessageID: "<s@t>", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	var stepWrites atomic.Bool
	work := func(ctx context.Context, j store.Job) {
		runs.Add(1)
		if stepWrites.Load() {
			n := runs.Load()
			b.Store().Update(ctx, j.ID, func(x *store.Job) error { x.LastError = fmt.Sprint("written ", n); return nil })
		}
	}
	dispatchAndWait := func() {
		var wg sync.WaitGroup
		b.dispatch(ctx, ctx, &wg, store.StateRouted, nil, map[string]chan struct{}{"bio": make(chan struct{}, 1)}, work)
		wg.Wait()
	}
	stepWrites.Store(true)
	dispatchAndWait()
	dispatchAndWait()
	if runs.Load() != 2 {
		t.Fatalf("a job whose step writes was run %d times in two rounds, want 2", runs.Load())
	}
	stepWrites.Store(false)
	for range 5 {
		dispatchAndWait()
	}
	if n := runs.Load() - 2; n != 1 {
		t.Errorf("a job whose step cannot write was run %d times in five rounds, want 1 then set aside", n)
	}
}
