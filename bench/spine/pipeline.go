package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/reading"
)

// jobTimes are the moments the journal recorded one job's steps, as seen by OnEvent.
type jobTimes struct {
	claimed, read, routed, sending, sent time.Time
	messageID                            string
	events                               []string // journal entries, in order
}

// recorder is the bridge's OnEvent: it timestamps every journal entry as it is written.
type recorder struct {
	mu       sync.Mutex
	jobs     map[string]*jobTimes
	sent     int
	bad      []string // held or failed jobs: a document that will not arrive
	deferred int
	sentCh   chan string // job ids, in the order they were sent
	changed  chan struct{}
}

func newRecorder(capacity int) *recorder {
	return &recorder{jobs: map[string]*jobTimes{}, sentCh: make(chan string, capacity), changed: make(chan struct{}, 1)}
}

func (r *recorder) onEvent(e audit.Entry) {
	now := time.Now()
	r.mu.Lock()
	j := r.jobs[e.Job]
	if j == nil && e.Job != "" {
		j = &jobTimes{}
		r.jobs[e.Job] = j
	}
	if j != nil {
		j.events = append(j.events, e.Event)
	}
	switch e.Event {
	case "claimed":
		j.claimed = now
	case "read":
		j.read = now
	case "routed":
		j.routed = now
		if j.read.IsZero() {
			j.read = now // reading and routing are one journal entry now
		}
	case "sending":
		j.sending = now
	case "sent":
		j.sent = now
		j.messageID = e.MessageID
		r.sent++
		select {
		case r.sentCh <- e.Job:
		default:
		}
	case "held", "failed":
		r.bad = append(r.bad, fmt.Sprintf("job %s %s %v", e.Job, e.Event, e.Detail))
		select {
		case r.sentCh <- "":
		default:
		}
	case "deferred":
		r.deferred++
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) counts() (sent, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent, len(r.bad)
}

// snapshot returns a copy of every job's times.
func (r *recorder) snapshot() map[string]jobTimes {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]jobTimes, len(r.jobs))
	for id, j := range r.jobs {
		out[id] = *j
	}
	return out
}

// bridgeEnv is one in-process bridge over a fresh data_dir, with its own input folder.
type bridgeEnv struct {
	dir, input, stage string
	cfg               *config.Config
	b                 *bridge.Bridge
	rec               *recorder
	cancel            context.CancelFunc
	done              chan error
	logFile           *os.File
}

// startBridge writes a configuration pointing at the peer (quiet: "" keeps the default), opens
// the bridge with the real reader and runs it.
func startBridge(dir string, p *peer, reader *reading.Reader, quiet string, conns, capacity int) (*bridgeEnv, error) {
	env := &bridgeEnv{dir: dir, input: filepath.Join(dir, "depot"), stage: filepath.Join(dir, "stage")}
	for _, d := range []string{env.input, env.stage} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	extra := ""
	if quiet != "" {
		extra += "watch:\n  quiet: " + quiet + "\n"
	}
	if conns > 0 {
		extra += fmt.Sprintf("sending:\n  connections: %d\n", conns)
	}
	yaml := fmt.Sprintf(`# mssbridge benchmark (bench/spine): one box at the peer, one input, send by default.
data_dir: %q
boxes:
  - id: bench
    address: %s
    smtp:
      host: %s
      port: %d
      security: starttls
      ca_file: %q
      cert_file: %q
      key_file: %q
inputs:
  - id: depot
    path: %q
    box: bench
routing:
  default_action: send
%s`, filepath.Join(dir, "data"), p.box, p.host, p.port, p.caFile, p.certFile, p.keyFile, env.input, extra)
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("benchmark configuration: %w", err)
	}
	env.cfg = cfg
	env.logFile, err = os.Create(filepath.Join(dir, "bridge.log"))
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(env.logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	env.rec = newRecorder(capacity)
	b, err := bridge.Open(context.Background(), bridge.Options{Config: cfg, Logger: logger, Reader: reader, OnEvent: env.rec.onEvent})
	if err != nil {
		env.logFile.Close()
		return nil, fmt.Errorf("open bridge: %w", err)
	}
	env.b = b
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel, env.done = cancel, make(chan error, 1)
	go func() { env.done <- b.Run(ctx) }()
	// Run starts the watcher in a goroutine; a file dropped before it lists the folder is
	// found by that first listing anyway. The pause only keeps start-up out of the timings.
	time.Sleep(300 * time.Millisecond)
	return env, nil
}

func (env *bridgeEnv) stop() error {
	env.cancel()
	var err error
	select {
	case err = <-env.done:
	case <-time.After(30 * time.Second):
		err = fmt.Errorf("bridge did not stop within 30 s")
	}
	if cerr := env.b.Close(); err == nil {
		err = cerr
	}
	env.logFile.Close()
	return err
}

