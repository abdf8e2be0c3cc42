// Package web is the review desk: the pages where a secretary sees what the bridge did,
// corrects and releases the documents it held, retries what failed, follows what was
// received and searches the audit journal, in French, from the browser of any workstation
// and without internet access (templates, style and script are embedded in the binary).
//
// Security: it listens on loopback unless TLS is configured; every page but the login asks
// for a session (local accounts, argon2id); sessions expire when idle and after a working
// day; every POST carries the session's CSRF token; URLs carry job ids only (searches are
// POSTed and kept in the session); the access log has the method, the path, the status and
// the duration, nothing else. Every action is recorded in the audit journal with the login
// of whoever did it (desk:LOGIN).
package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
	"github.com/mssbridge/mssbridge/web/account"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Bridge is what the desk needs from the pipeline.
type Bridge interface {
	Store() store.Store
	Release(ctx context.Context, id string, o bridge.ReleaseOptions) (store.Job, error)
	Reject(ctx context.Context, id, reason string) (store.Job, error)
	Retry(ctx context.Context, id string) (store.Job, error)
	HeldDir() string
	FailedDir() string
}

// Directory is the Annuaire Santé search (directory.Index).
type Directory interface {
	Search(query string, limit int) []directory.Entry
}

// receivedLedger is the part of the SQLite store that lists received mail.
type receivedLedger interface {
	ListReceived(ctx context.Context, box, state string, limit int) ([]store.Received, error)
}

// Defaults for the sessions. Idle: a workstation left open in a shared office locks itself
// after half an hour. Max: a working day, after which one logs in again.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// Options are what New needs.
type Options struct {
	Config *config.Config
	Bridge Bridge
	Users  *account.File // the accounts; data_dir/web-users.json when nil
	// FixedUsers are accounts from the configuration (web.users, once it exists): read-only,
	// they win over the file for the same login.
	FixedUsers []account.User
	Directory  Directory // nil when no directory.file is configured
	Logger     *slog.Logger
	Now        func() time.Time
	// TLS marks the cookies Secure and sends HSTS; Serve sets it when given a certificate.
	TLS         bool
	SessionIdle time.Duration
	SessionMax  time.Duration
}

// Server is the desk. Its handler is safe for concurrent use.
type Server struct {
	cfg   *config.Config
	b     Bridge
	users *account.File
	fixed []account.User
	dir   Directory
	log   *slog.Logger
	now   func() time.Time
	tls   bool
	// loopbackOnly: served in plain HTTP on loopback, so requests must name a loopback host
	// (a web page that rebinds its own DNS name to 127.0.0.1 cannot reach the desk).
	loopbackOnly bool
	sessions     *sessions
	throttle     loginThrottle
	trust        *trust.Space
	pages        map[string]*template.Template
	metrics      *metrics
	// hashSlots bounds the password checks running at once (each takes 19 MiB).
	hashSlots chan struct{}

	dataDir     string
	journalPath string
	journalMu   sync.Mutex
	journal     *audit.Journal // the desk's own handle on the bridge's journal, opened on first use
	verified    verifyCache
}

// New builds the desk.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Bridge == nil {
		return nil, errors.New("web: Config and Bridge are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Users == nil {
		o.Users = account.Open(filepath.Join(o.Config.DataDir, account.FileName))
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = DefaultSessionIdle
	}
	if o.SessionMax <= 0 {
		o.SessionMax = DefaultSessionMax
	}
	sp, err := trust.Load(o.Config.Trust.DomainsFile)
	if err != nil {
		return nil, fmt.Errorf("web: trust space: %w", err)
	}
	srv := &Server{
		cfg: o.Config, b: o.Bridge, users: o.Users, fixed: o.FixedUsers, dir: o.Directory, log: o.Logger, now: o.Now, tls: o.TLS,
		sessions:    newSessions(o.SessionIdle, o.SessionMax, o.Now),
		trust:       sp,
		hashSlots:   make(chan struct{}, 2),
		dataDir:     o.Config.DataDir,
		journalPath: filepath.Join(o.Config.DataDir, "audit", "journal.jsonl"),
	}
	if err := srv.parseTemplates(); err != nil {
		return nil, err
	}
	srv.metrics = newMetrics(srv)
	return srv, nil
}

