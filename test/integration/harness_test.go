//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// pollEvery is how often a wait looks again: short against the bridge's own delays (quiet
// window 500 ms, first retry 1 s), long enough not to load the machine.
const pollEvery = 200 * time.Millisecond

// opts says how a case's bridge reaches the operator.
type opts struct {
	Security string // starttls | tls
	Cert     string // client certificate; "" sends none
	Key      string
}

// goodTLS and goodStartTLS are the box as the operator issued it.
func goodStartTLS() opts {
	return opts{Security: "starttls", Cert: env.ClientCert, Key: env.ClientKey}
}

func goodTLS() opts { return opts{Security: "tls", Cert: env.ClientCert, Key: env.ClientKey} }

// bridgeCase is one test's bridge: its own data_dir, input folder, configuration and process.
type bridgeCase struct {
	t        *testing.T
	dir      string
	dataDir  string
	inDir    string
	stageDir string // same file system as inDir: files are renamed into the input whole
	cfgPath  string
	logMark  int64 // size of the Postfix log when the case began

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logs    []string // one file per start of the bridge
}

func newCase(t *testing.T, o opts) *bridgeCase {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	dir := t.TempDir()
	c := &bridgeCase{
		t:        t,
		dir:      dir,
		dataDir:  filepath.Join(dir, "data"),
		inDir:    filepath.Join(dir, "in"),
		stageDir: filepath.Join(dir, "stage"),
		cfgPath:  filepath.Join(dir, "mssbridge.yaml"),
		logMark:  fileSize(env.PostfixLog),
	}
	for _, d := range []string{c.inDir, c.stageDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(c.cfgPath, []byte(c.config(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: stop the bridge, print what helps on failure, then
	// keep the configured log file (if any) before t.TempDir goes.
	t.Cleanup(c.collectLogFile)
	t.Cleanup(c.diagnose)
	t.Cleanup(c.stop)
	return c
}

// config writes the contract's keys plus the extension keys of docs/DESIGN.md, with delays
// short enough for a test: quiet 500 ms (claim soon after the drop), first retry 1 s.
func (c *bridgeCase) config(o opts) string {
	port := env.StartTLSPort
	if o.Security == "tls" {
		port = env.TLSPort
	}
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %s\n", q(c.dataDir))
	b.WriteString("boxes:\n  - id: biologie\n")
	fmt.Fprintf(&b, "    address: %s\n", q(env.BoxAddress))
	b.WriteString("    smtp:\n")
	fmt.Fprintf(&b, "      host: %s\n      port: %d\n      security: %s\n      ca_file: %s\n",
		q(env.Host), port, o.Security, q(env.CAFile))
	if o.Cert != "" {
		fmt.Fprintf(&b, "      cert_file: %s\n      key_file: %s\n", q(o.Cert), q(o.Key))
	}
	b.WriteString("inputs:\n  - id: depot\n")
	fmt.Fprintf(&b, "    path: %s\n    box: biologie\n", q(c.inDir))
	b.WriteString("routing:\n  default_action: send\n")
	b.WriteString("watch:\n  quiet: 500ms\n  rescan: 2s\n")
	b.WriteString("sending:\n  retry_initial: 1s\n  retry_max: 4s\n  give_up_after: 30m\n  timeout: 20s\n")
	fmt.Fprintf(&b, "web:\n  listen: %s\n", q(freeAddr(c.t)))
	return b.String()
}

func q(s string) string { return strconv.Quote(s) } // a YAML double-quoted scalar, for ASCII

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs `mssbridge run -c cfg` in the background, output to a log file of its own in
// the suite's log folder (privacy_test.go searches them all once every test has run).
func (c *bridgeCase) start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		c.t.Fatal("start: the bridge is already running")
	}
	f, err := newSuiteLog(c.t, kindRun, c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	logPath := f.Name()
	cmd := exec.Command(binPath, "run", "-c", c.cfgPath)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("start mssbridge run: %v", err)
	}
	done := make(chan struct{})
	c.cmd, c.done, c.waitErr = cmd, done, nil
	c.logs = append(c.logs, logPath)
	go func() {
		err := cmd.Wait()
		f.Close()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(done)
	}()
}

// exited says whether the running bridge has ended on its own, and how.
func (c *bridgeCase) exited() (bool, error) {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done == nil {
		return false, nil
	}
	select {
	case <-done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, c.waitErr
	default:
		return false, nil
	}
}

// kill sends SIGKILL and reaps the process: a power cut, as far as the bridge can tell.
func (c *bridgeCase) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd, c.done = nil, nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop asks the bridge to end (SIGTERM, what a service manager sends) and waits for it.
func (c *bridgeCase) stop() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd, c.done = nil, nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return // already ended; diagnose() shows its log
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		c.t.Errorf("the bridge did not stop within 20 s of SIGTERM (killed)")
	}
}

