package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCreateUpdateDue(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Now()
	id := NewID(now)
	j := Job{ID: id, Input: "depot", Box: "bio", State: StateClaimed, MessageID: NewMessageID(id, "ch.mssante.fr"), Reading: []byte(`{"a":1}`)}
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, j); err == nil {
		t.Fatal("creating the same id twice must fail")
	}
	got, err := s.Get(ctx, id)
	if err != nil || got.MessageID != j.MessageID || string(got.Reading) != `{"a":1}` {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	later := now.Add(time.Hour)
	if _, err := s.Update(ctx, id, func(j *Job) error {
		j.State = StateRouted
		j.NextAttempt = later
		j.Tries++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	due, _ := s.Due(ctx, StateRouted, now, 10)
	if len(due) != 0 {
		t.Errorf("job due before its time: %v", due)
	}
	due, _ = s.Due(ctx, StateRouted, later.Add(time.Second), 10)
	if len(due) != 1 || due[0].ID != id || due[0].Box != "bio" || due[0].State != StateRouted || !due[0].NextAttempt.Equal(later.Truncate(time.Millisecond)) {
		t.Errorf("due = %+v", due)
	}
	if next, ok, err := s.NextAttempt(ctx, StateRouted, now); err != nil || !ok || !next.Equal(later.Truncate(time.Millisecond)) {
		t.Errorf("NextAttempt = %v %v %v, want %v", next, ok, err, later)
	}
	if _, ok, _ := s.NextAttempt(ctx, StateRouted, later); ok {
		t.Error("NextAttempt after the only retry time found one")
	}
	boom := errors.New("boom")
	if _, err := s.Update(ctx, id, func(j *Job) error { j.State = StateSent; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error = %v", err)
	}
	if g, _ := s.Get(ctx, id); g.State != StateRouted {
		t.Errorf("aborted update was written: %s", g.State)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v", err)
	}
	counts, _ := s.Counts(ctx)
	if len(counts) != 1 || counts[0].N != 1 || counts[0].State != StateRouted {
		t.Errorf("counts = %+v", counts)
	}
}

func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := NewID(time.Now())
	if err := s.Create(ctx, Job{ID: id, Input: "i", State: StateClaimed, MessageID: "<x@y>"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Update(ctx, id, func(j *Job) error { j.Tries++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if j, _ := s.Get(ctx, id); j.Tries != 20 {
		t.Errorf("tries = %d, want 20 (lost update)", j.Tries)
	}
}

func TestReopenKeepsJobs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, Job{ID: "a", Input: "i", State: StateSending, MessageID: "<a@b>"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	jobs, err := s2.List(ctx, Filter{States: []State{StateSending}})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("after reopen: %v, %v", jobs, err)
	}
}

func TestReceivedLedger(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	x := Received{ID: "r1", Box: "bio", Mailbox: "INBOX", UIDValidity: 7, UID: 42, MessageID: "<m@x>", Kind: "document", State: "fetched"}
	if err := s.PutReceived(ctx, x); err != nil {
		t.Fatal(err)
	}
	x.State, x.Files = "deposited", []string{"a.pdf", "a.json"}
	if err := s.PutReceived(ctx, x); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.GetReceived(ctx, "bio", "INBOX", 7, 42)
	if err != nil || !ok || got.State != "deposited" || len(got.Files) != 2 {
		t.Fatalf("GetReceived = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := s.GetReceived(ctx, "bio", "INBOX", 8, 42); ok {
		t.Error("another UIDVALIDITY must be another message")
	}
	if dup, ok, _ := s.ReceivedByMessageID(ctx, "bio", "<m@x>"); !ok || dup.ID != "r1" {
		t.Error("same Message-ID not found")
	}
	if err := s.PutReceived(ctx, Received{ID: "r2", Box: "bio", Mailbox: "INBOX", UIDValidity: 7, UID: 42, State: "fetched"}); err == nil {
		t.Error("a second record for the same UID must be refused")
	}
}

func TestForgetOnlyAbandonedClaims(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	s.Create(ctx, Job{ID: "a", Input: "i", State: StateClaiming, MessageID: "<a@x>"})
	s.Create(ctx, Job{ID: "b", Input: "i", State: StateClaimed, MessageID: "<b@x>"})
	if err := s.Forget(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "b"); err == nil {
		t.Error("a claimed job must not be forgotten")
	}
	if _, err := s.Get(ctx, "b"); err != nil {
		t.Error(err)
	}
}