// Close releases the desk's journal handle.
func (srv *Server) Close() error {
	srv.journalMu.Lock()
	defer srv.journalMu.Unlock()
	if srv.journal != nil {
		err := srv.journal.Close()
		srv.journal = nil
		return err
	}
	return nil
}

// lookupUser finds an account in the configuration, then in the accounts file.
func (srv *Server) lookupUser(login string) (account.User, bool, error) {
	login = account.NormalizeLogin(login)
	for _, u := range srv.fixed {
		if account.NormalizeLogin(u.Login) == login {
			return u, true, nil
		}
	}
	return srv.users.Lookup(login)
}

// hasUsers says whether anyone can log in at all.
func (srv *Server) hasUsers() bool {
	if len(srv.fixed) > 0 {
		return true
	}
	users, err := srv.users.Users()
	return err != nil || len(users) > 0
}

// record appends a desk event to the audit journal. The journal supports several writers
// (the bridge's own handle and this one) through a file lock.
func (srv *Server) record(ctx context.Context, e audit.Entry) error {
	srv.journalMu.Lock()
	defer srv.journalMu.Unlock()
	if srv.journal == nil {
		j, err := audit.Open(srv.journalPath)
		if err != nil {
			return err
		}
		srv.journal = j
	}
	_, err := srv.journal.Append(ctx, e)
	if err != nil {
		srv.log.Error("audit journal append failed", "event", e.Event, "job", e.Job, "err", err)
	}
	return err
}

func (srv *Server) parseTemplates() error {
	srv.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(filepath.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", base, err)
		}
		srv.pages[base] = t
	}
	return nil
}

// Handler is the desk's HTTP handler with its security headers and access log.
func (srv *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /metrics", srv.serveMetrics)
	mux.HandleFunc("GET /connexion", srv.loginPage)
	mux.HandleFunc("POST /connexion", srv.loginSubmit)
	mux.HandleFunc("POST /deconnexion", srv.auth(srv.logout))

	mux.HandleFunc("GET /{$}", srv.auth(srv.overviewPage))
	mux.HandleFunc("GET /attente", srv.auth(srv.heldList))
	mux.HandleFunc("GET /attente/{id}", srv.auth(srv.heldPage))
	mux.HandleFunc("POST /attente/{id}/envoyer", srv.auth(srv.releaseAction))
	mux.HandleFunc("POST /attente/{id}/ecarter", srv.auth(srv.rejectAction))
	mux.HandleFunc("GET /envois", srv.auth(srv.jobsList))
	mux.HandleFunc("POST /envois/recherche", srv.auth(srv.jobsSearch))
	mux.HandleFunc("GET /envois/{id}", srv.auth(srv.jobPage))
	mux.HandleFunc("POST /envois/{id}/relancer", srv.auth(srv.retryAction))
	mux.HandleFunc("GET /document/{id}", srv.auth(srv.documentFile))
	mux.HandleFunc("GET /recus", srv.auth(srv.receivedList))
	mux.HandleFunc("GET /recus/{id}", srv.auth(srv.receivedPage))
	mux.HandleFunc("GET /recus/{id}/fichier/{n}", srv.auth(srv.receivedFile))
	mux.HandleFunc("GET /journal", srv.auth(srv.tracePage))
	mux.HandleFunc("POST /journal/recherche", srv.auth(srv.traceSearch))
	mux.HandleFunc("POST /journal/export", srv.auth(srv.traceExport))
	mux.HandleFunc("POST /annuaire", srv.auth(srv.directorySearch))
	mux.HandleFunc("/", srv.auth(func(w http.ResponseWriter, r *http.Request, se *session) {
		srv.notFound(w, r, se, "Cette page n'existe pas.")
	}))
	return srv.recoverPanics(srv.securityHeaders(srv.accessLog(mux)))
}

// handlerWithSession is a page that needs a logged-in user.
type handlerWithSession func(http.ResponseWriter, *http.Request, *session)

// maxForm bounds a form's body: the largest is the release form with a few recipients.
const maxForm = 256 << 10

