package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test timings: short, but far apart enough that a loaded CI machine (2 cores, -race) does not
// turn "written every 20 ms" into "quiet for 200 ms".
const (
	testQuiet  = 100 * time.Millisecond
	testRescan = 200 * time.Millisecond
	waitLong   = 15 * time.Second // upper bound for "eventually"; never reached when things work
)

var pdfBody = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// harness runs a Watcher on a temporary folder with a claim that moves files into another
// temporary folder and records everything it sees.
type harness struct {
	t    *testing.T
	dir  string
	dest string
	w    *Watcher

	mu       sync.Mutex
	claims   []Ready        // successful
	attempts map[string]int // by base name of Path
	busy     map[string]bool
	conc     int
	maxConc  int
	fail     func(r Ready, attempt int) error // nil: always succeed
	block    bool                             // claims wait for ctx to end

	cancel context.CancelFunc
	done   chan error
}

type setup struct {
	opts  Options
	tweak func(*Watcher)
	fail  func(r Ready, attempt int) error
	block bool
	files map[string][]byte // written before Run starts
	dir   string            // the input folder; default a new temporary one
}

func start(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		dir:      t.TempDir(),
		dest:     t.TempDir(),
		attempts: make(map[string]int),
		busy:     make(map[string]bool),
		fail:     s.fail,
		block:    s.block,
	}
	if s.dir != "" {
		h.dir = s.dir
	}
	for name, data := range s.files {
		h.write(name, data)
	}
	o := s.opts
	o.InputID = "test"
	o.Path = h.dir
	if o.Quiet == 0 {
		o.Quiet = testQuiet
	}
	if o.Rescan == 0 {
		o.Rescan = testRescan
	}
	if o.Logger == nil {
		// Info and above go to the test log (shown with -v or on failure);
		// WATCHER_DEBUG=1 adds the debug records, file names included.
		level := slog.LevelInfo
		if os.Getenv("WATCHER_DEBUG") != "" {
			level = slog.LevelDebug
		}
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
	}
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	w.retryMin = 20 * time.Millisecond
	w.retryMax = 100 * time.Millisecond
	if s.tweak != nil {
		s.tweak(w)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- w.Run(ctx, h.claim) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Errorf("Run did not return after cancel")
		}
	})
	return h
}

// testWriter sends log output to t.Log. Run returns before the test ends (see start's cleanup),
// so nothing is logged after it.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) claim(ctx context.Context, r Ready) error {
	name := filepath.Base(r.Path)
	h.mu.Lock()
	for _, p := range []string{r.Path, r.Sidecar} {
		if p == "" {
			continue
		}
		if h.busy[p] {
			h.t.Errorf("two concurrent claims of %s", filepath.Base(p))
		}
		h.busy[p] = true
	}
	h.conc++
	h.maxConc = max(h.maxConc, h.conc)
	h.attempts[name]++
	attempt := h.attempts[name]
	h.mu.Unlock()

	defer func() {
		h.mu.Lock()
		delete(h.busy, r.Path)
		delete(h.busy, r.Sidecar)
		h.conc--
		h.mu.Unlock()
	}()
	if h.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if !filepath.IsAbs(r.Path) || (r.Sidecar != "" && !filepath.IsAbs(r.Sidecar)) {
		h.t.Errorf("Ready paths not absolute: %+v", r)
	}
	if r.InputID != "test" {
		h.t.Errorf("InputID = %q", r.InputID)
	}
	if h.fail != nil {
		if err := h.fail(r, attempt); errors.Is(err, errSkipMove) {
			return nil
		} else if err != nil {
			return err
		}
	}
	// A new name in dest per claim, so that a name claimed twice is not overwritten.
	sub := filepath.Join(h.dest, fmt.Sprintf("%d", time.Now().UnixNano()))
	if err := os.Mkdir(sub, 0o700); err != nil {
		return err
	}
	for _, p := range []string{r.Path, r.Sidecar} {
		if p == "" {
			continue
		}
		if err := moveFile(p, filepath.Join(sub, filepath.Base(p))); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.claims = append(h.claims, r)
	h.mu.Unlock()
	return nil
}

// moveFile renames, or copies and removes across file systems (an input on a mounted share).
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return err
	}
	return os.Remove(src)
}

