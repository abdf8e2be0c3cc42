package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
)

const boxAddress = "noreply-bio@ch-exemple.mssante.fr"

// sharedReader is the real document reader (PDFium pool + pdfcpu), made once per process:
// the in-process bridges of every test use it, as `mssbridge run` does with its own.
var sharedReader = sync.OnceValues(func() (*reading.Reader, error) {
	return newReader(wasmCache, 2)
})

func newReader(cacheDir string, workers int) (*reading.Reader, error) {
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{CacheDir: cacheDir, Workers: workers})
	if err != nil {
		return nil, err
	}
	sp, err := trust.Load("")
	if err != nil {
		return nil, err
	}
	return reading.NewReader(ex, sp, reading.WithOwnAddresses(boxAddress)), nil
}

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// rigOptions say how a test's bridge is set up; the zero value is a bridge sending through a
// healthy loopback operator.
type rigOptions struct {
	reply     func(from, rcpt string) *smtp.SMTPError
	dataReply func(operator.Delivery) *smtp.SMTPError
	// smtp replaces the box's smtp: line (a misbehaving server of the test's own).
	smtp    string
	watch   string // the watch: block, default quiet 300ms, rescan 1s, max_wait 2s
	sending string // the sending: block
}

// rig is one bridge over its own data_dir, input folder and operator.
type rig struct {
	t       *testing.T
	dir     string
	op      *operator.Operator
	cfgPath string
	cfg     *config.Config
	input   string
	dataDir string
	logs    *syncBuffer

	b    *bridge.Bridge
	stop context.CancelFunc
	done chan error
}

// boxSMTP issues the box's client certificate at op and returns its files and the box's smtp
// line for a configuration: STARTTLS to op, op's CA trusted.
func boxSMTP(t *testing.T, op *operator.Operator) (cert, key, line string) {
	t.Helper()
	cert, key, err := op.IssueClient(boxAddress)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(op.SMTPAddr)
	return cert, key, fmt.Sprintf("{host: %s, port: %s, security: starttls, ca_file: %q, cert_file: %q, key_file: %q}", host, port, op.CAFile(), cert, key)
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	dir := t.TempDir()
	op, err := operator.Start(context.Background(), operator.Options{Dir: filepath.Join(dir, "operator"), Reply: o.reply, DataReply: o.dataReply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	_, _, smtpLine := boxSMTP(t, op)
	if o.smtp != "" {
		smtpLine = o.smtp
	}
	if o.watch == "" {
		o.watch = "{quiet: 300ms, rescan: 1s, max_wait: 2s}"
	}
	if o.sending == "" {
		o.sending = "{retry_initial: 200ms, retry_max: 1s, timeout: 5s}"
	}
	r := &rig{t: t, dir: dir, op: op, input: filepath.Join(dir, "in"), dataDir: filepath.Join(dir, "data"), logs: &syncBuffer{}}
	yaml := fmt.Sprintf(`data_dir: %q
boxes:
  - id: bio
    address: %s
    smtp: %s
inputs:
  - {id: depot, path: %q, box: bio}
routing:
  default_action: send
watch: %s
sending: %s
`, r.dataDir, boxAddress, smtpLine, r.input, o.watch, o.sending)
	r.cfgPath = filepath.Join(dir, "mssbridge.yaml")
	if err := os.WriteFile(r.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r.cfg, err = config.Load(r.cfgPath)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return r
}

// logger writes JSON at info, what a service runs with, into the rig's log buffer.
func (r *rig) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// start opens the bridge and runs it until the test ends (or stopBridge).
func (r *rig) start() {
	r.t.Helper()
	rd, err := sharedReader()
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := bridge.Open(context.Background(), bridge.Options{Config: r.cfg, Reader: rd, Logger: r.logger()})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.b, r.stop, r.done = b, cancel, make(chan error, 1)
	go func() { r.done <- b.Run(ctx) }()
	r.t.Cleanup(r.stopBridge)
}

// alive fails the test if Run has returned on its own.
func (r *rig) alive() {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		r.t.Fatalf("the bridge stopped on its own: %v", err)
	default:
	}
}

func (r *rig) stopBridge() {
	if r.stop == nil {
		return
	}
	r.stop()
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		r.t.Error("bridge did not stop within 15 s")
	}
	r.b.Close()
	r.stop = nil
}

// drop writes a file into the input whole (temporary name, then rename), as the README asks.
func (r *rig) drop(name string, content []byte) {
	r.t.Helper()
	dropInto(r.t, r.input, name, content)
}

func dropInto(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".drop-%d.part", time.Now().UnixNano()))
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) jobs() []store.Job {
	jobs, err := r.b.Store().List(context.Background(), store.Filter{})
	if err != nil {
		r.t.Fatal(err)
	}
	return jobs
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled reports whether every job has reached an end (sent, held, failed, rejected).
func settled(jobs []store.Job) bool {
	for _, j := range jobs {
		switch j.State {
		case store.StateSent, store.StateHeld, store.StateFailed, store.StateRejected:
		default:
			return false
		}
	}
	return true
}

// parked reads held/ID.json or failed/ID.json for a job.
func parked(t *testing.T, dataDir string, j store.Job) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, string(j.State), j.ID+".json"))
	if err != nil {
		t.Fatalf("job %s in %s: %v", j.ID, j.State, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// reasonOf is the French reason a person reads: held reasons or the failure's last error.
func reasonOf(t *testing.T, dataDir string, j store.Job) string {
	m := parked(t, dataDir, j)
	if j.State == store.StateHeld {
		var rs []string
		for _, x := range m["reasons"].([]any) {
			rs = append(rs, fmt.Sprint(x))
		}
		return strings.Join(rs, " ; ")
	}
	return fmt.Sprint(m["last_error"])
}

// looksFrench is a crude check that a reason is written for a French-speaking person: it
// carries French words or letters, and no Go or WebAssembly noise.
func looksFrench(s string) bool {
	if s == "" || strings.Contains(s, "wasm") || strings.Contains(s, "\n") || strings.Contains(s, "goroutine") {
		return false
	}
	if strings.ContainsAny(s, "éèàùçêâôî") {
		return true
	}
	for _, w := range []string{" le ", " la ", " les ", " de ", " du ", " des ", " un ", " une ", " pas ", " est ",
		" ou ", " sans ", " trop ", "Le ", "La ", "Aucun", "illisible"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
