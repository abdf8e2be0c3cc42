package web

import (
	"net/http"
	"strings"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/web/account"
)

// loginCookieAge bounds how long a login form stays usable (its anti-forgery token).
const loginCookieAge = 15 * 60

type loginData struct {
	Token   string
	Login   string
	Error   string
	NoUsers bool
}

// loginPage shows the form. The form's token is also set in a short-lived cookie: a login
// POSTed from another site (login CSRF) carries neither.
func (srv *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if srv.session(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	srv.showLogin(w, r, http.StatusOK, "", "")
}

func (srv *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, login, msg string) {
	// The token already in the browser is kept: a second tab, or the browser fetching
	// /favicon.ico through the login redirect, must not make the first form stale.
	tok := ""
	if c, err := r.Cookie(srv.loginCookieName()); err == nil && len(c.Value) == len(randomToken()) {
		tok = c.Value
	}
	if tok == "" {
		tok = randomToken()
	}
	srv.setCookie(w, srv.loginCookieName(), tok, loginCookieAge)
	d := loginData{Token: tok, Login: login, Error: msg, NoUsers: !srv.hasUsers()}
	srv.render(w, r, nil, status, "login", "Connexion", "", d)
}

func (srv *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(srv.loginCookieName())
	if err != nil || !tokensEqual(r.PostFormValue("csrf"), c.Value) {
		srv.metrics.csrfRefused.Inc()
		srv.showLogin(w, r, http.StatusForbidden, "", "Le formulaire a expiré : saisissez à nouveau votre identifiant et votre mot de passe.")
		return
	}
	login := account.NormalizeLogin(r.PostFormValue("login"))
	password := r.PostFormValue("password")
	now := srv.now()
	if login == "" || password == "" {
		srv.showLogin(w, r, http.StatusUnauthorized, login, "Saisissez votre identifiant et votre mot de passe.")
		return
	}
	if srv.throttle.locked(login, now) {
		srv.metrics.logins.WithLabelValues("locked").Inc()
		srv.showLogin(w, r, http.StatusTooManyRequests, login, "Trop d'essais pour cet identifiant : attendez cinq minutes.")
		return
	}
	u, found, err := srv.lookupUser(login)
	if err != nil {
		srv.log.Error("read desk accounts", "err", err)
		srv.showLogin(w, r, http.StatusInternalServerError, login, "Les comptes ne peuvent pas être lus : prévenez le service informatique.")
		return
	}
	srv.hashSlots <- struct{}{}
	var ok bool
	if found {
		ok, err = account.Verify(u.Hash, password)
		if err != nil {
			srv.log.Error("desk account has an unusable password hash", "login", login, "err", err)
		}
	} else {
		// The same work for an unknown login, so that timing does not tell which logins exist.
		account.Verify(dummyHash, password)
	}
	<-srv.hashSlots
	if !ok {
		srv.throttle.fail(login, now)
		srv.metrics.logins.WithLabelValues("failed").Inc()
		actor := ""
		if found {
			actor = "desk:" + login
		}
		srv.record(r.Context(), audit.Entry{Event: "desk_login_failed", Actor: actor})
		srv.log.Warn("desk login failed", "known_login", found)
		srv.showLogin(w, r, http.StatusUnauthorized, login, "Identifiant ou mot de passe incorrect.")
		return
	}
	srv.throttle.succeed(login)
	srv.metrics.logins.WithLabelValues("ok").Inc()
	tok, _ := srv.sessions.create(login)
	srv.setCookie(w, srv.sessionCookieName(), tok, 0)
	srv.setCookie(w, srv.loginCookieName(), "", -1)
	srv.record(r.Context(), audit.Entry{Event: "desk_login", Actor: "desk:" + login})
	srv.log.Info("desk login", "login", login)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (srv *Server) logout(w http.ResponseWriter, r *http.Request, se *session) {
	srv.sessions.delete(se)
	srv.setCookie(w, srv.sessionCookieName(), "", -1)
	srv.record(r.Context(), audit.Entry{Event: "desk_logout", Actor: "desk:" + se.login})
	http.Redirect(w, r, "/connexion", http.StatusSeeOther)
}

// dummyHash has the parameters of account.Hash; it matches no password anyone types.
var dummyHash = func() string {
	h, err := account.Hash(strings.Repeat("x", 40))
	if err != nil {
		panic(err)
	}
	return h
}()