func (h *harness) write(name string, data []byte) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, name), data, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) appendTo(name string, data []byte) {
	h.t.Helper()
	f, err := os.OpenFile(filepath.Join(h.dir, name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) claimed() []Ready {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Ready(nil), h.claims...)
}

func (h *harness) attemptsOf(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[name]
}

// waitClaims waits until n claims succeeded and returns them.
func (h *harness) waitClaims(n int) []Ready {
	h.t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		c := h.claimed()
		if len(c) >= n {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d claims after %v, want %d", len(c), waitLong, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle sleeps long enough for anything ready to have been claimed: several quiet windows and
// two rescans.
func (h *harness) settle() {
	time.Sleep(4*h.w.opts.Quiet + 2*h.w.opts.Rescan)
}

func names(rs []Ready) []string {
	var out []string
	for _, r := range rs {
		s := filepath.Base(r.Path)
		if r.Sidecar != "" {
			s += "+" + filepath.Base(r.Sidecar)
		}
		out = append(out, s)
	}
	return out
}

// modes runs a test with events and with rescans only.
var modes = []struct {
	name string
	opts Options
}{
	{"events", Options{}},
	{"rescan-only", Options{DisableEvents: true, Rescan: 100 * time.Millisecond}},
}

func TestSlowWriteNotClaimedUntilDone(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		chunk []byte
	}{
		// An incrementally updated PDF has a %%EOF after each revision: the marker alone
		// must not make a file ready while it is still growing.
		{"pdf with early marker", "lettre.pdf", []byte("% revision\nxref\ntrailer\n%%EOF\n")},
		{"other file", "export.hprim", []byte("H|^~\\&|||\r")},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				o := m.opts
				o.Quiet = 200 * time.Millisecond
				h := start(t, setup{opts: o})
				f, err := os.Create(filepath.Join(h.dir, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				total := 0
				// 15 chunks 20 ms apart: 300 ms of writing, longer than the quiet window.
				for i := 0; i < 15; i++ {
					n, err := f.Write(tc.chunk)
					if err != nil {
						t.Fatal(err)
					}
					total += n
					if c := h.claimed(); len(c) != 0 {
						t.Fatalf("claimed while being written (chunk %d): %v", i, names(c))
					}
					time.Sleep(20 * time.Millisecond)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				c := h.waitClaims(1)
				if c[0].Size != int64(total) {
					t.Errorf("claimed with size %d, want %d", c[0].Size, total)
				}
				h.settle()
				if c := h.claimed(); len(c) != 1 {
					t.Errorf("claims = %v, want one", names(c))
				}
			})
		}
	}
}

func TestPDFClaimedOnlyWithEndMarker(t *testing.T) {
	cases := []struct {
		name string
		tail string
	}{
		{"plain", "%%EOF\n"},
		{"trailing blank lines", "%%EOF\r\n\r\n  \n"},
		{"PJL trailer", "%%EOF\n\x1b%-12345X@PJL EOJ NAME=\"job\"\r\n\x1b%-12345X"},
		{"bytes within 1 KiB", "%%EOF" + strings.Repeat("\x00", 1000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, setup{})
			body := bytes.TrimSuffix(pdfBody, []byte("%%EOF\n"))
			h.write("cr.pdf", body)
			h.settle()
			if c := h.claimed(); len(c) != 0 {
				t.Fatalf("claimed without %%%%EOF: %v", names(c))
			}
			h.appendTo("cr.pdf", []byte(tc.tail))
			c := h.waitClaims(1)
			if c[0].Incomplete {
				t.Error("Incomplete set on a complete PDF")
			}
			if want := int64(len(body) + len(tc.tail)); c[0].Size != want {
				t.Errorf("Size = %d, want %d", c[0].Size, want)
			}
		})
	}
}

func TestMaxWaitHandsOverIncomplete(t *testing.T) {
	const maxWait = 700 * time.Millisecond
	cases := []struct {
		name string
		file string
		data []byte
	}{
		{"pdf without marker", "tronque.pdf", []byte("%PDF-1.4\n1 0 obj\n")},
		{"marker too far from the end", "long.pdf", append([]byte("%PDF-1.4\n%%EOF\n"), bytes.Repeat([]byte{'x'}, 2000)...)},
		{"empty file", "vide.pdf", nil},
		{"empty other file", "vide.txt", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			h := start(t, setup{opts: Options{MaxWait: maxWait}})
			h.write(tc.file, tc.data)
			c := h.waitClaims(1)
			if waited := time.Since(begin); waited < maxWait {
				t.Errorf("handed over after %v, before MaxWait %v", waited, maxWait)
			}
			if !c[0].Incomplete {
				t.Error("Incomplete not set")
			}
			if c[0].Size != int64(len(tc.data)) {
				t.Errorf("Size = %d, want %d", c[0].Size, len(tc.data))
			}
		})
	}
}

