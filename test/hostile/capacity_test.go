package hostile

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// Issue 7, part 5: a burst of 1,000 documents is all delivered with bounded memory (aim:
// < 100 MB) and no file descriptor leak; a 10-input configuration at idle uses < 0.1 % of a
// core.
const (
	burstDocs = 1000
	// burstRSSAimKB is the aim, in the kB of /proc as files_test.go counts them, and
	// what is asserted. The bridge restarted on its warm cache holds 65 to 67 MB before the
	// first letter (PDFium's compiled code 21 MB, the binary's mapped text and data 25 to 29
	// MB, the Go heap, PDFium's linear memory 2 to 4 MB); the burst adds about 25 MB:
	// measured peak 90-91 MB. Before `run` gave memory back after start (debug.FreeOSMemory)
	// it was 88 MB at rest and 99-102 MB at the peak.
	burstRSSAimKB = 100 * 1000
	// idleCPUShare is 0.1 % of one core, the aim, asserted.
	idleCPUShare = 0.001
)

// A DUI exports 1,000 letters at once (each written under a temporary name, then renamed into
// the input). The real `mssbridge run` must send every one exactly once, leave nothing in
// held/ or failed/, give back every file descriptor it opened, and keep its memory bounded.
func TestBurstOf1000Documents(t *testing.T) {
	needProcRSS(t)
	dir := t.TempDir()
	bin := buildBridge(t, dir)

	// Each letter is different (its title), so each delivery names the letter it carries.
	stage, input, dataDir := filepath.Join(dir, "stage"), filepath.Join(dir, "in"), filepath.Join(dir, "data")
	for _, d := range []string{stage, input} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	byHash := make(map[[32]byte]int, burstDocs)
	var docBytes int
	for i := range burstDocs {
		data := gen.Tagged(gen.Dupont, fmt.Sprintf("Capacite %04d", i))
		byHash[sha256.Sum256(data)] = i
		docBytes += len(data)
		if err := os.WriteFile(filepath.Join(stage, fmt.Sprintf(".lettre-%04d.pdf.tmp", i)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(byHash) != burstDocs {
		t.Fatalf("%d distinct letters made, want %d", len(byHash), burstDocs)
	}

	// What the operator received, counted as it arrives: which letter, how many times.
	var (
		mu        sync.Mutex
		got       = make([]int, burstDocs)
		msgIDs    = map[string]int{}
		delivered int
		lastAt    time.Time
		bad       []string
	)
	op, err := operator.Start(context.Background(), operator.Options{Dir: filepath.Join(dir, "operator"),
		OnDeliver: func(d operator.Delivery) {
			hashes, err := pdfAttachments(d.Data)
			mu.Lock()
			defer mu.Unlock()
			delivered++
			lastAt = time.Now()
			msgIDs[d.MessageID]++
			if err != nil || len(hashes) != 1 {
				bad = append(bad, fmt.Sprintf("message %s: %d PDF parts (%v)", d.MessageID, len(hashes), err))
				return
			}
			i, ok := byHash[hashes[0]]
			if !ok {
				bad = append(bad, fmt.Sprintf("message %s: a PDF that was not dropped", d.MessageID))
				return
			}
			got[i]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	_, _, smtpLine := boxSMTP(t, op)
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	// The watch and sending settings are the defaults a hospital runs with.
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %q
boxes:
  - id: bio
    address: %s
    smtp: %s
inputs:
  - {id: depot, path: %q, box: bio}
routing:
  default_action: send
`, dataDir, boxAddress, smtpLine, input)), 0o600); err != nil {
		t.Fatal(err)
	}

	coldHWM, p := startWarm(t, bin, cfgPath, dir)
	pid := p.pid()
	// Let start-up finish (first rescan, the collector's first cycles) before the baseline.
	time.Sleep(3 * time.Second)
	startHWM, err := procStatusKB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	// The burst's own peak: VmHWM is reset to the current RSS (Linux >= 4.0, our own child).
	hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	if hwmReset != nil {
		t.Logf("VmHWM could not be reset (%v): the peak below includes start-up", hwmReset)
	}
	fdBefore, err := fdCount(pid)
	if err != nil {
		t.Fatal(err)
	}
	rssBefore, _ := procStatusKB(pid, "VmRSS")
	kindsBefore := fdKinds(pid)

	// Sample RSS and descriptors every 250 ms until the burst has settled.
	type sample struct {
		at     time.Duration
		rssKB  int64
		fds    int
		sentNo int
	}
	var (
		smu     sync.Mutex
		samples []sample
		fdPeak  = fdBefore
		rssPeak = rssBefore
	)
	t0 := time.Now()
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			rss, err1 := procStatusKB(pid, "VmRSS")
			fds, err2 := fdCount(pid)
			if err1 != nil || err2 != nil {
				continue // the child ended; the main goroutine says so
			}
			mu.Lock()
			n := delivered
			mu.Unlock()
			smu.Lock()
			samples = append(samples, sample{time.Since(t0), rss, fds, n})
			fdPeak, rssPeak = max(fdPeak, fds), max(rssPeak, rss)
			smu.Unlock()
		}
	}()

	// The burst: every letter renamed into the input within a few milliseconds.
	for i := range burstDocs {
		if err := os.Rename(filepath.Join(stage, fmt.Sprintf(".lettre-%04d.pdf.tmp", i)), filepath.Join(input, fmt.Sprintf("lettre-%04d.pdf", i))); err != nil {
			t.Fatal(err)
		}
	}
	dropTook := time.Since(t0)

	parkedCount := func() int {
		n := 0
		for _, g := range []string{"held/*.json", "failed/*.json"} {
			m, _ := filepath.Glob(filepath.Join(dataDir, g))
			n += len(m)
		}
		return n
	}
	const within = 150 * time.Second
	deadline := time.Now().Add(within)
	for {
		mu.Lock()
		n := delivered
		mu.Unlock()
		if n >= burstDocs {
			break
		}
		if p.exited() {
			t.Fatalf("mssbridge run ended during the burst (%d delivered): %v\n%s", n, p.err(), tail(p.log(), 3000))
		}
		if k := parkedCount(); k > 0 {
			t.Errorf("%d documents in held/ or failed/ during the burst", k)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %d of %d delivered", within, n, burstDocs)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	burstTook := lastAt.Sub(t0)
	mu.Unlock()

	// Settled: the input empty and every letter archived under sent/. Then descriptors are
	// given a few seconds to come back (a connection being closed, a file being synced).
	waitFor(t, 30*time.Second, "the input empty and 1,000 letters archived in sent/", func() bool {
		left, _ := os.ReadDir(input)
		sent, _ := filepath.Glob(filepath.Join(dataDir, "sent", "*", "*.pdf"))
		return len(left) == 0 && len(sent) >= burstDocs
	})
	// Idle SMTP connections stay in the client's pool for reuse (at most sending.connections,
	// 2 by default): they are not a leak. Two more for a descriptor caught in passing.
	const fdMargin = 2 + 2
	var fdAfter int
	settle := time.Now().Add(15 * time.Second)
	for {
		fdAfter, err = fdCount(pid)
		if err != nil {
			t.Fatal(err)
		}
		if fdAfter <= fdBefore+fdMargin || time.Now().After(settle) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	kindsAfter := fdKinds(pid)
	hwm, err := procStatusKB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	<-sampled
	p.stop(t)

	if err := p.err(); err != nil {
		t.Errorf("mssbridge run exit after SIGTERM: %v\n%s", err, tail(p.log(), 2000))
	}

	// Every letter delivered exactly once, nothing else delivered.
	mu.Lock()
	for _, b := range bad {
		t.Error(b)
	}
	var missing, twice []int
	for i, n := range got {
		switch {
		case n == 0:
			missing = append(missing, i)
		case n > 1:
			twice = append(twice, i)
		}
	}
	for id, n := range msgIDs {
		if n > 1 || id == "" {
			t.Errorf("Message-ID %q received %d times", id, n)
		}
	}
	total := delivered
	mu.Unlock()
	if len(missing) > 0 {
		t.Errorf("%d letters never delivered, e.g. lettre-%04d.pdf", len(missing), missing[0])
	}
	if len(twice) > 0 {
		t.Errorf("%d letters delivered more than once, e.g. lettre-%04d.pdf", len(twice), twice[0])
	}
	if total != burstDocs {
		t.Errorf("%d messages delivered, want %d", total, burstDocs)
	}
	if k := parkedCount(); k > 0 {
		t.Errorf("%d documents in held/ or failed/", k)
	}
	// The job store agrees, read once the bridge has stopped.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dataDir, "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := st.List(context.Background(), store.Filter{})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	states := map[store.State]int{}
	for _, j := range jobs {
		states[j.State]++
	}
	if len(jobs) != burstDocs || states[store.StateSent] != burstDocs {
		t.Errorf("job store: %d jobs %v, want %d sent", len(jobs), states, burstDocs)
	}

	// Figures.
	smu.Lock()
	var series strings.Builder
	next := time.Duration(0)
	for _, s := range samples {
		if s.at >= next {
			fmt.Fprintf(&series, "\n  t=%5.1fs  RSS %4d MB  fds %4d  delivered %4d", s.at.Seconds(), s.rssKB/1000, s.fds, s.sentNo)
			next = s.at + 5*time.Second
		}
	}
	peakSampled := rssPeak
	smu.Unlock()
	t.Logf("start-up peak RSS (VmHWM): first start, PDFium compiled into the cache, %d MB; restart on the warm cache %d MB", coldHWM/1000, startHWM/1000)
	// The compilation (310-340 MB) happens in a short-lived child of its own: the service
	// itself stays under the 150 MB even on its very first start.
	if coldHWM > 150*1000 {
		t.Errorf("first start peaked at %d MB (aim < 150 MB whatever the input)", coldHWM/1000)
	}
	t.Logf("burst of %d letters (%d bytes each on average), renamed into the input in %s", burstDocs, docBytes/burstDocs, dropTook.Round(time.Millisecond))
	t.Logf("burst time (drop -> last delivery): %s, %.1f docs/s", burstTook.Round(100*time.Millisecond), float64(burstDocs)/burstTook.Seconds())
	t.Logf("RSS: before %d MB, peak sampled VmRSS %d MB, VmHWM %d MB (aim < %d MB)", rssBefore/1000, peakSampled/1000, hwm/1000, burstRSSAimKB/1000)
	t.Logf("file descriptors: before %d, peak %d, after %d (margin %d)\n  before: %s\n  after:  %s", fdBefore, fdPeak, fdAfter, fdMargin, kindsBefore, kindsAfter)
	t.Logf("samples every 5 s:%s", series.String())
	if fdAfter > fdBefore+fdMargin {
		t.Errorf("file descriptors: %d before the burst, %d after it settled: a leak", fdBefore, fdAfter)
	}
	if hwm > burstRSSAimKB {
		t.Errorf("peak RSS (VmHWM) %d MB during the burst of %d letters, aim < %d MB", hwm/1000, burstDocs, burstRSSAimKB/1000)
	}
}

// A configuration with 10 inputs and the box's mail received over IMAP, at rest: the bridge
// waits on events, it does not poll busily. Its CPU time over 30 s must stay under 0.1 % of a
// core (30 ms).
func TestIdleCPUWith10Inputs(t *testing.T) {
	needProcRSS(t)
	dir := t.TempDir()
	bin := buildBridge(t, dir)
	op, err := operator.Start(context.Background(), operator.Options{Dir: filepath.Join(dir, "operator")})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	cert, key, smtpLine := boxSMTP(t, op)
	host, imapPort, _ := net.SplitHostPort(op.IMAPAddr)
	var inputs strings.Builder
	for i := range 10 {
		fmt.Fprintf(&inputs, "  - {id: entree%02d, path: %q, box: bio}\n", i, filepath.Join(dir, "in", fmt.Sprintf("%02d", i)))
	}
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	// Default watch, sending and receiving settings: what a hospital runs.
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %q
boxes:
  - id: bio
    address: %s
    smtp: %s
    imap: {host: %s, port: %s, security: tls, ca_file: %q, cert_file: %q, key_file: %q, mailbox: INBOX}
inputs:
%srouting:
  default_action: send
import:
  path: %q
`, filepath.Join(dir, "data"), boxAddress, smtpLine,
		host, imapPort, op.CAFile(), cert, key, inputs.String(), filepath.Join(dir, "import"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "import"), 0o700); err != nil {
		t.Fatal(err)
	}

	_, p := startWarm(t, bin, cfgPath, dir)
	pid := p.pid()
	// The figure counts only with the box's IMAP side connected and waiting (IDLE).
	waitFor(t, 30*time.Second, "the inbox connected", func() bool { return strings.Contains(p.log(), "inbox connected") })
	time.Sleep(5 * time.Second)
	hz := clockTicks()
	const window = 30 * time.Second
	c0, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	w0 := time.Now()
	time.Sleep(window)
	c1, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(w0)
	if p.exited() {
		t.Fatalf("mssbridge run ended while idle: %v\n%s", p.err(), tail(p.log(), 3000))
	}
	cpu := time.Duration(c1-c0) * time.Second / time.Duration(hz)
	share := cpu.Seconds() / wall.Seconds()
	t.Logf("idle with 10 inputs and IMAP receiving (IDLE): %s CPU (utime+stime, %d ticks at %d Hz) over %s = %.3f %% of a core (aim < %.1f %%)",
		cpu, c1-c0, hz, wall.Round(100*time.Millisecond), share*100, idleCPUShare*100)
	if share >= idleCPUShare {
		// Profiled with perf when the loop polled every 500 ms: 73 % of the samples were its
		// ticker (two store queries a tick), the rest the Go runtime it woke; the ten watchers'
		// rescans were 2 %, IMAP IDLE nothing. It now sleeps until the next retry or 5 s.
		t.Errorf("idle CPU %.3f %% of a core, aim < %.1f %%: something polls", share*100, idleCPUShare*100)
	}
}
