package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/store"
)

// A child is this test binary started again with childEnv set: its peak RSS is the memory
// one bridge (or one reader) needed, untouched by the other tests of this process.
const (
	childEnv      = "MSSBRIDGE_HOSTILE_CHILD"
	childFilesEnv = "MSSBRIDGE_HOSTILE_FILES"  // "read": the PDFs, one a line
	childCfgEnv   = "MSSBRIDGE_HOSTILE_CONFIG" // "bridge": the configuration file
)

// childReport is what a child prints on its last line of output.
type childReport struct {
	PeakRSSKB int64         `json:"peak_rss_kb"` // VmHWM
	AtPeak    *memSample    `json:"at_peak,omitempty"`
	Results   []childResult `json:"results,omitempty"`
	Jobs      []childJob    `json:"jobs,omitempty"`
}

type childResult struct {
	File     string   `json:"file"`
	Decision string   `json:"decision"`
	Reasons  []string `json:"reasons"`
	Err      string   `json:"err,omitempty"`
	Millis   int64    `json:"ms"`
}

type childJob struct {
	Source    string `json:"source"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
}

func runChild(mode string) error {
	var rep childReport
	switch mode {
	case "read":
		bridge.SetSoftMemoryLimit() // as `mssbridge run` does
		rd, err := newReader(wasmCache, 2)
		if err != nil {
			return err
		}
		files := strings.Split(strings.TrimSpace(os.Getenv(childFilesEnv)), "\n")
		rep.Results = make([]childResult, len(files))
		// Two at a time, as the bridge reads (two read slots, two PDFium instances).
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, f := range files {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t0 := time.Now()
				res, err := rd.Read(context.Background(), f, "")
				r := childResult{File: f, Decision: string(res.Decision), Reasons: res.Reasons, Millis: time.Since(t0).Milliseconds()}
				if err != nil {
					r.Err = err.Error()
				}
				rep.Results[i] = r
			}()
		}
		wg.Wait()
	case "bridge":
		cfg, err := config.Load(os.Getenv(childCfgEnv))
		if err != nil {
			return err
		}
		bridge.SetSoftMemoryLimit() // as `mssbridge run` does
		workers := 2
		if n, err := strconv.Atoi(os.Getenv("HOSTILE_READERS")); err == nil {
			workers = n
		}
		rd, err := newReader(wasmCache, workers)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		b, err := bridge.Open(context.Background(), bridge.Options{Config: cfg, Reader: rd, Logger: log})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		peak := sampleMemory(ctx)
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		fmt.Println("ready")
		// The parent closes stdin when it has seen every outcome.
		io.Copy(io.Discard, os.Stdin)
		select {
		case err := <-done:
			return fmt.Errorf("the bridge stopped on its own: %v", err)
		default:
		}
		rep.PeakRSSKB = peakRSSKB()
		cancel()
		<-done
		rep.AtPeak = peak()
		jobs, err := b.Store().List(context.Background(), store.Filter{})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			rep.Jobs = append(rep.Jobs, childJob{Source: j.SourceName, State: string(j.State), LastError: j.LastError})
		}
		b.Close()
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	if rep.PeakRSSKB == 0 {
		rep.PeakRSSKB = peakRSSKB()
	}
	out, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// peakRSSKB is the process's VmHWM from /proc (Linux), 0 elsewhere.
func peakRSSKB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func needProcRSS(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read from /proc/self/status (Linux)")
	}
}

// child starts this binary in mode with env; stdin is returned for "bridge" children.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *syncBuffer
}

func startChild(t *testing.T, mode string, env ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20), stderr: &syncBuffer{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return c
}

// report waits for the child to end and decodes its last line.
func (c *child) report(t *testing.T) childReport {
	t.Helper()
	c.stdin.Close()
	out, _ := io.ReadAll(c.out)
	err := c.cmd.Wait()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var rep childReport
	if err != nil || len(lines) == 0 || json.Unmarshal(lines[len(lines)-1], &rep) != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Logf("child exit: %v", ee)
		}
		t.Fatalf("child failed: %v\nstdout: %s\nstderr (tail): %s", err, out, tail(c.stderr.String(), 3000))
	}
	return rep
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
