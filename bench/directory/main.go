// Command directory measures the directory index on a synthetic Annuaire Santé MSSanté
// extraction (default 1,000,000 lines, the published header's 31 columns): build rate, peak
// memory during the build, size on disk, and lookup latencies over 10,000 random lookups —
// beside a naive in-memory load of the same file into Go maps, measured in the same run.
//
//	go run ./bench/directory               # or bench/directory/run.sh
//	go run ./bench/directory -lines 200000 -keep
//
// Each measured phase runs in a child process of its own, so that its peak RSS (VmHWM, read
// from /proc/self/status; Linux only) is its own. The source file is written and synced just
// before the build, which reads it from the page cache, as a rebuild after a download would;
// the build's time includes the fsync of the index it writes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/directory/synth"
)

type options struct {
	lines   int
	lookups int
	seed    uint64
	work    string
	keep    bool
	phase   string
}

func main() {
	var o options
	flag.IntVar(&o.lines, "lines", 1_000_000, "lines of the synthetic extraction")
	flag.IntVar(&o.lookups, "lookups", 10_000, "random lookups of each kind")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the synthetic extraction and of the lookups")
	flag.StringVar(&o.work, "work", "", "work folder (default: a new temporary folder, removed at the end)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder")
	flag.StringVar(&o.phase, "phase", "", "internal: run one measured phase (build, naive, lookup) and print JSON")
	flag.Parse()
	if o.phase != "" {
		if err := phase(o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/directory:", err)
		os.Exit(1)
	}
}

// result is what a phase prints.
type result struct {
	Seconds   float64
	Lines     int
	Entries   int
	PeakRSSKB int64
	IndexSize int64
	OpenUS    float64
	Latencies map[string]latency
}

type latency struct {
	P50, P99, Max time.Duration
	Found, N      int
}

func run(o options) error {
	work := o.work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "mssbridge-dirbench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(work)
		}
	} else if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	src := filepath.Join(work, "annuaire.txt")
	fmt.Printf("directory benchmark: %d lines, %s/%s, %d CPU, %s\n", o.lines, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	start := time.Now()
	if err := generate(o, src, filepath.Join(work, "keys.tsv")); err != nil {
		return err
	}
	st, _ := os.Stat(src)
	fmt.Printf("synthetic extraction: %s, %.1f MB, generated in %.1f s\n\n", src, mb(st.Size()), time.Since(start).Seconds())

	var res = map[string]result{}
	for _, p := range []string{"build", "lookup", "naive"} {
		cmd := exec.Command(os.Args[0], "-phase", p, "-work", work, "-lines", strconv.Itoa(o.lines),
			"-lookups", strconv.Itoa(o.lookups), "-seed", strconv.FormatUint(o.seed, 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("phase %s: %w", p, err)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("phase %s: %w (%s)", p, err, out)
		}
		res[p] = r
	}
	report(o, st.Size(), res)
	return nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// generate writes the extraction and, beside it, a reservoir sample of its lines (the keys
// the lookup phases use).
func generate(o options, src, keys string) error {
	f, err := os.Create(src)
	if err != nil {
		return err
	}
	g := synth.New(f, o.seed)
	r := rand.New(rand.NewPCG(o.seed, 99))
	sample := make([]synth.Line, 0, o.lookups)
	for i := range o.lines {
		l, err := g.Next()
		if err != nil {
			f.Close()
			return err
		}
		if len(sample) < o.lookups {
			sample = append(sample, l)
		} else if j := r.IntN(i + 1); j < o.lookups {
			sample[j] = l
		}
	}
	if err := g.Flush(); err != nil {
		return err
	}
	// Written to disk before the build starts, so that the build is not charged for the
	// generator's writes (it still reads the file from the page cache).
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	var b strings.Builder
	for _, l := range sample {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", l.Address, l.RPPS, l.Family, l.Given, l.Town)
	}
	return os.WriteFile(keys, []byte(b.String()), 0o600)
}

func readKeys(work string) ([][]string, error) {
	b, err := os.ReadFile(filepath.Join(work, "keys.tsv"))
	if err != nil {
		return nil, err
	}
	var out [][]string
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		out = append(out, strings.Split(l, "\t"))
	}
	return out, nil
}

// peakRSS returns the process's peak resident set (VmHWM) in KiB, or -1 where unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

func phase(o options) error {
	src := filepath.Join(o.work, "annuaire.txt")
	idx := filepath.Join(o.work, "index")
	var r result
	switch o.phase {
	case "build":
		t := time.Now()
		st, err := directory.Build(context.Background(), src, idx)
		if err != nil {
			return err
		}
		r = result{Seconds: time.Since(t).Seconds(), Lines: st.Lines, Entries: st.Entries, IndexSize: st.Size}
	case "lookup":
		keys, err := readKeys(o.work)
		if err != nil {
			return err
		}
		t := time.Now()
		ix, err := directory.Open(context.Background(), src, idx)
		if err != nil {
			return err
		}
		defer ix.Close()
		r.OpenUS = float64(time.Since(t).Microseconds())
		r.Entries = ix.Stats().Entries
		r.Latencies = lookups(keys, o.seed, map[string]func(k []string) bool{
			"ByAddress": func(k []string) bool { e, ok := ix.ByAddress(k[0]); return ok && e.Address == k[0] },
			"ByRPPS": func(k []string) bool {
				return k[1] != "" && slices.ContainsFunc(ix.ByRPPS(k[1]), func(e directory.Entry) bool { return e.Address == k[0] })
			},
			"ByName(family, given)": func(k []string) bool {
				return k[2] != "" && slices.ContainsFunc(ix.ByName(k[2], k[3]), func(e directory.Entry) bool { return e.Address == k[0] })
			},
			"ByName(family, \"\")": func(k []string) bool { return k[2] != "" && len(ix.ByName(k[2], "")) > 0 },
			"Search(\"family town\", 20)": func(k []string) bool {
				return k[2] != "" && len(ix.Search(k[2]+" "+k[4], 20)) > 0
			},
		})
	case "naive":
		keys, err := readKeys(o.work)
		if err != nil {
			return err
		}
		t := time.Now()
		m, err := naiveLoad(src)
		if err != nil {
			return err
		}
		r.Seconds = time.Since(t).Seconds()
		r.Lines, r.Entries = m.lines, len(m.entries)
		r.Latencies = lookups(keys, o.seed, map[string]func(k []string) bool{
			"ByAddress": func(k []string) bool {
				i, ok := m.byAddr[strings.ToLower(k[0])]
				return ok && m.entries[i].Address == k[0]
			},
			"ByRPPS": func(k []string) bool { return k[1] != "" && len(m.byRPPS["8"+k[1]]) > 0 },
			"ByName(family, given)": func(k []string) bool {
				return k[2] != "" && len(m.byName[directory.NameKey(k[2])+"\x00"+directory.NameKey(k[3])]) > 0
			},
		})
		runtime.KeepAlive(m)
	default:
		return fmt.Errorf("unknown phase %q", o.phase)
	}
	r.PeakRSSKB = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// lookups times each kind of lookup over the keys, in a random order; a key a kind does not
// apply to (no RPPS for an ORG box) is skipped.
func lookups(keys [][]string, seed uint64, kinds map[string]func([]string) bool) map[string]latency {
	out := map[string]latency{}
	rng := rand.New(rand.NewPCG(seed, 7))
	for name, fn := range kinds {
		order := rng.Perm(len(keys))
		var ds []time.Duration
		found := 0
		for _, i := range order {
			k := keys[i]
			if (strings.HasPrefix(name, "ByRPPS") && k[1] == "") || (name != "ByAddress" && !strings.HasPrefix(name, "ByRPPS") && k[2] == "") {
				continue
			}
			t := time.Now()
			ok := fn(k)
			ds = append(ds, time.Since(t))
			if ok {
				found++
			}
		}
		slices.Sort(ds)
		l := latency{N: len(ds), Found: found}
		if len(ds) > 0 {
			l.P50, l.P99, l.Max = ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1]
		}
		out[name] = l
	}
	return out
}

// naive is the baseline: every entry as a Go struct, three maps over them.
type naive struct {
	lines   int
	entries []directory.Entry
	byAddr  map[string]int
	byRPPS  map[string][]int
	byName  map[string][]int
}

func naiveLoad(src string) (*naive, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	m := &naive{byAddr: map[string]int{}, byRPPS: map[string][]int{}, byName: map[string][]int{}}
	var col map[string]int
	for sc.Scan() {
		f := strings.Split(strings.TrimRight(sc.Text(), "\r"), "|")
		if col == nil {
			col = map[string]int{}
			for i, h := range f {
				col[h] = i
			}
			continue
		}
		m.lines++
		if len(f) != len(col) {
			continue
		}
		get := func(n string) string {
			if i, ok := col[n]; ok {
				return f[i]
			}
			return ""
		}
		town := get("L6LIGNEACHEMINEMENT structure BAL")
		if i := strings.IndexByte(town, ' '); i > 0 {
			town = town[i+1:]
		}
		e := directory.Entry{Kind: get("Type de BAL"), Address: strings.ToLower(get("Adresse BAL")),
			IDType: get("Type d'identifiant PP"), PPID: get("Identifiant PP"), NationalID: get("Identification nationale PP"),
			Civility: get("Civilité d'exercice"), FamilyName: get("Nom d'exercice"), GivenName: get("Prénom d'exercice"),
			Profession: get("Libellé profession"), Specialty: get("Libellé savoir-faire"),
			Dematerialised: get("Dématérialisation") == "O", Structure: get("Raison Sociale structure BAL"),
			Service: get("Service de rattachement"), Postcode: get("Code postal structure BAL"), Town: town,
			Department: get("Département structure BAL")}
		i := len(m.entries)
		m.entries = append(m.entries, e)
		m.byAddr[e.Address] = i
		if e.NationalID != "" {
			m.byRPPS[e.NationalID] = append(m.byRPPS[e.NationalID], i)
		}
		if e.FamilyName != "" {
			k := directory.NameKey(e.FamilyName) + "\x00" + directory.NameKey(e.GivenName)
			m.byName[k] = append(m.byName[k], i)
		}
	}
	return m, sc.Err()
}

func report(o options, srcSize int64, res map[string]result) {
	b, n, l := res["build"], res["naive"], res["lookup"]
	rate := func(r result) string {
		if r.Seconds == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", float64(r.Lines)/r.Seconds)
	}
	rss := func(r result) string {
		if r.PeakRSSKB < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f MB", float64(r.PeakRSSKB)/1024)
	}
	fmt.Printf("%-34s %18s %18s\n", "load", "directory.Build", "naive Go maps")
	fmt.Printf("%-34s %18s %18s\n", "lines", strconv.Itoa(b.Lines), strconv.Itoa(n.Lines))
	fmt.Printf("%-34s %18.2f %18.2f\n", "time (s)", b.Seconds, n.Seconds)
	fmt.Printf("%-34s %18s %18s   (aim >= 200000)\n", "lines/s", rate(b), rate(n))
	fmt.Printf("%-34s %18s %18s   (project aim < 150 MB)\n", "peak RSS of the process (VmHWM)", rss(b), rss(n))
	fmt.Printf("%-34s %15.1f MB %18s   (source %.1f MB)\n", "on disk", mb(b.IndexSize), "–", mb(srcSize))
	fmt.Printf("%-34s %18s %18s\n", "peak RSS, lookup process", rss(l), "(same as load)")
	fmt.Printf("%-34s %15.2f ms\n\n", "Open of the built index", l.OpenUS/1000)

	fmt.Printf("lookups, %d random keys each (µs)   %8s %8s %8s %8s   naive map p50/p99\n", o.lookups, "p50", "p99", "max", "found")
	for _, k := range []string{"ByAddress", "ByRPPS", "ByName(family, given)", "ByName(family, \"\")", "Search(\"family town\", 20)"} {
		x := l.Latencies[k]
		nv := "–"
		if y, ok := n.Latencies[k]; ok {
			nv = fmt.Sprintf("%.2f / %.2f", us(y.P50), us(y.P99))
		}
		fmt.Printf("%-35s %8.1f %8.1f %8.1f %8s   %s\n", k, us(x.P50), us(x.P99), us(x.Max), fmt.Sprintf("%d/%d", x.Found, x.N), nv)
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