// cli runs one mssbridge command to its end and returns its output and exit status.
func (c *bridgeCase) cli(args ...string) (string, int) {
	c.t.Helper()
	return c.cliInput("", args...)
}

// cliInput is cli with stdin as the command's standard input (`user add` reads the password
// there).
func (c *bridgeCase) cliInput(stdin string, args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	c.keepCLIOutput(args, out)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return string(out), ee.ExitCode()
	default:
		c.t.Fatalf("mssbridge %s: %v\n%s", strings.Join(args, " "), err, out)
		return "", -1
	}
}

// keepCLIOutput adds a command's output to the suite's logs: its slog records are searched
// like the bridge's.
func (c *bridgeCase) keepCLIOutput(args []string, out []byte) {
	f, err := newSuiteLog(c.t, kindCLI, c.dir)
	if err != nil {
		c.t.Errorf("keep the output of mssbridge %s: %v", strings.Join(args, " "), err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "# mssbridge %s\n", strings.Join(args, " "))
	if _, err := f.Write(out); err != nil {
		c.t.Errorf("keep the output of mssbridge %s: %v", strings.Join(args, " "), err)
	}
}

// collectLogFile copies the configuration's log.file, rotated ones included, into the suite's
// logs: a test that sets it writes there as well as to the output the harness keeps.
func (c *bridgeCase) collectLogFile() {
	raw, err := os.ReadFile(c.cfgPath)
	if err != nil {
		return
	}
	var cfg struct {
		Log struct {
			File string `yaml:"file"`
		} `yaml:"log"`
	}
	if yaml.Unmarshal(raw, &cfg) != nil || cfg.Log.File == "" {
		return // a configuration the bridge refuses has written no log file either
	}
	p := cfg.Log.File
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(c.cfgPath), p) // relative to the configuration, as config.Load resolves it
	}
	rotated, _ := filepath.Glob(p + ".[0-9]*")
	for _, src := range append([]string{p}, rotated...) {
		if _, err := os.Stat(src); os.IsNotExist(err) {
			continue
		}
		raw, err := os.ReadFile(src)
		if err != nil {
			c.t.Errorf("log.file %s: %v", src, err)
			continue
		}
		f, err := newSuiteLog(c.t, kindFile, c.dir)
		if err != nil {
			c.t.Errorf("keep log.file %s: %v", src, err)
			continue
		}
		_, err = f.Write(raw)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.t.Errorf("keep log.file %s: %v", src, err)
		}
	}
}

