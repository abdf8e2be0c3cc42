package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// testExtractor is shared by the tests: starting one costs a compilation (seconds) unless
// the on-disk cache is warm.
var testExtractor *Extractor

func TestMain(m *testing.M) {
	ex, err := NewExtractor(context.Background(), ExtractorOptions{
		CacheDir: filepath.Join(os.TempDir(), "mssbridge-test-pdfium-cache"),
		Workers:  2,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "NewExtractor:", err)
		os.Exit(1)
	}
	testExtractor = ex
	code := m.Run()
	if err := ex.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "Close:", err)
		code = 1
	}
	os.Exit(code)
}

func near(a, b float64) bool { return math.Abs(a-b) < 3 }

func findLine(pages []Page, page int, text string) (Line, bool) {
	if page < 1 || page > len(pages) {
		return Line{}, false
	}
	for _, l := range pages[page-1].Lines {
		if l.Text == text {
			return l, true
		}
	}
	return Line{}, false
}

func TestExtractorText(t *testing.T) {
	type wantLine struct {
		page   int
		text   string  // the whole line
		x0, y0 float64 // bottom-left corner, approximately
	}
	tests := []struct {
		name  string
		path  string
		pages int
		lines []wantLine
		empty bool // no page has text
	}{
		{name: "sample 01", path: "sample:01-lettre-adresse-explicite.pdf", pages: 1, lines: []wantLine{
			{1, "Centre Hospitalier de Valmont - Service de cardiologie", 56, 797}, // U+2212 and em dash normalised
			{1, "Docteur Paul MERCIER", 330, 700},
			{1, "paul.mercier@medecin.mssante.fr", 330, 656},
			{1, "INS : 2 56 03 69 123 045 45", 56, 586},
			{1, "Patiente : Mme DUPRÉ Jeanne Marie, née le 12/03/1956", 56, 598},
		}},
		{name: "sample 02, dash inside an address", path: "sample:02-destinataire-rpps.pdf", pages: 1, lines: []wantLine{
			{1, "Prénom(s) : Yann-Erwan", 56, 624},
			{1, "Matricule INS : 148112901900703", 56, 598},
		}},
		{name: "sample 07, tag on page 1, text on page 2", path: "sample:07-deux-pages-balise.pdf", pages: 2, lines: []wantLine{
			{1, "#MSS-TO: aminata.ndiaye@medecin.mssante.fr", 56, 698},
			{2, "Conclusion : fonction rénale stable.", 56, 780},
			{2, "Page 2/2", 56, 58},
		}},
		{name: "sample 08, scan", path: "sample:08-scan-sans-texte.pdf", pages: 1, empty: true},
		{name: "placed lines", path: "testdata/info.pdf", pages: 1, lines: []wantLine{
			{1, "Premiere ligne", 100, 700},
			{1, "Seconde ligne", 300, 500},
		}},
		{name: "columns on one PDFium line", path: "testdata/columns.pdf", pages: 1, lines: []wantLine{
			{1, "#MSS-TO: a@b.mssante.fr", 56, 698}, // alone: the date to its right is another line
			{1, "Lyon, le 20 novembre 2026", 400, 698},
			{1, "Colonne de gauche", 56, 598},
			{1, "Colonne de droite", 300, 598},
			{1, "Mots proches restent ensemble", 56, 498},
		}},
		{name: "owner password only", path: "testdata/owner-only.pdf", pages: 1, lines: []wantLine{
			{1, "Document confidentiel", 56, 700},
		}},
		{name: "300 pages", path: "testdata/long.pdf", pages: 300, lines: []wantLine{
			{1, "Compte rendu long - page 1", 56, 800},
			{150, "Compte rendu long - page 150", 56, 800},
			{300, "Compte rendu long - page 300", 56, 800},
			{300, "Ligne de texte ordinaire pour remplir la page, numero 39", 56, 136},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if name, ok := strings.CutPrefix(path, "sample:"); ok {
				path = samplePath(t, name)
			}
			pages, err := testExtractor.Text(context.Background(), readFile(t, path))
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != tt.pages {
				t.Fatalf("%d pages, want %d", len(pages), tt.pages)
			}
			hasText := false
			for i, p := range pages {
				if p.Number != i+1 {
					t.Errorf("page %d numbered %d", i+1, p.Number)
				}
				if len(p.Lines) > 0 {
					hasText = true
				}
				var texts []string
				prevTop := math.Inf(1)
				for _, l := range p.Lines {
					texts = append(texts, l.Text)
					if l.X1 <= l.X0 || l.Y1 <= l.Y0 {
						t.Errorf("page %d line %q: empty box %v,%v %v,%v", p.Number, l.Text, l.X0, l.Y0, l.X1, l.Y1)
					}
					if !strings.HasPrefix(tt.name, "sample 01") && !strings.HasPrefix(tt.name, "columns") && l.Y1 > prevTop+1 {
						t.Errorf("page %d line %q is above the previous one", p.Number, l.Text)
					}
					prevTop = l.Y1
				}
				if got := strings.Join(texts, "\n"); got != p.Text {
					t.Errorf("page %d Text is not its lines joined:\n%q\n%q", p.Number, p.Text, got)
				}
			}
			if hasText == tt.empty {
				t.Errorf("has text = %v, want %v", hasText, !tt.empty)
			}
			for _, w := range tt.lines {
				l, ok := findLine(pages, w.page, w.text)
				if !ok {
					t.Errorf("page %d: no line %q", w.page, w.text)
					continue
				}
				if !near(l.X0, w.x0) || !near(l.Y0, w.y0) {
					t.Errorf("page %d line %q at (%.1f, %.1f), want about (%.0f, %.0f)", w.page, l.Text, l.X0, l.Y0, w.x0, w.y0)
				}
			}
		})
	}
}

