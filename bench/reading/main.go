// Command reading measures how fast mssbridge reads documents, in one run:
//
//   - time per page on the reading corpus: the PDFium extractor alone, the whole reader
//     (extraction, letter, directory), and spawning poppler's pdftotext once per file, side by
//     side, one document at a time and two at a time;
//   - the extractor's cold start (NewExtractor and a first one-page document) in a fresh
//     process, without and with wazero's on-disk compilation cache;
//   - peak memory (VmHWM) of a fresh process reading a 300-page PDF, beside pdftotext's.
//
// Cold start and memory run in child processes (this binary with -phase), so that each
// figure is a process's own. Run it through run.sh, or: go run ./bench/reading -h
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/trust"
)

func main() {
	phase := flag.String("phase", "", "internal: cold or mem (a child process's measurement)")
	cache := flag.String("cache", "", "internal: compilation cache folder for -phase")
	pdfFile := flag.String("pdf", "", "internal: the PDF of -phase")
	root := flag.String("root", ".", "repository root")
	rounds := flag.Int("rounds", 5, "passes over the corpus for each throughput figure")
	coldRuns := flag.Int("cold", 3, "fresh processes per cold-start figure")
	long := flag.String("long", "", "the 300-page PDF (default ROOT/pdf/testdata/long.pdf)")
	flag.Parse()

	var err error
	switch *phase {
	case "cold":
		err = childCold(*cache, *pdfFile)
	case "mem":
		err = childMem(*cache, *pdfFile)
	case "":
		err = run(*root, *rounds, *coldRuns, *long)
	default:
		err = fmt.Errorf("unknown phase %q", *phase)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/reading:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- children

type childResult struct {
	StartMs    float64 `json:"start_ms"`     // NewExtractor
	FirstMs    float64 `json:"first_ms"`     // the first document after it
	Pages      int     `json:"pages"`        // pages read
	ReadMs     float64 `json:"read_ms"`      // the document (mem phase)
	HWMStartKB int     `json:"hwm_start_kb"` // VmHWM once the extractor is up
	HWMKB      int     `json:"hwm_kb"`       // VmHWM at the end
}

func childCold(cache, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	t0 := time.Now()
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{CacheDir: cache, Workers: 1})
	if err != nil {
		return err
	}
	defer ex.Close()
	start := time.Since(t0)
	hwm0 := vmHWM()
	t1 := time.Now()
	pages, err := ex.Text(context.Background(), b)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{StartMs: ms(start), FirstMs: ms(time.Since(t1)), Pages: len(pages),
		HWMStartKB: hwm0, HWMKB: vmHWM()})
}

func childMem(cache, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{CacheDir: cache, Workers: 1})
	if err != nil {
		return err
	}
	defer ex.Close()
	hwm0 := vmHWM()
	r := reading.NewReader(ex, trust.Any())
	t0 := time.Now()
	res, err := r.ReadBytes(context.Background(), filepath.Base(file), b, "", nil)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{Pages: res.Pages, ReadMs: ms(time.Since(t0)), HWMStartKB: hwm0, HWMKB: vmHWM()})
}

// vmHWM is the process's peak resident set, in KiB (Linux).
func vmHWM() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// child runs this binary with args and decodes its result; maxRSS is the child's peak
// resident set as the kernel reports it to the parent.
func child(args ...string) (childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.Command(self, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("%v: %v: %s", args, err, errb.String())
	}
	var r childResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("%v: %v: %q", args, err, out.String())
	}
	return r, nil
}

// ---------------------------------------------------------------- the run

type doc struct {
	path  string
	data  []byte
	pages int
}

