package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/store"
)

// durableCosts is what one durable step costs on the disk under the work folder, done one
// after the other: a job store commit (SQLite, WAL, synchronous=FULL) and a journal append
// (flock, write, fsync). A document takes five of each on its way (claimed, read, routed,
// sending, sent), which the per-stage split can be held against.
type durableCosts struct {
	create, update, appendJ time.Duration // mean per operation
	n                       int
	err                     error
}

func (d durableCosts) String() string {
	if d.err != nil {
		return "not measured: " + d.err.Error()
	}
	return fmt.Sprintf("store.Create %.2f ms, store.Update %.2f ms, journal Append %.2f ms (mean of %d, one at a time)",
		ms(d.create), ms(d.update), ms(d.appendJ), d.n)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func measureDurable(ctx context.Context, dir string, n int) durableCosts {
	out := durableCosts{n: n}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		out.err = err
		return out
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "jobs.db"))
	if err != nil {
		out.err = err
		return out
	}
	defer st.Close()
	ids := make([]string, n)
	t0 := time.Now()
	for i := range ids {
		now := time.Now()
		ids[i] = store.NewID(now)
		j := store.Job{ID: ids[i], Input: "depot", Box: "bench", SourceName: "doc.pdf", State: store.StateClaiming,
			MessageID: store.NewMessageID(ids[i], "bench.mssante.fr"), CreatedAt: now}
		if err := st.Create(ctx, j); err != nil {
			out.err = err
			return out
		}
	}
	out.create = time.Since(t0) / time.Duration(n)
	t0 = time.Now()
	for _, id := range ids {
		if _, err := st.Update(ctx, id, func(j *store.Job) error { j.State = store.StateClaimed; return nil }); err != nil {
			out.err = err
			return out
		}
	}
	out.update = time.Since(t0) / time.Duration(n)

	jr, err := audit.Open(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		out.err = err
		return out
	}
	defer jr.Close()
	t0 = time.Now()
	for _, id := range ids {
		if _, err := jr.Append(ctx, audit.Entry{Event: "claimed", Job: id, Input: "depot", Box: "bench", Actor: "bench",
			Detail: map[string]string{"size": "11000", "sidecar": "false"}}); err != nil {
			out.err = err
			return out
		}
	}
	out.appendJ = time.Since(t0) / time.Duration(n)
	return out
}
