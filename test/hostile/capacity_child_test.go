package hostile

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The capacity tests run the real `mssbridge run` (built from ./cmd/mssbridge), not a child
// copy of this test binary: the soft memory limit, the logger and the reader pool are the
// ones a hospital runs, and nothing of the test process is counted in what /proc shows.

// buildBridge builds ./cmd/mssbridge into dir and returns the binary's path.
func buildBridge(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the mssbridge module")
	}
	bin := filepath.Join(dir, "mssbridge")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/mssbridge")
	build.Dir = filepath.Dir(gomod)
	// What ships: no cgo (CI cross-builds for Windows with CGO_ENABLED=0).
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	t0 := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mssbridge: %v\n%s", err, out)
	}
	t.Logf("built ./cmd/mssbridge in %s", time.Since(t0).Round(100*time.Millisecond))
	return bin
}

// startWarm starts the bridge twice on the same data_dir and returns the second, running, and
// the first one's peak RSS (kB). The first start compiles PDFium into data_dir/cache/wasm,
// which costs more memory than any document (300 MB and more, logged by the tests) and leaves
// the process large for a while; a service meets it once, at its very first start, and runs
// on the warm cache ever after: that is the bridge the capacity figures are about.
//
// CAPACITY_BRIDGE_ENV adds environment variables to the bridge (space-separated KEY=VALUE,
// e.g. "GODEBUG=gctrace=1 GOGC=50"), to find where its memory goes; its log is kept in the
// test's folder and its tail printed when a test fails.
func startWarm(t *testing.T, bin, cfg, dir string) (coldHWMKB int64, p *bridgeProc) {
	t.Helper()
	env := strings.Fields(os.Getenv("CAPACITY_BRIDGE_ENV"))
	cold := startBridgeProc(t, bin, cfg, dir, env...)
	coldHWMKB, err := procStatusKB(cold.pid(), "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	cold.stop(t)
	if err := cold.err(); err != nil {
		t.Fatalf("mssbridge run exit after SIGTERM: %v\n%s", err, tail(cold.log(), 2000))
	}
	return coldHWMKB, startBridgeProc(t, bin, cfg, dir, env...)
}

// bridgeProc is one `mssbridge run` child, its log in a file of its own.
type bridgeProc struct {
	cmd     *exec.Cmd
	logPath string
	mark    int // the log file's size when this run started
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// startBridgeProc runs `bin run -c cfg` and waits for its "bridge running" log line.
func startBridgeProc(t *testing.T, bin, cfg, dir string, env ...string) *bridgeProc {
	t.Helper()
	p := &bridgeProc{logPath: filepath.Join(dir, "bridge.log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "run", "-c", cfg)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start mssbridge run: %v", err)
	}
	go func() {
		err := p.cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		running := !p.exited()
		p.stop(t)
		if running && t.Failed() {
			t.Logf("bridge log (tail):\n%s", tail(p.log(), 4000))
		}
	})
	// The log file is shared by successive starts: only what this one wrote counts.
	mark := 0
	if fi, err := f.Stat(); err == nil {
		mark = int(fi.Size())
	}
	p.mark = mark
	waitFor(t, 90*time.Second, "the bridge's \"bridge running\" log line", func() bool {
		if p.exited() {
			t.Fatalf("mssbridge run ended at start: %v\n%s", p.err(), tail(p.log(), 3000))
		}
		return strings.Contains(p.log(), `"bridge running"`)
	})
	return p
}

func (p *bridgeProc) pid() int { return p.cmd.Process.Pid }

// log is what this run of the bridge has written so far.
func (p *bridgeProc) log() string {
	data, _ := os.ReadFile(p.logPath)
	if p.mark <= len(data) {
		data = data[p.mark:]
	}
	return string(data)
}

func (p *bridgeProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *bridgeProc) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// stop sends SIGTERM, what a service manager sends, and waits; SIGKILL after 20 s.
func (p *bridgeProc) stop(t *testing.T) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("mssbridge run did not stop within 20 s of SIGTERM")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// procStatusKB reads one "Name:   123 kB" field of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// fdCount is the number of open file descriptors of pid.
func fdCount(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// fdKinds summarises what pid's descriptors point to (socket, pipe, anon_inode, or the
// folder of a file), for a message when the count is off.
func fdKinds(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		k := l
		if i := strings.IndexByte(l, ':'); i > 0 && !strings.HasPrefix(l, "/") {
			k = l[:i]
		} else {
			k = filepath.Dir(l) + "/…"
		}
		kinds[k]++
	}
	var b strings.Builder
	for k, n := range kinds {
		fmt.Fprintf(&b, "%s ×%d; ", k, n)
	}
	return b.String()
}

// cpuTicks is pid's user + system CPU time in clock ticks (/proc/PID/stat fields 14 and 15).
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count after it.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return ut + st, nil
}

// clockTicks is sysconf(_SC_CLK_TCK), read with getconf (100 on Linux nearly always).
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// pdfAttachments returns the sha256 of every application/pdf part of a MIME message (the
// document itself; an XDM package is a separate application/zip part).
func pdfAttachments(raw []byte) ([][32]byte, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var out [][32]byte
	var walk func(ct string, h map[string][]string, body io.Reader) error
	walk = func(ct string, h map[string][]string, body io.Reader) error {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return err
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := walk(p.Header.Get("Content-Type"), p.Header, p); err != nil {
					return err
				}
			}
		}
		if mt != "application/pdf" {
			return nil
		}
		var r io.Reader = body
		if cte := h["Content-Transfer-Encoding"]; len(cte) > 0 && strings.EqualFold(strings.TrimSpace(cte[0]), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, body)
		}
		hs := sha256.New()
		if _, err := io.Copy(hs, r); err != nil {
			return err
		}
		out = append(out, [32]byte(hs.Sum(nil)))
		return nil
	}
	err = walk(m.Header.Get("Content-Type"), m.Header, m.Body)
	return out, err
}
