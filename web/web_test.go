package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/web/account"
)

func TestLoginRequired(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	id := h.waitState(store.StateHeld, 1)[0].ID
	c := h.client()
	for _, path := range []string{"/", "/attente", "/attente/" + id, "/envois", "/envois/" + id, "/document/" + id, "/recus", "/journal"} {
		r := c.get(path)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/connexion" {
			t.Errorf("GET %s without login: %d %q", path, r.StatusCode, r.Header.Get("Location"))
		}
		if strings.Contains(r.body, "DUPONT") {
			t.Errorf("GET %s without login shows the patient", path)
		}
	}
	for _, path := range []string{"/attente/" + id + "/envoyer", "/attente/" + id + "/ecarter", "/envois/" + id + "/relancer", "/journal/export"} {
		r := c.post(path, url.Values{"to": {"paul.mercier@medecin.mssante.fr"}, "reason": {"x"}}, false)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/connexion" {
			t.Errorf("POST %s without login: %d %q", path, r.StatusCode, r.Header.Get("Location"))
		}
	}
	req, _ := http.NewRequest("POST", h.ts.URL+"/annuaire", strings.NewReader("q=mercier"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", "whatever")
	if r := c.do(req); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("directory search without login: %d", r.StatusCode)
	}
	if j := h.job(id); j.State != store.StateHeld {
		t.Errorf("job %s after anonymous POSTs", j.State)
	}
	// A wrong password is refused and recorded; the right one opens a session.
	r := c.get("/connexion")
	tok := loginTokRE.FindStringSubmatch(r.body)[1]
	r = c.post("/connexion", url.Values{"csrf": {tok}, "login": {testLogin}, "password": {"not the password"}}, false)
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "incorrect") {
		t.Errorf("wrong password: %d", r.StatusCode)
	}
	if e := h.findEntry("desk_login_failed", ""); e == nil || e["actor"] != "desk:"+testLogin {
		t.Errorf("failed login not in the journal: %v", e)
	}
	c.login()
	if e := h.findEntry("desk_login", ""); e == nil || e["actor"] != "desk:"+testLogin {
		t.Errorf("login not in the journal: %v", e)
	}
	if r := c.get("/attente/" + id); r.StatusCode != 200 || !strings.Contains(r.body, "DUPONT") {
		t.Errorf("held page after login: %d", r.StatusCode)
	}
	// Logging out ends the session.
	c.post("/deconnexion", nil, true)
	if r := c.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", r.StatusCode)
	}
}

func TestLoginThrottled(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := h.client()
	for i := 0; i < maxFailures; i++ {
		tok := loginTokRE.FindStringSubmatch(c.get("/connexion").body)[1]
		c.post("/connexion", url.Values{"csrf": {tok}, "login": {testLogin}, "password": {"guess"}}, false)
	}
	tok := loginTokRE.FindStringSubmatch(c.get("/connexion").body)[1]
	r := c.post("/connexion", url.Values{"csrf": {tok}, "login": {testLogin}, "password": {testPassword}}, false)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d failures the right password got %d", maxFailures, r.StatusCode)
	}
	h.clock.advance(lockout + time.Second)
	c.login()
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := h.client()
	c.login()
	h.clock.advance(DefaultSessionIdle - time.Minute)
	if r := c.get("/"); r.StatusCode != 200 {
		t.Fatalf("active session refused: %d", r.StatusCode)
	}
	h.clock.advance(DefaultSessionIdle + time.Second)
	if r := c.get("/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/connexion" {
		t.Fatalf("idle session still open: %d", r.StatusCode)
	}
	// A session kept busy still ends after a working day.
	c.login()
	for i := 0; i < int(DefaultSessionMax/(20*time.Minute)); i++ {
		h.clock.advance(20 * time.Minute)
		c.get("/attente")
	}
	h.clock.advance(20 * time.Minute)
	if r := c.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session older than %s still open: %d", DefaultSessionMax, r.StatusCode)
	}
	// Removing the account ends its sessions at once.
	c.login()
	if err := h.srv.users.Remove(testLogin); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session of a removed account still open: %d", r.StatusCode)
	}
}

func TestCSRFRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	id := h.waitState(store.StateHeld, 1)[0].ID
	c := h.client()
	c.login()
	form := url.Values{"to": {"paul.mercier@medecin.mssante.fr"}}
	if r := c.post("/attente/"+id+"/envoyer", form, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("release without a token: %d", r.StatusCode)
	}
	form.Set("csrf", "forged")
	if r := c.post("/attente/"+id+"/envoyer", form, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("release with a wrong token: %d", r.StatusCode)
	}
	if r := c.post("/attente/"+id+"/ecarter", url.Values{"reason": {"x"}}, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("reject without a token: %d", r.StatusCode)
	}
	if r := c.post("/deconnexion", nil, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("logout without a token: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("POST", h.ts.URL+"/annuaire", strings.NewReader("q=mercier"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := c.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("directory search without a token: %d", r.StatusCode)
	}
	// The token of one session is no good in another.
	other := h.client()
	other.login()
	if r := c.post("/attente/"+id+"/envoyer", url.Values{"to": {"paul.mercier@medecin.mssante.fr"}, "csrf": {other.csrf}}, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("release with another session's token: %d", r.StatusCode)
	}
	// A login form posted from elsewhere (no login cookie) is refused.
	anon := h.client()
	if r := anon.post("/connexion", url.Values{"csrf": {"x"}, "login": {testLogin}, "password": {testPassword}}, false); r.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's cookie: %d", r.StatusCode)
	}
	if j := h.job(id); j.State != store.StateHeld {
		t.Fatalf("job is %s after refused POSTs", j.State)
	}
	if n := len(h.op.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries", n)
	}
}

