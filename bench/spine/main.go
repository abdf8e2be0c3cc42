// Command spine measures mssbridge's spine — folder -> claim -> read -> route -> SMTP — in one
// run, against one peer: throughput of 200 documents dropped at once beside a bare go-smtp
// client sending the same messages, single-document latency with the default watch.quiet and
// with 100ms, and where the time goes per stage. It fails (exit 1) only when a document is
// lost, held, failed or not delivered by the peer; slowness is reported, never judged.
//
//	go run ./bench/spine -peer operator
//	go run ./bench/spine -peer postfix -env /tmp/mssbridge-ci/env
//
// See bench/README.md for what each figure means.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/trust"
)

type options struct {
	peer      string
	envFile   string
	n         int
	runs      int
	latencyN  int
	warmup    int
	fastQuiet string
	cacheDir  string
	fallback  string
	budget    time.Duration
	keep      bool
	cpuProf   string
	conns     int
}

func main() {
	var o options
	flag.StringVar(&o.peer, "peer", "operator", "SMTP peer: operator (in-process, no setup) or postfix (ci/postfix/setup.sh)")
	flag.StringVar(&o.envFile, "env", "/tmp/mssbridge-ci/env", "env file written by ci/postfix/setup.sh (with -peer postfix)")
	flag.IntVar(&o.n, "n", 200, "documents dropped at once in the throughput runs")
	flag.IntVar(&o.runs, "runs", 2, "throughput runs of each side (bridge and bare client)")
	flag.IntVar(&o.latencyN, "latency", 30, "single documents timed per watch.quiet value (0: no latency series)")
	flag.IntVar(&o.warmup, "warmup", 1, "single documents sent first, not timed")
	flag.StringVar(&o.fastQuiet, "quiet", "100ms", "watch.quiet of the second latency series (the first uses the configuration default)")
	flag.StringVar(&o.cacheDir, "cache", filepath.Join(os.TempDir(), "mssbridge-bench"), "cache for the generated PDFs and the compiled PDF reader")
	flag.StringVar(&o.fallback, "fallback", filepath.Join("demo", "samples", "01-compte-rendu-balise.pdf"), "PDF used when ps2pdf is absent")
	flag.DurationVar(&o.budget, "budget", 4*time.Minute, "time budget: latency series stop early (and say so) past it")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder and the delivered benchmark messages")
	flag.IntVar(&o.conns, "connections", 0, "sending.connections of the bridge (0: the configuration default)")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the first bridge throughput run to this file (go tool pprof)")
	flag.Parse()
	os.Exit(run(o))
}

// failures collects what is actually broken; the run goes on where it can so one report shows
// everything.
type failures []string

func (f *failures) add(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	*f = append(*f, msg)
	progress("FAILURE: %s", msg)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "· "+format+"\n", args...)
}