func TestSidecarClaimedWithItsPDF(t *testing.T) {
	sidecar := []byte(`{"recipients":[{"address":"a@b.mssante.fr","role":"to"}]}`)
	cases := []struct {
		name      string
		pdf, json string
		jsonFirst bool
		gap       time.Duration // between the two files
	}{
		{"json first", "doc.pdf", "doc.json", true, 0},
		{"pdf first, json right after", "doc.pdf", "doc.json", false, 30 * time.Millisecond},
		{"pdf first, json within the sidecar wait", "doc.pdf", "doc.json", false, 120 * time.Millisecond},
		{"upper-case extensions", "DOC.PDF", "DOC.JSON", true, 0},
		{"mixed case", "Doc.pdf", "Doc.JSON", false, 0},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				o := m.opts
				o.MaxWait = 5 * time.Second // an orphan sidecar would only go much later
				o.SidecarWait = 300 * time.Millisecond
				h := start(t, setup{opts: o})
				if tc.jsonFirst {
					h.write(tc.json, sidecar)
					time.Sleep(tc.gap)
					h.write(tc.pdf, pdfBody)
				} else {
					h.write(tc.pdf, pdfBody)
					time.Sleep(tc.gap)
					h.write(tc.json, sidecar)
				}
				h.waitClaims(1)
				h.settle()
				c := h.claimed()
				if len(c) != 1 {
					t.Fatalf("claims = %v, want one pair", names(c))
				}
				if got, want := names(c)[0], tc.pdf+"+"+tc.json; got != want {
					t.Errorf("claimed %s, want %s", got, want)
				}
				if h.attemptsOf(tc.json) != 0 {
					t.Error("sidecar claimed on its own")
				}
			})
		}
	}
}

func TestPDFWithoutSidecarGoesAlone(t *testing.T) {
	h := start(t, setup{files: map[string][]byte{"seul.pdf": pdfBody, "autre.json": []byte("{}")}})
	c := h.waitClaims(1)
	if c[0].Sidecar != "" || filepath.Base(c[0].Path) != "seul.pdf" {
		t.Errorf("claimed %v, want seul.pdf alone", names(c))
	}
}

func TestOrphanSidecarAfterMaxWait(t *testing.T) {
	const maxWait = 600 * time.Millisecond
	begin := time.Now()
	h := start(t, setup{opts: Options{MaxWait: maxWait}})
	h.write("perdu.json", []byte(`{"patient":{}}`))
	c := h.waitClaims(1)
	if waited := time.Since(begin); waited < maxWait {
		t.Errorf("orphan sidecar handed over after %v, before MaxWait %v", waited, maxWait)
	}
	if filepath.Base(c[0].Path) != "perdu.json" || c[0].Sidecar != "" || c[0].Incomplete {
		t.Errorf("claimed %+v, want perdu.json alone, complete", c[0])
	}
}

func TestIgnoredNeverClaimed(t *testing.T) {
	ignored := []string{
		".cache.pdf", "~$courrier.docx", "impression.tmp", "doc.PART", "doc.pdf.crdownload",
		"doc.partial", "Thumbs.db", "desktop.ini", ".DS_Store",
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			files := map[string][]byte{}
			for _, n := range ignored {
				files[n] = pdfBody
			}
			h := start(t, setup{opts: m.opts, files: files})
			if err := os.Mkdir(filepath.Join(h.dir, "sous-dossier.pdf"), 0o700); err != nil {
				t.Fatal(err)
			}
			h.write(filepath.Join("sous-dossier.pdf", "dedans.pdf"), pdfBody)
			for _, n := range ignored {
				h.appendTo(n, []byte("\n")) // events too, not only the initial scan
			}
			h.write("vrai.pdf", pdfBody)
			h.waitClaims(1)
			h.settle()
			if c := h.claimed(); len(c) != 1 || filepath.Base(c[0].Path) != "vrai.pdf" {
				t.Errorf("claims = %v, want only vrai.pdf", names(c))
			}
			for _, n := range ignored {
				if _, err := os.Stat(filepath.Join(h.dir, n)); err != nil {
					t.Errorf("ignored file %s touched: %v", n, err)
				}
			}
		})
	}
}

