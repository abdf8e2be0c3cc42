package hostile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// rssAimKB is the aim: peak RSS under 150 MB whatever the input, asserted for every
// hostile document read alone and for everything dropped at once. The children run with the
// soft memory limit `mssbridge run` sets (bridge.SoftMemoryLimit); everything at once measured
// 136–140 MB with it (150–185 MB before the message was written to the spool instead of
// memory, pdfcpu was kept from huge and deeply nested files, and the limit was lowered).
const rssAimKB = 150 * 1000

// Each hostile document is read by the real reader in a fresh process; its peak RSS is the
// cost of reading it (PDFium pool started from a warm compilation cache included). Two bombs
// read at once is the worst the bridge's two read slots allow.
func TestReadingPeakRSSPerHostileFile(t *testing.T) {
	needProcRSS(t)
	docs := fixtures(t)
	good := filepath.Join(t.TempDir(), "lettre.pdf")
	if err := os.WriteFile(good, gen.Tagged(gen.Dupont, "Lettre"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		files []string
	}{{"lettre ordinaire (référence)", []string{good}}}
	for _, d := range docs {
		if strings.HasSuffix(d.name, ".pdf") && d.name != "CON.pdf" && !strings.HasPrefix(d.name, "ctl") && !strings.HasPrefix(d.name, "Compte-rendu") {
			cases = append(cases, struct {
				name  string
				files []string
			}{d.name, []string{d.path}})
		}
	}
	bomb := fixture(t, "bombe.pdf").path
	cases = append(cases, struct {
		name  string
		files []string
	}{"deux bombes en même temps", []string{bomb, bomb}})
	// Past reading.MaxPages: read up to 500 pages and held.
	long := filepath.Join(t.TempDir(), "3000-pages.pdf")
	if err := os.WriteFile(long, gen.ManyPages(3000, gen.Dupont), 0o600); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name  string
		files []string
	}{"3000-pages.pdf", []string{long}})

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-30s %10s %8s  %s\n", "document", "peak RSS", "read", "outcome")
	for _, c := range cases {
		ch := startChild(t, "read", childFilesEnv+"="+strings.Join(c.files, "\n"))
		rep := ch.report(t)
		var ms int64
		var outcome []string
		for _, r := range rep.Results {
			ms = max(ms, r.Millis)
			o := r.Decision
			if r.Err != "" {
				o = "error: " + r.Err
			} else if len(r.Reasons) > 0 {
				o += ": " + r.Reasons[0]
			}
			outcome = append(outcome, o)
		}
		fmt.Fprintf(&table, "%-30s %7d MB %6d ms  %s\n", c.name, rep.PeakRSSKB/1000, ms, strings.Join(outcome, " | "))
		if rep.PeakRSSKB > rssAimKB {
			t.Errorf("%s: peak RSS %d MB, aim < 150 MB", c.name, rep.PeakRSSKB/1000)
		}
		for _, r := range rep.Results {
			if r.Err != "" {
				t.Errorf("%s: the reader failed instead of holding: %s", c.name, r.Err)
			}
		}
	}
	t.Log(table.String())
}