// drop puts a document into the input folder in one rename, as a careful DUI would; the
// watcher's quiet window covers the careless ones.
func (c *bridgeCase) drop(name string, pdf []byte) {
	c.t.Helper()
	stage := filepath.Join(c.stageDir, name)
	if err := os.WriteFile(stage, pdf, 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(stage, filepath.Join(c.inDir, name)); err != nil {
		c.t.Fatal(err)
	}
}

// inputFiles lists the files still in the input folder.
func (c *bridgeCase) inputFiles() []string {
	ents, err := os.ReadDir(c.inDir)
	if err != nil {
		c.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// jobFile is one held/ or failed/ sidecar: the JSON decoded, its raw text and its job id.
type jobFile struct {
	Job  string
	Path string
	Raw  string
	JSON map[string]any
}

// jobFiles reads data_dir/STATE/*.json ("held" or "failed"). A file that does not parse yet
// (being written) is skipped: the next poll sees it whole.
func (c *bridgeCase) jobFiles(state string) []jobFile {
	paths, _ := filepath.Glob(filepath.Join(c.dataDir, state, "*.json"))
	sort.Strings(paths)
	var out []jobFile
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		out = append(out, jobFile{Job: strings.TrimSuffix(filepath.Base(p), ".json"), Path: p, Raw: string(raw), JSON: m})
	}
	return out
}

// postfixLog returns what Postfix logged since the case began (an unreadable log reads as
// its error, which no assertion mistakes for a log line).
func (c *bridgeCase) postfixLog() string {
	f, err := os.Open(env.PostfixLog)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if _, err := f.Seek(c.logMark, 0); err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(f)
	return b.String()
}

// waitFor polls cond until it holds or the timeout passes; it fails at once if the bridge,
// meant to be running, has ended. cond returns a note of where things stand, for the message.
func (c *bridgeCase) waitFor(what string, timeout time.Duration, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, note := cond()
		if ok {
			return
		}
		if gone, err := c.exited(); gone {
			c.t.Fatalf("waiting for %s: the bridge exited on its own (%v); %s", what, err, note)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s; %s", timeout, what, note)
		}
		time.Sleep(pollEvery)
	}
}

// waitExit waits for the bridge to end on its own with the given status and output matching
// say: a configuration refused at start.
func (c *bridgeCase) waitExit(timeout time.Duration, status int, say *regexp.Regexp) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if gone, err := c.exited(); gone {
			out := c.lastLog()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != status {
				c.t.Errorf("mssbridge run ended with status %d (%v), want %d", code, err, status)
			}
			if !say.MatchString(out) {
				c.t.Errorf("mssbridge run's output does not match %s:\n%s", say, out)
			}
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("mssbridge run still running after %s; want it to refuse the configuration (exit %d)", timeout, status)
		}
		time.Sleep(pollEvery)
	}
}

// lastLog is the output of the latest start of the bridge.
func (c *bridgeCase) lastLog() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.logs) == 0 {
		return ""
	}
	raw, _ := os.ReadFile(c.logs[len(c.logs)-1])
	return string(raw)
}

// waitInputEmpty waits until every dropped file has been claimed.
func (c *bridgeCase) waitInputEmpty(timeout time.Duration) {
	c.t.Helper()
	c.waitFor("the input folder to empty", timeout, func() (bool, string) {
		left := c.inputFiles()
		return len(left) == 0, fmt.Sprintf("still in the input: %v", left)
	})
}

// diagnose prints, when the test failed, what a person needs to see why.
func (c *bridgeCase) diagnose() {
	if !c.t.Failed() {
		return
	}
	var b strings.Builder
	for _, p := range c.logs {
		raw, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "\n---- %s (last 60 lines) ----\n%s", filepath.Base(p), tail(string(raw), 60))
	}
	fmt.Fprintf(&b, "\n---- Postfix log since the case began (last 60 lines) ----\n%s", tail(c.postfixLog(), 60))
	fmt.Fprintf(&b, "\n---- input folder ----\n%v\n", c.inputFilesQuiet())
	fmt.Fprintf(&b, "---- data_dir ----\n")
	_ = filepath.WalkDir(c.dataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(c.dataDir, p)
			fmt.Fprintf(&b, "%s\n", rel)
		}
		return nil
	})
	for _, st := range []string{"held", "failed"} {
		for _, j := range c.jobFiles(st) {
			fmt.Fprintf(&b, "---- %s/%s.json ----\n%s\n", st, j.Job, clip(j.Raw, 3000))
		}
	}
	fmt.Fprintf(&b, "---- configuration %s ----\n", c.cfgPath)
	cfg, _ := os.ReadFile(c.cfgPath)
	b.Write(cfg)
	c.t.Log(b.String())
}

func (c *bridgeCase) inputFilesQuiet() []string {
	ents, _ := os.ReadDir(c.inDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// flip lets a defer* recipient through from now on (ci/postfix/flip-defer.sh).
func flip(t *testing.T, addr string) {
	t.Helper()
	out, err := exec.Command(env.Flip, addr).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", env.Flip, addr, err, out)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// addr makes a recipient address unique to this run and test: PREFIX-RUNID-NAME@DOMAIN.
// PREFIX steers Postfix (ci/postfix/setup.sh): "reject" 550, "defer" 450 until flipped,
// "slow" 250 a second late; anything else is delivered at once.
func addr(prefix, name, domain string) string {
	return strings.ToLower(fmt.Sprintf("%s-%s-%s@%s", prefix, runID, name, domain))
}

// lineCount counts the lines of s that contain every one of the words.
func lineCount(s string, words ...string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		all := true
		for _, w := range words {
			if !strings.Contains(line, w) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// str reads a string field of a decoded sidecar ("" when absent or not a string).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}
