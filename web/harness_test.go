package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/web/account"
)

// lineReader stands in for the PDF reader, as in the bridge's tests: "TO:" lines give the
// recipients, "INS:" the patient's INS, "NAME:" the patient's family name (DUPONT otherwise).
type lineReader struct{}

func (lineReader) Read(_ context.Context, path, _ string) (reading.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return reading.Result{}, err
	}
	res := reading.Result{Decision: reading.DecisionSend, Pages: 1, TextLayer: true,
		Patient:  reading.Patient{FamilyName: "DUPONT", GivenNames: "Marie", BirthDate: "1956-03-12"},
		Document: reading.Document{Title: "Compte rendu"}}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "INS:"); ok {
			res.Patient.INS, res.Patient.INSKeyValid, res.Patient.Sex = strings.TrimSpace(v), true, "F"
		}
		if v, ok := strings.CutPrefix(line, "NAME:"); ok {
			res.Patient.FamilyName = strings.TrimSpace(v)
		}
		if a, ok := strings.CutPrefix(line, "TO:"); ok {
			res.Recipients = append(res.Recipients, reading.Recipient{Address: strings.TrimSpace(a), Role: reading.RoleTo, Source: reading.SourceText, InTrustSpace: true})
		}
	}
	if len(res.Recipients) == 0 {
		res.Decision, res.Reasons = reading.DecisionHold, []string{reading.ReasonNoRecipient}
	}
	return res, nil
}

// A small Annuaire Santé extraction, in the ANS layout.
const annuaire = `Type de BAL|Adresse BAL|Type d'identifiant PP|Identifiant PP|Identification nationale PP|Type d'identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie professionnelle|Libellé catégorie professionnelle|Code profession|Libellé profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|L3COMPLEMENTDISTRIBUTION structure BAL|L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|L4TYPEVOIE structure BAL|L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL|Pays structure BAL
PER|paul.mercier@medecin.mssante.fr|8|10003456781|810003456781||||DR|MERCIER|Paul|C|Civil|10|Médecin||Médecine Générale|O|Cabinet Mercier||||1||R|rue de la République||69003 LYON|69003|69|FRANCE
PER|claire.benoit@medecin.mssante.fr|8|10004567892|810004567892||||DR|BENOIT|Claire|C|Civil|10|Médecin||Cardiologie|N|Maison de santé des Pentes||||1||R|rue de la République||69001 LYON|69001|69|FRANCE
`

// syncBuffer collects the log lines of the bridge and the desk.
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

// clock is the desk's time, moved by the tests (sessions, throttling).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type harness struct {
	t        *testing.T
	op       *operator.Operator
	cfg      *config.Config
	input    string
	b        *bridge.Bridge
	srv      *Server
	ts       *httptest.Server
	logs     *syncBuffer
	clock    *clock
	bouncing sync.Map // recipients the operator refuses (550 5.1.1)

	mu   sync.Mutex
	urls []string // every URL requested and every Location answered
}

const (
	testLogin    = "secretariat.cardio"
	testPassword = "correct horse battery"
)