// logTail returns the last lines of the bridge's log, for failure reports.
func (env *bridgeEnv) logTail(n int) string {
	data, _ := os.ReadFile(filepath.Join(env.dir, "bridge.log"))
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stageFile writes d under a temporary folder beside the input (same file system), closed,
// ready to be renamed in.
func (env *bridgeEnv) stageFile(d doc, name string) (string, error) {
	path := filepath.Join(env.stage, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(d.data); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// throughputResult is one 200-document run of the bridge.
type throughputResult struct {
	n        int
	elapsed  time.Duration // first drop to the n-th "sent"
	drop     time.Time
	jobs     map[string]jobTimes
	ids      []string // Message-IDs sent
	deferred int
	quiet    time.Duration
	cpu      cpuUse // from the drop to the last "sent"
}

func (t throughputResult) rate() float64 { return float64(t.n) / t.elapsed.Seconds() }

// runThroughput drops every document at once into a fresh bridge and waits for them all.
func runThroughput(ctx context.Context, dir string, p *peer, reader *reading.Reader, docs []doc, conns int, timeout time.Duration, cpuProfile string) (throughputResult, error) {
	env, err := startBridge(dir, p, reader, "", conns, len(docs)+8)
	if err != nil {
		return throughputResult{}, err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			env.stop()
			return throughputResult{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
	}
	res, runErr := throughputOn(ctx, env, docs, timeout)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.quiet = env.cfg.Watch.Quiet
	if err := env.stop(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		runErr = fmt.Errorf("%w\n--- bridge log, last lines (%s)\n%s", runErr, filepath.Join(dir, "bridge.log"), env.logTail(15))
	}
	return res, runErr
}

func throughputOn(ctx context.Context, env *bridgeEnv, docs []doc, timeout time.Duration) (throughputResult, error) {
	staged := make([]string, len(docs))
	for i, d := range docs {
		var err error
		if staged[i], err = env.stageFile(d, d.name); err != nil {
			return throughputResult{}, err
		}
	}
	before := sampleCPUProcs()
	drop := time.Now()
	for i, s := range staged {
		if err := os.Rename(s, filepath.Join(env.input, docs[i].name)); err != nil {
			return throughputResult{}, err
		}
	}
	n := len(docs)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		sent, bad := env.rec.counts()
		if sent+bad >= n {
			break
		}
		select {
		case <-env.rec.changed:
		case <-deadline.C:
			return throughputResult{}, fmt.Errorf("after %s only %d of %d documents were sent (%d held or failed)", timeout, sent, n, bad)
		case <-ctx.Done():
			return throughputResult{}, ctx.Err()
		}
	}
	res := throughputResult{n: n, drop: drop, jobs: env.rec.snapshot(), cpu: cpuBetween(before, sampleCPUProcs())}
	env.rec.mu.Lock()
	bad, deferred := append([]string(nil), env.rec.bad...), env.rec.deferred
	env.rec.mu.Unlock()
	res.deferred = deferred
	if len(bad) > 0 {
		return res, fmt.Errorf("%d document(s) held or failed instead of sent: %s", len(bad), strings.Join(bad, "; "))
	}
	var last time.Time
	for _, j := range res.jobs {
		if j.sent.After(last) {
			last = j.sent
		}
		if j.messageID != "" {
			res.ids = append(res.ids, j.messageID)
		}
	}
	res.elapsed = last.Sub(drop)
	return res, nil
}

// latencyResult is one series of single documents.
type latencyResult struct {
	quiet     time.Duration
	total     []time.Duration // rename -> "sent"
	toClaimed []time.Duration // rename -> "claimed" (the watcher)
	pipeline  []time.Duration // "claimed" -> "sent"
	ids       []string
	truncated int  // documents left out because the time budget ran out
	isDefault bool // quiet is the configuration default
}

// runLatency drops one document at a time (after warmup unmeasured ones) and times each.
func runLatency(ctx context.Context, dir string, p *peer, reader *reading.Reader, docs []doc, quiet string, conns, warmup, n int, budget time.Time) (latencyResult, error) {
	env, err := startBridge(dir, p, reader, quiet, conns, warmup+n+8)
	if err != nil {
		return latencyResult{}, err
	}
	res := latencyResult{quiet: env.cfg.Watch.Quiet}
	runErr := func() error {
		for i := 0; i < warmup+n; i++ {
			if i >= warmup && time.Now().After(budget) {
				res.truncated = warmup + n - i // slow is reported, never a failure
				return nil
			}
			d := docs[i%len(docs)]
			name := fmt.Sprintf("lat-%03d-%s", i, d.name)
			staged, err := env.stageFile(d, name)
			if err != nil {
				return err
			}
			t0 := time.Now()
			if err := os.Rename(staged, filepath.Join(env.input, name)); err != nil {
				return err
			}
			var job string
			select {
			case job = <-env.rec.sentCh:
			case <-time.After(60 * time.Second):
				return fmt.Errorf("document %d not sent within 60 s", i)
			case <-ctx.Done():
				return ctx.Err()
			}
			if job == "" {
				env.rec.mu.Lock()
				bad := strings.Join(env.rec.bad, "; ")
				env.rec.mu.Unlock()
				return fmt.Errorf("document %d held or failed: %s", i, bad)
			}
			jt := env.rec.snapshot()[job]
			res.ids = append(res.ids, jt.messageID)
			if i < warmup {
				continue
			}
			res.total = append(res.total, jt.sent.Sub(t0))
			res.toClaimed = append(res.toClaimed, jt.claimed.Sub(t0))
			res.pipeline = append(res.pipeline, jt.sent.Sub(jt.claimed))
		}
		return nil
	}()
	if err := env.stop(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		runErr = fmt.Errorf("%w\n--- bridge log, last lines (%s)\n%s", runErr, filepath.Join(dir, "bridge.log"), env.logTail(15))
	}
	return res, runErr
}

// ---- statistics ---------------------------------------------------------------------------

// percentile is the nearest-rank percentile (p in 0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