func TestReleaseFromDesk(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	first := h.waitState(store.StateHeld, 1)[0].ID
	time.Sleep(5 * time.Millisecond) // created_at has millisecond precision
	h.drop("b.pdf", pdfLike("NAME:MARTIN"))
	second := h.waitState(store.StateHeld, 2)[0].ID // newest first
	c := h.client()
	c.login()

	list := c.get("/attente")
	if !strings.Contains(list.body, "/attente/"+first) || !strings.Contains(list.body, "Aucun destinataire trouvé") {
		t.Fatalf("held list:\n%s", list.body)
	}
	page := c.get("/attente/" + first)
	for _, want := range []string{`<iframe src="/document/` + first + `"`, "Aucun destinataire trouvé", "DUPONT", `name="ins"`, `data-next`, "Document <strong>1</strong> sur 2"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("held page lacks %q", want)
		}
	}
	doc := c.get("/document/" + first)
	if doc.StatusCode != 200 || doc.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(doc.Header.Get("Content-Disposition"), "inline") || !strings.HasPrefix(doc.body, "%PDF-") {
		t.Errorf("document: %d %q %q", doc.StatusCode, doc.Header.Get("Content-Type"), doc.Header.Get("Content-Disposition"))
	}

	found := c.directory("mercier lyon")
	if len(found) != 1 || found[0].Address != "paul.mercier@medecin.mssante.fr" || !found[0].Dematerialised || !found[0].InTrust || !strings.Contains(found[0].Name, "MERCIER") {
		t.Fatalf("directory search: %+v", found)
	}
	if got := c.directory("cardiologie"); len(got) != 1 || got[0].Dematerialised {
		t.Errorf("search by specialty: %+v", got)
	}

	// A wrong INS key is refused with the form kept.
	bad := url.Values{"to": {found[0].Address}, "family_name": {"DUPONT"}, "given_names": {"Marie"}, "birth_date": {"1956-03-12"}, "ins": {"256037512345600"}}
	r := c.post("/attente/"+first+"/envoyer", bad, true)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "clé de l&#39;INS") || !strings.Contains(r.body, found[0].Address) {
		t.Fatalf("wrong INS key: %d\n%s", r.StatusCode, r.body)
	}
	// Out of the trust space: refused before the bridge is asked.
	r = c.post("/attente/"+first+"/envoyer", url.Values{"to": {"dr.x@gmail.com"}, "family_name": {"DUPONT"}}, true)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "hors de l&#39;espace de confiance") {
		t.Fatalf("out of trust: %d", r.StatusCode)
	}

	// Released with a corrected name and a valid INS: sent, and the desk goes to the next one.
	good := url.Values{"to": {found[0].Address}, "family_name": {"DUPONT-MOREL"}, "given_names": {"Marie"}, "birth_date": {"1956-03-12"}, "sex": {"F"}, "ins": {"2 56 03 69 123 045 45"}}
	r = c.post("/attente/"+first+"/envoyer", good, true)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/attente/"+second {
		t.Fatalf("release: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if next := c.get(r.Header.Get("Location")); !strings.Contains(next.body, "Document libéré") || !strings.Contains(next.body, "MARTIN") {
		t.Errorf("next page after release lacks the confirmation or the next patient")
	}
	sent := h.waitState(store.StateSent, 1)
	if sent[0].ID != first {
		t.Fatalf("sent %s, want %s", sent[0].ID, first)
	}
	ds := h.op.Deliveries()
	if len(ds) != 1 || len(ds[0].To) != 1 || ds[0].To[0] != "paul.mercier@medecin.mssante.fr" {
		t.Fatalf("deliveries: %+v", ds)
	}
	var rd map[string]map[string]any
	json.Unmarshal(sent[0].Reading, &rd)
	if rd["patient"]["family_name"] != "DUPONT-MOREL" || rd["patient"]["ins"] != "256036912304545" || rd["patient"]["ins_key_valid"] != true {
		t.Errorf("patient after release: %v", rd["patient"])
	}
	rel := h.findEntry("released", first)
	if rel == nil || rel["actor"] != "desk:"+testLogin {
		t.Errorf("release not in the journal with its actor: %v", rel)
	}
	cor := h.findEntry("desk_corrected", first)
	if cor == nil || cor["actor"] != "desk:"+testLogin || !strings.Contains(cor["detail"].(map[string]any)["patient_fields"].(string), "family_name") {
		t.Errorf("correction not in the journal: %v", cor)
	}
	journal, _ := os.ReadFile(filepath.Join(h.cfg.DataDir, "audit", "journal.jsonl"))
	if strings.Contains(string(journal), "DUPONT") || strings.Contains(string(journal), "256036912304545") {
		t.Error("patient data in the audit journal")
	}
	// The sent document's page shows it and the history.
	if p := c.get("/envois/" + first); !strings.Contains(p.body, "envoyé") || !strings.Contains(p.body, "libéré pour envoi") || !strings.Contains(p.body, "desk:"+testLogin) {
		t.Errorf("job page after sending:\n%s", p.body)
	}
	// Releasing it again is refused.
	if r := c.post("/attente/"+first+"/envoyer", good, true); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/envois/"+first {
		t.Errorf("second release: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestRejectFromDesk(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	id := h.waitState(store.StateHeld, 1)[0].ID
	c := h.client()
	c.login()
	if r := c.post("/attente/"+id+"/ecarter", url.Values{"reason": {"  "}}, true); r.StatusCode != http.StatusSeeOther || h.job(id).State != store.StateHeld {
		t.Fatalf("reject without a reason: %d, job %s", r.StatusCode, h.job(id).State)
	}
	r := c.post("/attente/"+id+"/ecarter", url.Values{"reason": {"Doublon : déjà envoyé"}}, true)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/attente" {
		t.Fatalf("reject: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	j := h.job(id)
	if j.State != store.StateRejected || j.LastError != "Doublon : déjà envoyé" {
		t.Fatalf("job after reject: %s %q", j.State, j.LastError)
	}
	if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "rejected", id+".pdf")); err != nil {
		t.Error(err)
	}
	if e := h.findEntry("rejected", id); e == nil || e["actor"] != "desk:"+testLogin {
		t.Errorf("reject not in the journal with its actor: %v", e)
	}
	if p := c.get("/attente"); !strings.Contains(p.body, "Document écarté") || !strings.Contains(p.body, "Aucun document n'attend") {
		t.Errorf("held list after reject:\n%s", p.body)
	}
	if n := len(h.op.Deliveries()); n != 0 {
		t.Errorf("%d deliveries", n)
	}
}