func TestClaimErrorRetried(t *testing.T) {
	cases := []struct {
		name     string
		failures int
	}{
		{"one failure", 1},
		{"three failures", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, setup{
				files: map[string][]byte{"a.pdf": pdfBody, "a.json": []byte("{}")},
				fail: func(r Ready, attempt int) error {
					if attempt <= tc.failures {
						return fmt.Errorf("store busy for %s", r.Path)
					}
					return nil
				},
			})
			h.waitClaims(1)
			h.settle()
			c := h.claimed()
			if len(c) != 1 || c[0].Sidecar == "" {
				t.Errorf("claims = %v, want one pair", names(c))
			}
			if got := h.attemptsOf("a.pdf"); got != tc.failures+1 {
				t.Errorf("attempts = %d, want %d", got, tc.failures+1)
			}
		})
	}
}

func TestClaimThatLeavesTheFileIsRetried(t *testing.T) {
	// A claim that says "done" but leaves the file must not make the watcher forget it, nor hand
	// it over again at once as if it were new.
	h := start(t, setup{
		files: map[string][]byte{"reste.pdf": pdfBody},
		fail: func(r Ready, attempt int) error {
			if attempt == 1 {
				return errSkipMove
			}
			return nil
		},
	})
	h.waitClaims(1)
	h.settle()
	if got := h.attemptsOf("reste.pdf"); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

// errSkipMove makes the harness claim return nil without moving anything.
var errSkipMove = errors.New("skip move")

func TestSameNameAgainAfterClaim(t *testing.T) {
	h := start(t, setup{files: map[string][]byte{"export.pdf": pdfBody}})
	h.waitClaims(1)
	h.write("export.pdf", append([]byte("%PDF-1.7\n"), pdfBody...))
	h.waitClaims(2)
	h.settle()
	if c := h.claimed(); len(c) != 2 || c[0].Size == c[1].Size {
		t.Errorf("claims = %+v, want the two documents", c)
	}
}

func TestManyFilesClaimedExactlyOnce(t *testing.T) {
	const n = 500
	cases := []struct {
		name  string
		opts  Options
		tweak func(*Watcher)
	}{
		{"events", Options{}, nil},
		{"rescan-only", Options{DisableEvents: true, Rescan: 100 * time.Millisecond}, nil},
		// Past the tracking bound, the rescans take the rest.
		{"bounded", Options{Rescan: 100 * time.Millisecond}, func(w *Watcher) { w.maxTracked = 100 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, setup{opts: tc.opts, tweak: tc.tweak})
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("doc-%03d.pdf", i)
				if i%5 == 0 {
					h.write(fmt.Sprintf("doc-%03d.json", i), []byte("{}"))
				}
				h.write(name, pdfBody)
			}
			h.waitClaims(n)
			h.settle()
			c := h.claimed()
			seen := map[string]int{}
			sidecars := 0
			for _, r := range c {
				seen[filepath.Base(r.Path)]++
				if r.Sidecar != "" {
					sidecars++
				}
			}
			if len(c) != n || len(seen) != n {
				t.Errorf("%d claims of %d names, want %d of %d", len(c), len(seen), n, n)
			}
			for name, k := range seen {
				if k != 1 || !strings.HasSuffix(name, ".pdf") {
					t.Errorf("%s claimed %d times", name, k)
				}
			}
			if sidecars != n/5 {
				t.Errorf("%d claims with a sidecar, want %d", sidecars, n/5)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.maxConc > h.w.workers {
				t.Errorf("%d concurrent claims, want at most %d", h.maxConc, h.w.workers)
			}
			left, _ := os.ReadDir(h.dir)
			if len(left) != 0 {
				t.Errorf("%d files left in the folder", len(left))
			}
		})
	}
}

func TestRescanOnlyStillClaims(t *testing.T) {
	h := start(t, setup{opts: Options{DisableEvents: true, Rescan: 150 * time.Millisecond}})
	h.write("partage.pdf", pdfBody)
	c := h.waitClaims(1)
	if filepath.Base(c[0].Path) != "partage.pdf" {
		t.Errorf("claimed %v", names(c))
	}
	// Scan asks for a listing now: a file written afterwards is still found.
	h.write("second.txt", []byte("x"))
	h.w.Scan()
	h.waitClaims(2)
}