func run(root string, rounds, coldRuns int, long string) error {
	ctx := context.Background()
	if long == "" {
		long = filepath.Join(root, "pdf", "testdata", "long.pdf")
	}
	corpusDir := filepath.Join(root, "reading", "testdata", "corpus")
	tmp, err := os.MkdirTemp("", "mssbridge-bench-reading-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cacheDir := filepath.Join(tmp, "wasm-cache")

	fmt.Printf("bench/reading: %s, GOMAXPROCS %s, %s\n", cpuInfo(), os.Getenv("GOMAXPROCS"), pdftotextVersion())

	// The corpus, in memory, with its pages counted by the extractor.
	ex, err := pdf.NewExtractor(ctx, pdf.ExtractorOptions{CacheDir: cacheDir, Workers: 2})
	if err != nil {
		return err
	}
	defer ex.Close()
	var docs []doc
	files, _ := filepath.Glob(filepath.Join(corpusDir, "pdf", "*.pdf"))
	shared, _ := filepath.Glob(filepath.Join(root, "..", "shared", "samples", "pdf", "*.pdf"))
	files = append(files, shared...)
	totalPages := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		pages, err := ex.Text(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		docs = append(docs, doc{path: f, data: b, pages: len(pages)})
		totalPages += len(pages)
	}
	if len(docs) == 0 {
		return fmt.Errorf("no PDF under %s", corpusDir)
	}
	ix, err := directory.Open(ctx, filepath.Join(corpusDir, "annuaire.txt"), filepath.Join(tmp, "directory"))
	if err != nil {
		return err
	}
	defer ix.Close()
	reader := reading.NewReader(ex, trust.Any(), reading.WithDirectory(reading.FromIndex(ix)))
	fmt.Printf("corpus: %d documents, %d pages (%s and the shared samples), %d rounds each\n\n", len(docs), totalPages, corpusDir, rounds)

	// Throughput: best of the rounds, per page.
	type row struct {
		name string
		best time.Duration
	}
	var rows []row
	measure := func(name string, workers int, one func(d doc) error) error {
		best := time.Duration(1<<63 - 1)
		for r := 0; r <= rounds; r++ { // round 0 warms up
			t0 := time.Now()
			if err := forEach(docs, workers, one); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if d := time.Since(t0); r > 0 && d < best {
				best = d
			}
		}
		rows = append(rows, row{name, best})
		return nil
	}
	extract := func(d doc) error { _, err := ex.Text(ctx, d.data); return err }
	read := func(d doc) error {
		_, err := reader.ReadBytes(ctx, filepath.Base(d.path), d.data, "", nil)
		return err
	}
	pdftotext := func(d doc) error {
		return exec.Command("pdftotext", "-layout", "-enc", "UTF-8", d.path, os.DevNull).Run()
	}
	for _, m := range []struct {
		name    string
		workers int
		fn      func(doc) error
	}{
		{"PDFium extractor (text + boxes), 1 at a time", 1, extract},
		{"reader (extract, letter, directory), 1 at a time", 1, read},
		{"pdftotext -layout, one process per file, 1 at a time", 1, pdftotext},
		{"reader, 2 at a time (2 PDFium instances)", 2, read},
		{"pdftotext, 2 processes at a time", 2, pdftotext},
	} {
		if err := measure(m.name, m.workers, m.fn); err != nil {
			return err
		}
	}
	fmt.Println("1. Reading time on the corpus (best of the rounds)")
	fmt.Printf("   %-55s %10s %10s %10s\n", "", "ms/page", "ms/doc", "docs/s")
	for _, r := range rows {
		fmt.Printf("   %-55s %10.2f %10.2f %10.1f\n", r.name, ms(r.best)/float64(totalPages), ms(r.best)/float64(len(docs)),
			float64(len(docs))/r.best.Seconds())
	}
	fmt.Printf("   reader / pdftotext (1 at a time): %.2fx the time\n\n", float64(rows[1].best)/float64(rows[2].best))

	// Cold start, in fresh processes.
	onePage := filepath.Join(corpusDir, "pdf", "gs-01-bloc-droite-adresse.pdf")
	if _, err := os.Stat(onePage); err != nil {
		onePage = docs[0].path
	}
	coldCache := filepath.Join(tmp, "cold-cache")
	if _, err := child("-phase", "cold", "-cache", coldCache, "-pdf", onePage); err != nil { // fills the cache
		return err
	}
	fmt.Println("2. Extractor cold start in a fresh process (median of", coldRuns, "runs)")
	fmt.Printf("   %-38s %14s %16s %14s %14s\n", "", "NewExtractor", "+ first 1-page", "VmHWM start", "VmHWM end")
	for _, c := range []struct{ name, cache string }{{"no compilation cache", ""}, {"wazero cache on disk (warm)", coldCache}} {
		var rs []childResult
		for i := 0; i < coldRuns; i++ {
			r, err := child("-phase", "cold", "-cache", c.cache, "-pdf", onePage)
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].StartMs < rs[j].StartMs })
		m := rs[len(rs)/2]
		fmt.Printf("   %-38s %11.0f ms %13.1f ms %11.0f MB %11.0f MB\n", c.name, m.StartMs, m.FirstMs, mb(m.HWMStartKB), mb(m.HWMKB))
	}
	if entries, _ := os.ReadDir(coldCache); len(entries) > 0 {
		fmt.Printf("   cache on disk: %.1f MB\n", float64(dirSize(coldCache))/1e6)
	}
	fmt.Println()

	// Peak memory on a 300-page PDF.
	if _, err := os.Stat(long); err != nil {
		fmt.Printf("3. Peak memory: %s missing, skipped\n", long)
		return nil
	}
	mem, err := child("-phase", "mem", "-cache", coldCache, "-pdf", long)
	if err != nil {
		return err
	}
	t0 := time.Now()
	cmd := exec.Command("pdftotext", "-layout", long, os.DevNull)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pdftotext %s: %w", long, err)
	}
	ptt := time.Since(t0)
	pttRSS := maxRSSKB(cmd.ProcessState)
	fmt.Printf("3. Peak memory reading %s (%d pages) in a fresh process\n", filepath.Base(long), mem.Pages)
	fmt.Printf("   %-55s %10s %12s\n", "", "VmHWM", "time")
	fmt.Printf("   %-55s %7.0f MB %12s\n", "reader: extractor up (warm cache), before the document", mb(mem.HWMStartKB), "")
	fmt.Printf("   %-55s %7.0f MB %9.0f ms  (%.2f ms/page)\n", "reader: after reading the document (aim < 150 MB)", mb(mem.HWMKB), mem.ReadMs, mem.ReadMs/float64(mem.Pages))
	fmt.Printf("   %-55s %7.0f MB %9.0f ms\n", "pdftotext -layout (one process)", mb(pttRSS), ms(ptt))
	return nil
}

// forEach calls fn on every document, workers at a time.
func forEach(docs []doc, workers int, fn func(doc) error) error {
	if workers <= 1 {
		for _, d := range docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	}
	ch := make(chan doc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ch {
				if err := fn(d); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range docs {
		ch <- d
	}
	close(ch)
	wg.Wait()
	return first
}

func mb(kb int) float64 { return float64(kb) / 1024 }

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func cpuInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	n, model := 0, ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "processor") {
			n++
		}
		if rest, ok := strings.CutPrefix(l, "model name"); ok && model == "" {
			model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return fmt.Sprintf("%d CPU(s) %s", n, model)
}

func pdftotextVersion() string {
	out, err := exec.Command("pdftotext", "-v").CombinedOutput()
	if err != nil {
		return "pdftotext missing"
	}
	return strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
}