func TestExtractorErrors(t *testing.T) {
	ctx := context.Background()
	for name, b := range damaged(t) {
		t.Run(name, func(t *testing.T) {
			pages, err := testExtractor.Text(ctx, b)
			if !errors.Is(err, ErrUnreadable) {
				t.Errorf("Text = %d pages, error %v; want ErrUnreadable", len(pages), err)
			}
		})
	}
	t.Run("user password", func(t *testing.T) {
		_, err := testExtractor.Text(ctx, readFile(t, "testdata/encrypted.pdf"))
		if !errors.Is(err, ErrEncrypted) {
			t.Errorf("error %v, want ErrEncrypted", err)
		}
	})
	// After all of that, the pool still serves.
	if _, err := testExtractor.Text(ctx, readFile(t, "testdata/info.pdf")); err != nil {
		t.Errorf("after errors: %v", err)
	}
}

func TestExtractorCancel(t *testing.T) {
	long := readFile(t, "testdata/long.pdf")
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := testExtractor.Text(ctx, long); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("cancelled while reading", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		err := testExtractor.Pages(ctx, long, func(Page) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n >= 300 {
			t.Errorf("after %d pages: error %v, want context.Canceled", n, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err := testExtractor.Text(ctx, long)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		if err := testExtractor.Pages(context.Background(), long, func(Page) error { return stop }); err != stop {
			t.Errorf("error %v, want the callback's", err)
		}
	})
	t.Run("callback panic is the caller's", func(t *testing.T) {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the callback's panic", r)
			}
		}()
		_ = testExtractor.Pages(context.Background(), long, func(Page) error { panic("boom") })
		t.Error("no panic")
	})
	// Killed instances are replaced.
	for i := 0; i < 3; i++ {
		if _, err := testExtractor.Text(context.Background(), readFile(t, "testdata/info.pdf")); err != nil {
			t.Fatalf("after cancellations: %v", err)
		}
	}
}

func TestExtractorConcurrent(t *testing.T) {
	files := []string{"testdata/info.pdf", "testdata/owner-only.pdf", "testdata/long.pdf"}
	want := map[string]string{}
	for _, f := range files {
		pages, err := testExtractor.Text(context.Background(), readFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = pages[len(pages)-1].Text
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		f := files[i%len(files)]
		wg.Go(func() {
			pages, err := testExtractor.Text(context.Background(), readFile(t, f))
			switch {
			case err != nil:
				errs <- err
			case pages[len(pages)-1].Text != want[f]:
				errs <- fmt.Errorf("%s: different text under concurrency", f)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestExtractorTimings logs what a start and a page cost. Nothing is asserted on time: the
// numbers depend on the machine.
func TestExtractorTimings(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles PDFium several times (seconds each)")
	}
	ctx := context.Background()
	doc := readFile(t, "testdata/info.pdf")
	start := func(label, dir string) {
		t0 := time.Now()
		ex, err := NewExtractor(ctx, ExtractorOptions{CacheDir: dir, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		ready := time.Since(t0)
		if _, err := ex.Text(ctx, doc); err != nil {
			t.Fatal(err)
		}
		first := time.Since(t0)
		if err := ex.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("cold start %-28s ready in %6.0f ms, first document read after %6.0f ms", label, ms(ready), ms(first))
	}
	dir := t.TempDir()
	start("without cache", "")
	start("empty cache (compile+store)", dir)
	start("warm cache", dir)
	start("warm cache, again", dir)

	measure := func(label string, b []byte) {
		const rounds = 5
		var pages int
		t0 := time.Now()
		for range rounds {
			p, err := testExtractor.Text(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			pages = len(p)
		}
		d := time.Since(t0) / rounds
		t.Logf("%-40s %3d pages: %7.1f ms a document, %5.2f ms a page", label, pages, ms(d), ms(d)/float64(pages))
	}
	if files, _ := filepath.Glob(filepath.Join(samplesDir, "*.pdf")); len(files) > 0 {
		var all []byte
		for _, f := range files {
			b := readFile(t, f)
			measure(filepath.Base(f), b)
			all = append(all, b...)
		}
	}
	measure("long.pdf", readFile(t, "testdata/long.pdf"))
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("Go heap after the runs: %d MB in use, %d MB obtained from the OS; process %s",
		m.HeapInuse>>20, m.Sys>>20, rss())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rss reads the resident set size on Linux, for the log only.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "RSS unknown"
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			return "RSS " + strings.TrimSpace(string(v))
		}
	}
	return "RSS unknown"
}

// A file too large for pdfcpu still has its Info dictionary read, by PDFium, with its pages.
func TestPagesFromWithInfoReadsTheInfoDictionary(t *testing.T) {
	ex := testExtractor
	small := readFile(t, filepath.Join("testdata", "info.pdf"))
	big, err := gen.Padded(small, MaxInspectBytes+1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InspectBytes(big); !errors.Is(err, ErrNotInspected) {
		t.Fatalf("Inspect of %d bytes: %v, want ErrNotInspected", len(big), err)
	}
	for name, b := range map[string][]byte{"small": small, "over the inspect limit": big} {
		t.Run(name, func(t *testing.T) {
			var pages int
			info, err := ex.PagesFromWithInfo(context.Background(), bytes.NewReader(b), int64(len(b)), func(Page) error { pages++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			want := Info{Pages: 1, Title: "Compte rendu de test", Subject: "Sujet de test", Author: "Dr Test",
				Keywords: "#MSS-TO: a.b@medecin.mssante.fr; #MSS-BOX: biologie", Creator: "LogicielMedical 4.2"}
			info.Producer = ""
			if info != want || pages != 1 {
				t.Errorf("Info = %+v (%d pages read), want %+v", info, pages, want)
			}
		})
	}
}