func run(o options) int {
	started := time.Now()
	cpuAtStart := sampleCPU()
	deadline := started.Add(o.budget)
	ctx := context.Background()
	if o.n < 1 || o.runs < 1 || o.latencyN < 0 || o.warmup < 0 {
		fmt.Fprintln(os.Stderr, "spine: -n and -runs must be at least 1, -latency and -warmup at least 0")
		return 2
	}
	var fail failures

	work, err := os.MkdirTemp("", "mssbridge-spine-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine:", err)
		return 2
	}
	if o.keep {
		progress("work folder kept: %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	// The peer.
	var p *peer
	switch o.peer {
	case "operator":
		p, err = operatorPeer(ctx, work)
	case "postfix":
		p, err = postfixPeer(o.envFile, o.keep)
	default:
		err = fmt.Errorf("-peer must be operator or postfix, not %q", o.peer)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine:", err)
		return 2
	}
	defer p.close()
	progress("peer: %s", p.description)

	// The documents.
	docs, dinfo, err := loadDocs(o.n, o.cacheDir, o.fallback)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine:", err)
		return 2
	}
	progress("documents: %d, %s (%.1f s)", len(docs), dinfo.source, dinfo.took.Seconds())

	// The reader, as cmd/mssbridge/setup.go builds it: the PDFium wasm pool with 2 workers and
	// an on-disk compilation cache, the trust space of an empty trust.domains_file.
	t0 := time.Now()
	ex, err := pdf.NewExtractor(ctx, pdf.ExtractorOptions{CacheDir: filepath.Join(o.cacheDir, "wasm"), Workers: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine: start PDF reader:", err)
		return 2
	}
	defer ex.Close()
	sp, err := trust.Load("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine:", err)
		return 2
	}
	reader := reading.NewReader(ex, sp)
	readerStart := time.Since(t0)

	// Warm both PDFium instances and check the documents are sendable as they are.
	t0 = time.Now()
	rcpt, err := warmReader(ctx, reader, docs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spine:", err)
		return 1
	}
	warm := time.Since(t0)
	progress("PDF reader: started in %.2f s, first two reads (warm-up) %.2f s; documents go to %s", readerStart.Seconds(), warm.Seconds(), rcpt)
	p.expect(rcpt)
	p.expect(p.box)

	rep := report{opts: o, peer: p, docs: docs, dinfo: dinfo, readerStart: readerStart, rcpt: rcpt, started: started, loadBefore: loadAverage(), cpuStart: cpuAtStart}

	rep.durable = measureDurable(ctx, filepath.Join(work, "durable"), 200)
	progress("durable steps: %s", rep.durable)

	// checkDelivery: every Message-ID reached the recipient's mailbox, and the queue drained.
	checkDelivery := func(label string, ids []string) {
		if len(ids) == 0 {
			return
		}
		t := time.Now()
		missing, err := p.delivered(ctx, rcpt, ids, time.Now().Add(2*time.Minute))
		switch {
		case err != nil:
			fail.add("%s: delivery check: %v", label, err)
		case len(missing) > 0:
			fail.add("%s: %d of %d message(s) accepted but not delivered to %s (e.g. %s)", label, len(missing), len(ids), rcpt, missing[0])
		}
		q, err := p.drained(ctx, []string{rcpt, p.box}, time.Now().Add(time.Minute))
		if err != nil {
			fail.add("%s: %v", label, err)
		}
		rep.deliveries = append(rep.deliveries, fmt.Sprintf("%-28s %3d/%d delivered to %s, %s (checked in %.1f s)",
			label, len(ids)-len(missing), len(ids), p.name, q, time.Since(t).Seconds()))
	}

	// 1. Throughput, interleaved: bridge, bare, bridge, bare.
	for r := 1; r <= o.runs; r++ {
		progress("throughput run %d: bridge, %d documents dropped at once", r, len(docs))
		prof := ""
		if r == 1 {
			prof = o.cpuProf
		}
		tr, err := runThroughput(ctx, filepath.Join(work, fmt.Sprintf("throughput-%d", r)), p, reader, docs, o.conns, 3*time.Minute, prof)
		if err != nil {
			fail.add("bridge throughput run %d: %v", r, err)
		} else {
			rep.bridge = append(rep.bridge, tr)
			progress("  %.1f doc/s (%.2f s)", tr.rate(), tr.elapsed.Seconds())
		}
		checkDelivery(fmt.Sprintf("bridge throughput run %d", r), tr.ids)

		progress("throughput run %d: bare go-smtp client, %d messages", r, len(docs))
		msgs, ids, err := buildMessages(docs, p.box, rcpt, fmt.Sprintf("%d-%d", started.UnixNano(), r))
		if err != nil {
			fail.add("build messages: %v", err)
			continue
		}
		before := sampleCPUProcs()
		el, err := runBare(p, msgs, ids, rcpt)
		if err != nil {
			fail.add("bare run %d: %v", r, err)
			continue
		}
		rep.bare = append(rep.bare, el)
		rep.bareCPU = append(rep.bareCPU, cpuBetween(before, sampleCPUProcs()))
		progress("  %.1f msg/s (%.2f s)", float64(len(msgs))/el.Seconds(), el.Seconds())
		checkDelivery(fmt.Sprintf("bare throughput run %d", r), ids)
	}

	// 2. Latency: the short quiet window first (it is quick), then the default one.
	quiets := []string{o.fastQuiet, ""}
	if o.latencyN == 0 {
		quiets = nil
	}
	for _, q := range quiets {
		label := "watch.quiet " + q
		if q == "" {
			label = "watch.quiet default"
		}
		progress("latency: %s, %d documents one at a time after %d warm-up", label, o.latencyN, o.warmup)
		dir := filepath.Join(work, "latency-"+strings.NewReplacer(".", "_", " ", "").Replace(q+"default"))
		lr, err := runLatency(ctx, dir, p, reader, docs, q, o.conns, o.warmup, o.latencyN, deadline)
		if err != nil {
			fail.add("latency (%s): %v", label, err)
		} else {
			lr.isDefault = q == ""
			rep.latency = append(rep.latency, lr)
			progress("  p50 %.3f s, max %.3f s", percentile(lr.total, 50).Seconds(), maxOf(lr.total).Seconds())
		}
		checkDelivery("latency "+label, lr.ids)
	}

	rep.failures = fail
	rep.print(os.Stdout)
	if len(fail) > 0 {
		return 1
	}
	return 0
}

// warmReader reads the first two documents at once (both PDFium instances start) and checks
// that the reader would send them as they are; it returns their recipient.
func warmReader(ctx context.Context, r *reading.Reader, docs []doc) (string, error) {
	var wg sync.WaitGroup
	results := make([]reading.Result, min(2, len(docs)))
	errs := make([]error, len(results))
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.ReadBytes(ctx, docs[i].name, docs[i].data, "", nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("reading the benchmark documents: %w", err)
	}
	res := results[0]
	if res.Decision != reading.DecisionSend || len(res.Recipients) == 0 {
		return "", fmt.Errorf("the reader would hold %s, not send it: %s", docs[0].name, strings.Join(res.Reasons, " ; "))
	}
	return res.Recipients[0].Address, nil
}

// ---- machine --------------------------------------------------------------------------------

func machine() string {
	parts := []string{fmt.Sprintf("nproc %d (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0)),
		runtime.GOOS + "/" + runtime.GOARCH, runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				parts = append(parts, strings.Join(strings.Fields(v), " "))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		parts = append(parts, "kernel "+strings.TrimSpace(string(data)))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); !strings.Contains(v, runtime.Version()+" ") {
			parts = append(parts, "toolchain on PATH: "+v)
		}
	}
	return strings.Join(parts, ", ")
}

// loadAverage is /proc/loadavg's first three figures ("" elsewhere): a busy machine skews
// every figure, and the report says so.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// defaultQuiet is the watch.quiet a configuration without the key gets.
var defaultQuiet = config.DefaultQuiet

func connections(o options) int {
	if o.conns > 0 {
		return o.conns
	}
	return config.DefaultConnections
}