// Every hostile file is dropped at once with 20 good letters into a bridge running in its own
// process: each ends sent, held or failed as expected with a French reason, every good letter
// is sent, the bridge is still running at the end, and its peak RSS is measured.
//
// Environment variables help find where the memory goes: HOSTILE_ONLY=a.pdf,b.pdf drops only
// those hostile files (with the 20 letters), HOSTILE_GOMEMLIMIT=80MiB runs the bridge with
// that soft memory limit, HOSTILE_READERS=1 with one PDFium instance, and
// HOSTILE_HEAPPROFILE=FILE writes a heap profile whenever the live heap reaches a new high.
func TestHostileFilesDroppedTogether(t *testing.T) {
	needProcRSS(t)
	docs := fixtures(t)
	dir := t.TempDir()
	op, err := operator.Start(context.Background(), operator.Options{Dir: filepath.Join(dir, "operator")})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	_, _, smtpLine := boxSMTP(t, op)
	input, dataDir, stage := filepath.Join(dir, "in"), filepath.Join(dir, "data"), filepath.Join(dir, "stage")
	for _, d := range []string{input, stage} {
		os.MkdirAll(d, 0o700)
	}
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %q
boxes:
  - id: bio
    address: %s
    smtp: %s
inputs:
  - {id: depot, path: %q, box: bio}
routing:
  default_action: send
watch: {quiet: 300ms, rescan: 1s, max_wait: 2s}
sending: {retry_initial: 200ms, retry_max: 1s, timeout: 5s}
`, dataDir, boxAddress, smtpLine, input)), 0o600)

	ch := startChild(t, "bridge", childCfgEnv+"="+cfgPath, "GOMEMLIMIT="+os.Getenv("HOSTILE_GOMEMLIMIT"))
	if line, err := ch.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q %v\n%s", line, err, ch.stderr.String())
	}

	// Stage everything, then rename it all into the input within a few milliseconds.
	want := map[string]hostileDoc{}
	for _, d := range docs {
		if only := os.Getenv("HOSTILE_ONLY"); only != "" && !strings.Contains(","+only+",", ","+d.name+",") {
			continue
		}
		if err := os.Link(d.path, filepath.Join(stage, d.name)); err != nil {
			data, _ := os.ReadFile(d.path)
			os.WriteFile(filepath.Join(stage, d.name), data, 0o600)
		}
		want[d.name] = d
	}
	// A sidecar that tries to inject a header through the document title.
	os.WriteFile(filepath.Join(stage, "injection.pdf"), gen.Tagged(gen.Dupont, "Injection"), 0o600)
	os.WriteFile(filepath.Join(stage, "injection.json"), []byte(`{"document":{"title":"CR\r\nBcc: pirate@gmail.com\r\nX-Pirate: 1"}}`), 0o600)
	want["injection.pdf"] = hostileDoc{name: "injection.pdf", want: "sent"}
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("bon-%02d.pdf", i)
		os.WriteFile(filepath.Join(stage, name), gen.Tagged(gen.Dupont, fmt.Sprintf("Bon %02d", i)), 0o600)
		want[name] = hostileDoc{name: name, want: "sent"}
	}
	entries, _ := os.ReadDir(stage)
	// Sidecars first, as the README asks.
	for _, pass := range []bool{true, false} {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") == pass && e.Name() != "orphelin.json" || !pass && e.Name() == "orphelin.json" {
				if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(input, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t0 := time.Now()

	// Each document ends as a file in sent/, held/ or failed/ (one json each for the last two).
	outcomes := func() int {
		n := 0
		for _, g := range []string{"sent/*/*.pdf", "held/*.json", "failed/*.json"} {
			m, _ := filepath.Glob(filepath.Join(dataDir, g))
			for _, p := range m {
				// JOBID.json, not a kept JOBID.original.json or JOBID.source.json
				if !strings.Contains(filepath.Base(p), ".original.") && !strings.Contains(filepath.Base(p), ".source.") {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("every dropped document to reach an end (%d wanted)", len(want)), func() bool {
		return outcomes() >= len(want)
	})
	elapsed := time.Since(t0)
	rep := ch.report(t)

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-34s %-7s %s\n", "file", "state", "reason")
	seen := map[string]bool{}
	for _, j := range rep.Jobs {
		d, ok := want[j.Source]
		if !ok {
			t.Errorf("unexpected job for %q (%s)", j.Source, j.State)
			continue
		}
		seen[j.Source] = true
		fmt.Fprintf(&table, "%-34q %-7s %s\n", shorten(j.Source, 32), j.State, j.LastError)
		if j.State != d.want {
			t.Errorf("%q: %s (%s), want %s", j.Source, j.State, j.LastError, d.want)
			continue
		}
		if j.State == string(store.StateSent) {
			continue
		}
		if !strings.Contains(j.LastError, d.reason) || !looksFrench(j.LastError) {
			t.Errorf("%q: reason %q, want French mentioning %q", j.Source, j.LastError, d.reason)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%q: no job", name)
		}
	}
	if left, _ := os.ReadDir(input); len(left) != 0 {
		t.Errorf("files left in the input: %d", len(left))
	}
	sent := 0
	for _, d := range op.Deliveries() {
		sent++
		if bytes.Contains(d.Data, []byte("\r\nBcc:")) || bytes.Contains(d.Data, []byte("\r\nX-Pirate:")) || len(d.To) != 1 {
			t.Errorf("header injected through the sidecar title: to %v", d.To)
		}
	}
	wantSent := 0
	for _, d := range want {
		if d.want == "sent" {
			wantSent++
		}
	}
	if sent != wantSent {
		t.Errorf("%d messages delivered, want %d", sent, wantSent)
	}
	t.Logf("%d documents (%d hostile, 20 good) settled in %s; bridge peak RSS %d MB%s", len(want), len(want)-20, elapsed.Round(100*time.Millisecond), rep.PeakRSSKB/1000, table.String())
	if p := rep.AtPeak; p != nil {
		t.Logf("at the highest RSS sample (%d MB): program file pages %d MB, Go heap objects %d MB, all Go memory %d MB, PDFium memories %d MB (most at once %d MB)", p.RSSMB, p.FileMB, p.GoHeapMB, p.GoTotalMB, p.WasmMB, p.WasmPeakMB)
	}
	if rep.PeakRSSKB > rssAimKB {
		t.Errorf("bridge peak RSS %d MB with everything dropped at once, aim < 150 MB", rep.PeakRSSKB/1000)
	}
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