type harnessOptions struct {
	tls bool
	// annuaire replaces the small directory (the reading corpus's, for screenshots).
	annuaire string
	// reader builds the document reader from the directory index; nil: lineReader.
	reader func(ix *directory.Index) bridge.DocumentReader
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h := &harness{t: t, logs: &syncBuffer{}, clock: &clock{}}
	op, err := operator.Start(ctx, operator.Options{Dir: filepath.Join(dir, "operator"), Reply: func(from, rcpt string) *smtp.SMTPError {
		if _, ok := h.bouncing.Load(rcpt); ok {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	h.op = op
	box := "noreply-bio@ch-exemple.mssante.fr"
	cert, key, err := op.IssueClient(box)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(op.SMTPAddr, ':')
	host, port := op.SMTPAddr[:i], op.SMTPAddr[i+1:]
	h.input = filepath.Join(dir, "in")
	dirFile := filepath.Join(dir, "annuaire.txt")
	if o.annuaire != "" {
		data, err := os.ReadFile(o.annuaire)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dirFile, data, 0o600)
	} else {
		os.WriteFile(dirFile, []byte(annuaire), 0o600)
	}
	yaml := fmt.Sprintf(`data_dir: %s
boxes:
  - id: bio
    address: %s
    smtp: {host: %s, port: %s, security: starttls, ca_file: %s, cert_file: %s, key_file: %s}
inputs:
  - {id: depot, path: %s, box: bio}
routing:
  default_action: send
directory: {file: %s}
import: {path: %s}
web: {listen: "127.0.0.1:0"}
watch: {quiet: 100ms, rescan: 300ms}
sending: {retry_initial: 200ms, retry_max: 1s, timeout: 5s}
`, filepath.Join(dir, "data"), box, host, port, op.CAFile(), cert, key, h.input, dirFile, filepath.Join(dir, "import"))
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	os.WriteFile(cfgPath, []byte(yaml), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	// Info: the level the service runs at, where no patient data may appear.
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ix, err := directory.Open(ctx, dirFile, filepath.Join(dir, "index"))
	if err != nil {
		t.Fatal(err)
	}
	var reader bridge.DocumentReader = lineReader{}
	if o.reader != nil {
		reader = o.reader(ix)
	}
	b, err := bridge.Open(ctx, bridge.Options{Config: cfg, Reader: reader, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h.b = b
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.Run(runCtx); close(done) }()
	users := account.Open(filepath.Join(cfg.DataDir, account.FileName))
	if err := users.Add(testLogin, testPassword, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.srv, err = New(Options{Config: cfg, Bridge: b, Users: users, Directory: ix, Logger: logger, Now: h.clock.now, TLS: o.tls})
	if err != nil {
		t.Fatal(err)
	}
	if o.tls {
		h.ts = httptest.NewTLSServer(h.srv.Handler())
	} else {
		h.ts = httptest.NewServer(h.srv.Handler())
	}
	t.Cleanup(func() {
		h.ts.Close()
		cancel()
		<-done
		h.srv.Close()
		ix.Close()
		b.Close()
	})
	return h
}

// setBounce makes the operator refuse (or accept again) a recipient.
func (h *harness) setBounce(rcpt string, on bool) {
	if on {
		h.bouncing.Store(rcpt, true)
	} else {
		h.bouncing.Delete(rcpt)
	}
}

func (h *harness) drop(name, content string) {
	h.t.Helper()
	os.MkdirAll(h.input, 0o700)
	tmp := filepath.Join(h.input, "."+name+".part")
	os.WriteFile(tmp, []byte(content), 0o600)
	if err := os.Rename(tmp, filepath.Join(h.input, name)); err != nil {
		h.t.Fatal(err)
	}
}

func pdfLike(lines ...string) string {
	return "%PDF-1.4\n" + strings.Join(lines, "\n") + "\n" + strings.Repeat("x", 100) + "\n%%EOF\n"
}

func (h *harness) waitState(state store.State, n int) []store.Job {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		jobs, err := h.b.Store().List(context.Background(), store.Filter{States: []store.State{state}})
		if err == nil && len(jobs) >= n {
			return jobs
		}
		time.Sleep(50 * time.Millisecond)
	}
	all, _ := h.b.Store().List(context.Background(), store.Filter{})
	for _, j := range all {
		h.t.Logf("job %s %s err=%s", j.ID, j.State, j.LastError)
	}
	h.t.Fatalf("no %d job(s) in state %s after 15 s", n, state)
	return nil
}

func (h *harness) job(id string) store.Job {
	h.t.Helper()
	j, err := h.b.Store().Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// client is a browser: a cookie jar, no automatic redirects (the tests look at them).
type client struct {
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: h.ts.Client().Transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{h: h, c: hc}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.h.t.Helper()
	c.h.mu.Lock()
	c.h.urls = append(c.h.urls, req.URL.String())
	c.h.mu.Unlock()
	resp, err := c.c.Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.h.mu.Lock()
	if loc := resp.Header.Get("Location"); loc != "" {
		c.h.urls = append(c.h.urls, loc)
	}
	c.h.mu.Unlock()
	if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	return response{resp, string(b)}
}

var (
	csrfRE     = regexp.MustCompile(`data-csrf="([^"]+)"`)
	loginTokRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	attrURLRE  = regexp.MustCompile(`(?:href|src|action)="([^"]*)"`)
)

func (c *client) get(path string) response {
	c.h.t.Helper()
	req, _ := http.NewRequest("GET", c.h.ts.URL+path, nil)
	return c.do(req)
}

// post sends a form; the session's CSRF token is added unless the form has one (or
// noToken is set).
func (c *client) post(path string, form url.Values, withToken bool) response {
	c.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if withToken && form.Get("csrf") == "" {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.h.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) login() {
	c.h.t.Helper()
	r := c.get("/connexion")
	m := loginTokRE.FindStringSubmatch(r.body)
	if m == nil {
		c.h.t.Fatalf("no token on the login page:\n%s", r.body)
	}
	r = c.post("/connexion", url.Values{"csrf": {m[1]}, "login": {testLogin}, "password": {testPassword}}, false)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		c.h.t.Fatalf("login: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if r := c.get("/"); r.StatusCode != 200 || c.csrf == "" {
		c.h.t.Fatalf("overview after login: %d", r.StatusCode)
	}
}

func (c *client) directory(q string) []directoryEntry {
	c.h.t.Helper()
	req, _ := http.NewRequest("POST", c.h.ts.URL+"/annuaire", strings.NewReader(url.Values{"q": {q}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.csrf)
	r := c.do(req)
	if r.StatusCode != 200 {
		c.h.t.Fatalf("directory search: %d %s", r.StatusCode, r.body)
	}
	var out []directoryEntry
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		c.h.t.Fatal(err)
	}
	return out
}

// journal reads the audit journal's entries.
func (h *harness) journal() []map[string]any {
	data, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "audit", "journal.jsonl"))
	if err != nil {
		h.t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		out = append(out, m)
	}
	return out
}

func (h *harness) findEntry(event, job string) map[string]any {
	for _, e := range h.journal() {
		if e["event"] == event && (job == "" || e["job"] == job) {
			return e
		}
	}
	return nil
}
