package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Sessions live in memory: a restart of the service logs everyone out, which is the safe
// side. The cookie carries a random token; the map is keyed by its SHA-256, so the tokens
// themselves are never kept.
type session struct {
	key      [32]byte
	login    string
	csrf     string
	created  time.Time
	lastSeen time.Time

	// What the secretary asked for last, kept here so that no search term ever appears in a
	// URL: the pages read it back after the POST that set it.
	flash       []flash
	jobSearch   *jobQuery
	traceSearch *traceQuery
}

type flash struct {
	Kind string // ok | error
	Text string
}

type sessions struct {
	mu        sync.Mutex
	m         map[[32]byte]*session
	idle, max time.Duration
	now       func() time.Time
	lastSweep time.Time
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, max: max, now: now}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns its cookie token.
func (s *sessions) create(login string) (string, *session) {
	tok := randomToken()
	now := s.now()
	se := &session{key: sha256.Sum256([]byte(tok)), login: login, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	s.m[se.key] = se
	s.mu.Unlock()
	return tok, se
}

// get returns the live session for a cookie token and marks it seen.
func (s *sessions) get(tok string) *session {
	if tok == "" {
		return nil
	}
	key := sha256.Sum256([]byte(tok))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	se := s.m[key]
	if se == nil {
		return nil
	}
	if s.expired(se, now) {
		delete(s.m, key)
		return nil
	}
	se.lastSeen = now
	return se
}

func (s *sessions) expired(se *session, now time.Time) bool {
	return now.Sub(se.lastSeen) > s.idle || now.Sub(se.created) > s.max
}

// sweep drops expired sessions, at most once a minute. The caller holds s.mu.
func (s *sessions) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for k, se := range s.m {
		if s.expired(se, now) {
			delete(s.m, k)
		}
	}
}

func (s *sessions) delete(se *session) {
	s.mu.Lock()
	delete(s.m, se.key)
	s.mu.Unlock()
}

// dropLogin ends every session of a login (its account was removed).
func (s *sessions) dropLogin(login string) {
	s.mu.Lock()
	for k, se := range s.m {
		if se.login == login {
			delete(s.m, k)
		}
	}
	s.mu.Unlock()
}

// with runs fn on the session under the lock (flash messages, saved searches).
func (s *sessions) with(se *session, fn func(*session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(se)
}

func (s *sessions) addFlash(se *session, kind, text string) {
	s.with(se, func(x *session) { x.flash = append(x.flash, flash{kind, text}) })
}

func (s *sessions) takeFlash(se *session) []flash {
	var out []flash
	s.with(se, func(x *session) { out, x.flash = x.flash, nil })
	return out
}

func tokensEqual(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie names: the __Host- prefix (Secure, Path=/, no Domain) when served over TLS.
func (srv *Server) sessionCookieName() string {
	if srv.tls {
		return "__Host-mssbridge-session"
	}
	return "mssbridge-session"
}

func (srv *Server) loginCookieName() string {
	if srv.tls {
		return "__Host-mssbridge-login"
	}
	return "mssbridge-login"
}

func (srv *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: srv.tls, SameSite: http.SameSiteStrictMode})
}

// session returns the request's live session, or nil.
func (srv *Server) session(r *http.Request) *session {
	c, err := r.Cookie(srv.sessionCookieName())
	if err != nil {
		return nil
	}
	se := srv.sessions.get(c.Value)
	if se == nil {
		return nil
	}
	// An account removed (or whose file can no longer be read) ends its sessions.
	if _, ok, err := srv.lookupUser(se.login); err != nil || !ok {
		srv.sessions.dropLogin(se.login)
		return nil
	}
	return se
}

// loginThrottle slows down password guessing: after maxFailures failures for one login
// within failureWindow, that login is refused for lockout. A secretary who mistypes a few
// times is not locked out for long; a guesser gets a handful of tries an hour.
type loginThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
	lockout       = 5 * time.Minute
)

func (t *loginThrottle) locked(login string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	fs := t.recent(login, now)
	return len(fs) >= maxFailures && now.Sub(fs[len(fs)-1]) < lockout
}

func (t *loginThrottle) fail(login string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failures == nil {
		t.failures = map[string][]time.Time{}
	}
	if len(t.failures) > 10000 { // a flood of made-up logins must not grow memory for ever
		clear(t.failures)
	}
	t.failures[login] = append(t.recent(login, now), now)
}

func (t *loginThrottle) succeed(login string) {
	t.mu.Lock()
	delete(t.failures, login)
	t.mu.Unlock()
}

// recent keeps the failures still inside the window. The caller holds t.mu.
func (t *loginThrottle) recent(login string, now time.Time) []time.Time {
	var out []time.Time
	for _, f := range t.failures[login] {
		if now.Sub(f) < failureWindow {
			out = append(out, f)
		}
	}
	if len(out) > maxFailures {
		out = out[len(out)-maxFailures:]
	}
	return out
}
