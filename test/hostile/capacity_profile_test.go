package hostile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// TestBurstHeapProfile is the burst of TestBurstOf1000Documents in this process, for the heap
// profiles `mssbridge run` cannot write: CAPACITY_PROFILE=DIR writes DIR/heap-before.pb.gz
// (bridge started), heap-peak.pb.gz (when the live heap was largest) and heap-after.pb.gz,
// and logs the Go runtime's memory classes before and at the peak. Where the burst allocates:
//
//	go tool pprof -sample_index=alloc_space -base DIR/heap-before.pb.gz -top DIR/heap-after.pb.gz
//
// The operator runs in this process too: its allocations (operator.*, imapmemserver) are not
// the bridge's. Skipped without CAPACITY_PROFILE.
func TestBurstHeapProfile(t *testing.T) {
	out := os.Getenv("CAPACITY_PROFILE")
	if out == "" {
		t.Skip("a diagnostic: CAPACITY_PROFILE=DIR writes heap profiles of an in-process burst")
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	// Default watch settings, as the real burst.
	r := newRig(t, rigOptions{watch: "{}"})
	stage := filepath.Join(r.dir, "stage")
	for _, d := range []string{stage, r.input} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := range burstDocs {
		if err := os.WriteFile(filepath.Join(stage, fmt.Sprintf("lettre-%04d.pdf", i)), gen.Tagged(gen.Dupont, fmt.Sprintf("Capacite %04d", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.start()
	time.Sleep(3 * time.Second)
	runtime.GC()

	names := []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes", "/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/stacks:bytes", "/memory/classes/metadata/other:bytes",
		"/memory/classes/other:bytes", "/memory/classes/total:bytes", "/gc/heap/goal:bytes"}
	read := func() []uint64 {
		s := make([]metrics.Sample, len(names))
		for i := range s {
			s[i].Name = names[i]
		}
		metrics.Read(s)
		v := make([]uint64, len(s))
		for i := range s {
			v[i] = s[i].Value.Uint64()
		}
		return v
	}
	writeHeap := func(name string) {
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Error(err)
		}
	}
	before := read()
	writeHeap("heap-before.pb.gz")

	peak := make([]uint64, len(names))
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if v := read(); v[0] > peak[0] {
				copy(peak, v)
				writeHeap("heap-peak.pb.gz")
			}
		}
	}()
	t0 := time.Now()
	ents, err := os.ReadDir(stage)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(r.input, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err = r.op.WaitDeliveries(ctx, burstDocs)
	took := time.Since(t0)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	writeHeap("heap-after.pb.gz")
	var b strings.Builder
	for i, n := range names {
		fmt.Fprintf(&b, "\n  %-40s before %6.1f MB, at the live heap's peak %6.1f MB", n, float64(before[i])/1e6, float64(peak[i])/1e6)
	}
	t.Logf("%d letters delivered in %s; Go runtime memory:%s\nprofiles in %s", burstDocs, took.Round(100*time.Millisecond), b.String(), out)
}