func TestRetryFromDesk(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.setBounce("nobody@medecin.mssante.fr", true)
	h.drop("a.pdf", pdfLike("TO:nobody@medecin.mssante.fr"))
	id := h.waitState(store.StateFailed, 1)[0].ID
	c := h.client()
	c.login()
	list := c.get("/envois?etat=echecs")
	if !strings.Contains(list.body, "/envois/"+id) || !strings.Contains(list.body, "en échec") {
		t.Fatalf("failed list:\n%s", list.body)
	}
	p := c.get("/envois/" + id)
	if !strings.Contains(p.body, "550") || !strings.Contains(p.body, "Relancer") {
		t.Fatalf("failed page lacks the server reply or the retry:\n%s", p.body)
	}
	if ov := c.get("/"); !strings.Contains(ov.body, "Dernières erreurs") || !strings.Contains(ov.body, "/envois/"+id) {
		t.Errorf("overview lacks the last error")
	}
	h.setBounce("nobody@medecin.mssante.fr", false)
	r := c.post("/envois/"+id+"/relancer", nil, true)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/envois/"+id {
		t.Fatalf("retry: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	h.waitState(store.StateSent, 1)
	if e := h.findEntry("retried", id); e == nil || e["actor"] != "desk:"+testLogin {
		t.Errorf("retry not in the journal with its actor: %v", e)
	}
	if r := c.post("/envois/"+id+"/relancer", nil, true); r.StatusCode != http.StatusSeeOther {
		t.Errorf("second retry: %d", r.StatusCode)
	} else if p := c.get("/envois/" + id); !strings.Contains(p.body, "Seul un document en échec") {
		t.Errorf("second retry not refused in plain words")
	}
}

// TestNoPatientDataInURLsOrLogs goes through every page, searches by patient name and INS,
// releases and exports, then checks that no URL requested or answered and no log line holds
// the patient's name, INS or birth date.
func TestNoPatientDataInURLsOrLogs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("Courrier DUPONT.pdf", pdfLike("INS:256036912304545"))
	h.drop("b.pdf", pdfLike("NAME:MARTIN", "TO:paul.mercier@medecin.mssante.fr"))
	id := h.waitState(store.StateHeld, 1)[0].ID
	h.waitState(store.StateSent, 1)
	c := h.client()
	c.login()
	var pages []string
	for _, p := range []string{"/", "/attente", "/attente/" + id, "/envois", "/recus", "/journal"} {
		pages = append(pages, c.get(p).body)
	}
	c.directory("dupont")
	r := c.post("/envois/recherche", url.Values{"q": {"dupont"}}, true)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/envois" {
		t.Fatalf("search: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	res := c.get("/envois")
	if !strings.Contains(res.body, "/envois/"+id) || strings.Contains(res.body, "MARTIN") {
		t.Errorf("search by name: wrong results")
	}
	c.post("/envois/recherche", url.Values{"q": {"256036912304545"}}, true)
	if res := c.get("/envois"); !strings.Contains(res.body, "/envois/"+id) {
		t.Errorf("search by INS found nothing")
	}
	c.post("/envois/recherche", url.Values{"q": {"mercier"}, "from": {time.Now().Format("2006-01-02")}}, true)
	if res := c.get("/envois"); !strings.Contains(res.body, "MARTIN") || strings.Contains(res.body, "/envois/"+id+`"`) {
		t.Errorf("search by recipient and date: wrong results")
	}
	c.post("/journal/recherche", url.Values{"q": {"dupont"}}, true)
	tr := c.get("/journal")
	if !strings.Contains(tr.body, id) {
		t.Errorf("journal search by patient name did not find the job's entries")
	}
	pages = append(pages, res.body, tr.body)
	c.post("/journal/export", nil, true)
	c.post("/attente/"+id+"/envoyer", url.Values{"to": {"paul.mercier@medecin.mssante.fr"}, "family_name": {"DUPONT"}, "given_names": {"Marie"}, "birth_date": {"1956-03-12"}, "sex": {"F"}, "ins": {"256036912304545"}}, true)
	h.waitState(store.StateSent, 2)
	for _, p := range pages {
		for _, m := range attrURLRE.FindAllStringSubmatch(p, -1) {
			h.urls = append(h.urls, m[1])
		}
	}
	secrets := []string{"DUPONT", "dupont", "Dupont", "Marie", "256036912304545", "1956-03-12", "12/03/1956"}
	for _, u := range h.urls {
		for _, s := range secrets {
			if strings.Contains(u, s) || strings.Contains(strings.ToUpper(u), strings.ToUpper(s)) {
				t.Errorf("URL %q holds %q", u, s)
			}
		}
	}
	logs := h.logs.String()
	for _, s := range secrets {
		if strings.Contains(strings.ToUpper(logs), strings.ToUpper(s)) {
			t.Errorf("the log holds %q:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, `msg=http method=POST path=/attente/`+id+`/envoyer status=303`) {
		t.Errorf("access log line missing:\n%s", logs)
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		h := newHarness(t, harnessOptions{tls: withTLS})
		h.drop("a.pdf", pdfLike())
		id := h.waitState(store.StateHeld, 1)[0].ID
		c := h.client()
		login := c.get("/connexion")
		for _, ck := range login.Cookies() {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != withTLS {
				t.Errorf("tls=%v: login cookie %s: HttpOnly=%v SameSite=%v Secure=%v", withTLS, ck.Name, ck.HttpOnly, ck.SameSite, ck.Secure)
			}
		}
		tok := loginTokRE.FindStringSubmatch(login.body)[1]
		r := c.post("/connexion", url.Values{"csrf": {tok}, "login": {testLogin}, "password": {testPassword}}, false)
		var session *http.Cookie
		for _, ck := range r.Cookies() {
			if strings.Contains(ck.Name, "session") {
				session = ck
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure != withTLS || (withTLS && !strings.HasPrefix(session.Name, "__Host-")) {
			t.Errorf("tls=%v: session cookie %+v", withTLS, session)
		}
		c.get("/")
		for _, path := range []string{"/", "/connexion", "/attente/" + id, "/document/" + id, "/static/desk.js", "/nope"} {
			r := c.get(path)
			hd := r.Header
			csp := hd.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'self'") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Frame-Options") != "SAMEORIGIN" {
				t.Errorf("%s: headers %v", path, hd)
			}
			if !strings.HasPrefix(path, "/static/") && hd.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", path, hd.Get("Cache-Control"))
			}
			if withTLS != (hd.Get("Strict-Transport-Security") != "") {
				t.Errorf("%s: tls=%v HSTS %q", path, withTLS, hd.Get("Strict-Transport-Security"))
			}
		}
		// No inline script or style: the CSP would block them.
		page := c.get("/attente/" + id).body
		if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "onclick") {
			t.Errorf("inline script or style in the held page")
		}
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	h.drop("b.pdf", pdfLike("TO:paul.mercier@medecin.mssante.fr"))
	h.waitState(store.StateHeld, 1)
	h.waitState(store.StateSent, 1)
	c := h.client()
	r := c.get("/metrics")
	if r.StatusCode != 200 {
		t.Fatalf("metrics from loopback: %d", r.StatusCode)
	}
	for _, want := range []string{
		`mssbridge_jobs{box="bio",input="depot",state="held"} 1`,
		`mssbridge_jobs{box="bio",input="depot",state="sent"} 1`,
		"mssbridge_held_jobs 1",
		"mssbridge_failed_jobs 0",
		"mssbridge_held_oldest_age_seconds",
		`mssbridge_certificate_expiry_timestamp_seconds{box="bio",use="smtp"}`,
		`mssbridge_desk_actions_total{action="release"} 0`,
		"go_goroutines",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(r.body, "DUPONT") || strings.Contains(r.body, "mercier") {
		t.Error("patient or recipient in the metrics")
	}
	// From another machine: a desk session is needed.
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Errorf("metrics from a remote address without session: %d", w.Code)
	}
}

func TestOverviewAndTrace(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.drop("a.pdf", pdfLike())
	h.drop("b.pdf", pdfLike("TO:paul.mercier@medecin.mssante.fr"))
	id := h.waitState(store.StateHeld, 1)[0].ID
	h.waitState(store.StateSent, 1)
	c := h.client()
	c.login()
	ov := c.get("/")
	for _, want := range []string{"Tableau de bord", "<svg class=\"chart\"", "1 document attend une relecture", "/attente/" + id, "Par boîte d'envoi", "noreply-bio@ch-exemple.mssante.fr", " j</span> envoi", "Par dossier de dépôt"} {
		if !strings.Contains(ov.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// Today: 1 sent, 1 held.
	days := h.srv.lastDays(context.Background(), 7)
	if today := days[6]; today.Sent != 1 || today.Held != 1 || today.Failed != 0 {
		t.Errorf("today's counts: %+v", today)
	}
	tr := c.get("/journal")
	if !strings.Contains(tr.body, "Journal intègre") || !strings.Contains(tr.body, "<td>connexion au poste de relecture</td>") {
		t.Errorf("trace page:\n%s", tr.body)
	}
	c.post("/journal/recherche", url.Values{"event": {"held"}}, true)
	tr = c.get("/journal")
	if !strings.Contains(tr.body, id) || strings.Contains(tr.body, "<td>connexion au poste") {
		t.Errorf("journal filtered on held")
	}
	r := c.post("/journal/export", nil, true)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("export: %d %q", r.StatusCode, r.Header.Get("Content-Disposition"))
	}
	var exp struct {
		ExportedBy   string `json:"exported_by"`
		Verification struct {
			OK      bool  `json:"ok"`
			Entries int64 `json:"entries"`
		} `json:"verification"`
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.body), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.ExportedBy != "desk:"+testLogin || !exp.Verification.OK || exp.Verification.Entries < 5 || len(exp.Entries) != 1 || exp.Entries[0]["event"] != "held" {
		t.Errorf("export: %+v", exp)
	}
	if e := h.findEntry("desk_export", ""); e == nil || e["actor"] != "desk:"+testLogin {
		t.Errorf("export not in the journal")
	}
	// The export of one job, from its page.
	r = c.post("/journal/export", url.Values{"job": {id}}, true)
	json.Unmarshal([]byte(r.body), &exp)
	for _, e := range exp.Entries {
		if e["job"] != id {
			t.Errorf("job export holds %v", e)
		}
	}
}

func TestReceivedPages(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	led := h.b.Store().(*store.SQLite)
	ctx := context.Background()
	importDir := h.cfg.Import.Path
	os.MkdirAll(importDir, 0o700)
	os.WriteFile(filepath.Join(importDir, "20261123-101500_3f9a2c1b_1_CR.pdf"), []byte("%PDF-1.4\n%%EOF\n"), 0o600)
	side := `{"file":"20261123-101500_3f9a2c1b_1_CR.pdf","sender":"dr.martin@hopital.mssante.fr","subject":"Résultats","patient":{"family_name":"DURAND","given_names":"Louise","birth_date":"1940-01-02","ins":""},"document":{"title":"Résultats"},"metadata_source":"message","recipients":["noreply-bio@ch-exemple.mssante.fr"]}`
	os.WriteFile(filepath.Join(importDir, "20261123-101500_3f9a2c1b_1_CR.json"), []byte(side), 0o600)
	doc := store.Received{ID: "R20261123-101500-3f9a2c1b", Box: "bio", Mailbox: "INBOX", UIDValidity: 1, UID: 7, MessageID: "<a@x>", Kind: "document", State: "done",
		Files: []string{"20261123-101500_3f9a2c1b_1_CR.pdf", "20261123-101500_3f9a2c1b_1_CR.json"}}
	if err := led.PutReceived(ctx, doc); err != nil {
		t.Fatal(err)
	}
	qdir := h.cfg.Import.Quarantine
	os.MkdirAll(qdir, 0o700)
	os.WriteFile(filepath.Join(qdir, "R20261123-101600-00000001.eml"), []byte("From: spam@example.com\r\nSubject: =?utf-8?q?Facture_impay=C3=A9e?=\r\n\r\nhello\r\n"), 0o600)
	os.WriteFile(filepath.Join(qdir, "R20261123-101600-00000001.json"), []byte(`{"reason":"Expéditeur hors de l'espace de confiance"}`), 0o600)
	q := store.Received{ID: "R20261123-101600-00000001", Box: "bio", Mailbox: "INBOX", UIDValidity: 1, UID: 8, Kind: "quarantine", State: "done",
		Reason: "Expéditeur hors de l'espace de confiance", Files: []string{"R20261123-101600-00000001.eml"}}
	if err := led.PutReceived(ctx, q); err != nil {
		t.Fatal(err)
	}
	c := h.client()
	c.login()
	list := c.get("/recus")
	for _, want := range []string{"dr.martin@hopital.mssante.fr", "DURAND Louise", "mis en quarantaine", "Facture impayée", "Expéditeur hors de l&#39;espace de confiance"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("received list lacks %q", want)
		}
	}
	if p := c.get("/recus?type=quarantaine"); strings.Contains(p.body, "DURAND") {
		t.Error("quarantine tab shows a document")
	}
	p := c.get("/recus/" + doc.ID)
	if !strings.Contains(p.body, "/recus/"+doc.ID+"/fichier/0") || !strings.Contains(p.body, "02/01/1940") {
		t.Errorf("received page:\n%s", p.body)
	}
	f := c.get("/recus/" + doc.ID + "/fichier/0")
	if f.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(f.Header.Get("Content-Disposition"), "inline") {
		t.Errorf("deposited file: %d %v", f.StatusCode, f.Header)
	}
	eml := c.get("/recus/" + q.ID + "/fichier/0")
	if !strings.HasPrefix(eml.Header.Get("Content-Disposition"), "attachment") || eml.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("quarantined message: %v", eml.Header)
	}
	if r := c.get("/recus/R20990101-000000-deadbeef"); r.StatusCode != 404 {
		t.Errorf("unknown received: %d", r.StatusCode)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		ok   bool
	}{
		{"127.0.0.1:8025", false, true},
		{"[::1]:8025", false, true},
		{"localhost:8025", false, true},
		{"0.0.0.0:8025", false, false},
		{":8025", false, false},
		{"192.168.1.10:8025", false, false},
		{"0.0.0.0:8443", true, true},
	} {
		err := CheckListen(tc.addr, tc.tls)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, tls=%v) = %v", tc.addr, tc.tls, err)
		}
		if err != nil && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("CheckListen(%q): %v is not ErrNotLoopback", tc.addr, err)
		}
	}
}

func TestLoopbackHostOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.srv.loopbackOnly = true
	for host, want := range map[string]int{"127.0.0.1:8025": 303, "localhost:8025": 303, "[::1]:8025": 303, "evil.example:8025": http.StatusMisdirectedRequest} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
	}
}

func TestSuggestionsFromReasons(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	reasons := []string{"« Dr Paul MERCIER » : plusieurs professionnels de ce nom : paul.mercier@medecin.mssante.fr (Lyon) ; claire.benoit@medecin.mssante.fr (Lyon)",
		"Destinataire hors de l'espace de confiance MSSanté : dr.x@gmail.com"}
	got := h.srv.suggestions(reasons, nil, []rcptView{{Address: "claire.benoit@medecin.mssante.fr"}})
	if len(got) != 1 || got[0].Address != "paul.mercier@medecin.mssante.fr" || !got[0].Dematerialised || !strings.Contains(got[0].Name, "MERCIER") {
		t.Fatalf("suggestions: %+v", got)
	}
}

func TestFixedUsersFromConfiguration(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	hash, _ := account.Hash("mot de passe de la configuration")
	h.srv.fixed = []account.User{{Login: "Cadre.Sante", Hash: hash}}
	c := h.client()
	tok := loginTokRE.FindStringSubmatch(c.get("/connexion").body)[1]
	r := c.post("/connexion", url.Values{"csrf": {tok}, "login": {"cadre.sante"}, "password": {"mot de passe de la configuration"}}, false)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login with a configured account: %d", r.StatusCode)
	}
	if r := c.get("/"); r.StatusCode != 200 {
		t.Fatalf("session of a configured account: %d", r.StatusCode)
	}
}