func TestCancelReturnsPromptly(t *testing.T) {
	cases := []struct {
		name  string
		block bool
		files map[string][]byte
	}{
		{"idle", false, nil},
		{"claims in flight", true, map[string][]byte{"a.pdf": pdfBody, "b.pdf": pdfBody}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, setup{block: tc.block, files: tc.files})
			if tc.block {
				deadline := time.Now().Add(waitLong)
				for h.attemptsOf("a.pdf")+h.attemptsOf("b.pdf") < 2 {
					if time.Now().After(deadline) {
						t.Fatal("claims never started")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			h.cancel()
			select {
			case err := <-h.done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
				h.done <- nil // for the cleanup
			case <-time.After(waitLong):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	h := start(t, setup{})
	for !h.w.running.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.w.Run(context.Background(), h.claim); err == nil {
		t.Error("second concurrent Run accepted")
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"defaults", Options{Path: dir}, false},
		{"missing folder is allowed", Options{Path: filepath.Join(dir, "later")}, false},
		{"empty path", Options{}, true},
		{"path is a file", Options{Path: file}, true},
		{"negative quiet", Options{Path: dir, Quiet: -time.Second}, true},
		{"negative max wait", Options{Path: dir, MaxWait: -time.Second}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			o := w.opts
			if o.Quiet != DefaultQuiet || o.Rescan != DefaultRescan || o.MaxWait != DefaultMaxWait || o.SidecarWait != DefaultSidecarWait || o.PDFQuiet != DefaultPDFQuiet {
				t.Errorf("defaults not applied: %+v", o)
			}
			if !filepath.IsAbs(w.root) {
				t.Errorf("root %q not absolute", w.root)
			}
		})
	}
}

// syncBuffer is a log sink safe for the watcher's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNoFileNamesAboveDebug(t *testing.T) {
	// File names carry patient names. Run the paths that log (claim failures, an incomplete
	// document, an orphan sidecar, the tracking bound) and look for the name in the output.
	const patient = "DUPONT Marie"
	cases := []struct {
		level      slog.Level
		wantInLogs bool
	}{
		{slog.LevelInfo, false},
		{slog.LevelDebug, true}, // proves the test would see a leak
	}
	for _, tc := range cases {
		t.Run(tc.level.String(), func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			h := start(t, setup{
				opts: Options{
					MaxWait: 400 * time.Millisecond,
					Logger:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})),
				},
				tweak: func(w *Watcher) { w.maxTracked = 2 },
				files: map[string][]byte{
					patient + ".pdf":              pdfBody,
					patient + ".json":             []byte("{}"),
					patient + " tronque.pdf":      []byte("%PDF-1.4\n"),
					patient + " orphelin.json":    []byte("{}"),
					patient + " autre.pdf":        pdfBody,
					".~lock." + patient + ".odt#": nil,
				},
				fail: func(r Ready, attempt int) error {
					if attempt == 1 {
						return &os.PathError{Op: "rename", Path: r.Path, Err: errors.New("store busy")}
					}
					return nil
				},
			})
			h.waitClaims(4)
			h.settle()
			logs := buf.String()
			if strings.Contains(logs, "DUPONT") != tc.wantInLogs {
				t.Errorf("name in logs at level %v: %v, want %v\n%s", tc.level, !tc.wantInLogs, tc.wantInLogs, logs)
			}
			if !strings.Contains(logs, "claims failed") {
				t.Errorf("claim failures not reported:\n%s", logs)
			}
		})
	}
}

// A PDF that already ends with its marker gets the short quiet window; anything else waits the
// full one. The margins (100 ms against 4 s) make this about behaviour, not speed.
func TestCompletePDFUsesShortQuiet(t *testing.T) {
	h := start(t, setup{opts: Options{Quiet: 4 * time.Second, PDFQuiet: 100 * time.Millisecond, Rescan: 10 * time.Second}})
	begin := time.Now()
	h.write("lettre.pdf", pdfBody)
	h.write("notes.txt", []byte("texte"))
	c := h.waitClaims(1)
	if filepath.Base(c[0].Path) != "lettre.pdf" {
		t.Fatalf("first claim %s, want the complete PDF", c[0].Path)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("complete PDF claimed after %s: the short quiet window was not used", took)
	}
	if c := h.claimed(); len(c) != 1 {
		t.Errorf("the text file was claimed before its quiet window: %v", names(c))
	}
}