// auth requires a live session; on POST it also requires the session's CSRF token (form
// field csrf or header X-CSRF-Token).
func (srv *Server) auth(h handlerWithSession) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		se := srv.session(r)
		if se == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/connexion", http.StatusSeeOther)
				return
			}
			if r.Header.Get("X-CSRF-Token") != "" {
				writeJSONError(w, http.StatusUnauthorized, "Session expirée : reconnectez-vous.")
				return
			}
			http.Redirect(w, r, "/connexion", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if !tokensEqual(tok, se.csrf) {
				srv.metrics.csrfRefused.Inc()
				srv.log.Warn("request refused: missing or wrong CSRF token", "path", r.URL.Path)
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte("Jeton de sécurité absent ou périmé : rechargez la page et recommencez.\n"))
				return
			}
		}
		h(w, r, se)
	}
}

// securityHeaders sets what every response carries. Nothing the desk serves may be cached:
// the pages and documents name patients and workstations are shared.
func (srv *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if srv.loopbackOnly && !isLoopbackHost(r.Host) {
			http.Error(w, "This desk answers to localhost, 127.0.0.1 or [::1] only.", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "no-store")
		}
		if srv.tls {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs the method, the path (which carries ids only, never a name: searches are
// POSTed), the status and the duration. No query string, no form value, no user agent.
func (srv *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		srv.metrics.observe(route, sw.status, d)
		level := slog.LevelInfo
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/metrics" || r.URL.Path == "/healthz" {
			level = slog.LevelDebug
		}
		srv.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", d.Milliseconds())
	})
}

func (srv *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				srv.log.Error("desk handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "Erreur interne du poste de relecture.", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether a Host header names this machine.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return config.IsLoopback(host)
}

// ListenOptions say where and how the desk listens.
type ListenOptions struct {
	Addr     string // host:port (web.listen)
	CertFile string // TLS certificate and key (PEM); both empty: plain HTTP, loopback only
	KeyFile  string
}

// ErrNotLoopback is returned for a non-loopback address without TLS.
var ErrNotLoopback = errors.New("the review desk listens on loopback only, unless a TLS certificate and key are configured")

// CheckListen refuses a non-loopback address without TLS: the desk shows patients' documents
// and passwords cross the network in its forms.
func CheckListen(addr string, withTLS bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web.listen %q: %w", addr, err)
	}
	if withTLS || (host != "" && config.IsLoopback(host)) {
		return nil
	}
	return fmt.Errorf("web.listen %q: %w", addr, ErrNotLoopback)
}

// Serve listens on lo.Addr and serves until ctx ends. It returns once the socket is open
// (so that a port in use is reported at start) with the address it listens on.
func (srv *Server) Serve(ctx context.Context, lo ListenOptions) (net.Addr, error) {
	withTLS := lo.CertFile != "" || lo.KeyFile != ""
	if withTLS && (lo.CertFile == "" || lo.KeyFile == "") {
		return nil, errors.New("web: TLS needs both a certificate and a key")
	}
	if err := CheckListen(lo.Addr, withTLS); err != nil {
		return nil, err
	}
	var tc *tls.Config
	if withTLS {
		cl := &certLoader{cert: lo.CertFile, key: lo.KeyFile}
		if _, err := cl.get(nil); err != nil {
			return nil, fmt.Errorf("web: TLS certificate: %w", err)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cl.get}
		srv.tls = true
	} else {
		srv.loopbackOnly = true
	}
	ln, err := net.Listen("tcp", lo.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a journal export or a large PDF on a slow link
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tc,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelDebug),
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.log.Error("review desk stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		srv.Close()
	})
	scheme := "http"
	if tc != nil {
		scheme = "https"
	}
	srv.log.Info("review desk listening", "url", scheme+"://"+ln.Addr().String()+"/")
	return ln.Addr(), nil
}

// certLoader reads the TLS certificate again when its file changes, so a renewed certificate
// is used without a restart.
type certLoader struct {
	cert, key string
	mu        sync.Mutex
	mod       time.Time
	current   *tls.Certificate
}

func (c *certLoader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.cert)
	if err != nil {
		if c.current != nil {
			return c.current, nil
		}
		return nil, err
	}
	if c.current != nil && st.ModTime().Equal(c.mod) {
		return c.current, nil
	}
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		if c.current != nil {
			return c.current, nil
		}
		return nil, err
	}
	c.current, c.mod = &pair, st.ModTime()
	return c.current, nil
}
