//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/web/cdp"
)

// The review desk end to end, in Debian's headless Chromium driven over the DevTools
// protocol: a secretary logs in, opens the first held document, picks its recipient from the
// directory with the keyboard, releases it and sees it delivered by Postfix; rejects the next
// one; a POST without the CSRF token is refused; a page without a session goes to the login.
// Each page is photographed into test/integration/screenshots/ (git-ignored), or into
// $MSSBRIDGE_SCREENSHOTS.
func TestDeskInBrowser(t *testing.T) {
	chromium, err := cdp.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: the desk's browser test needs Debian's chromium package", err)
		}
		t.Skip(err)
	}
	c := newCase(t, goodStartTLS())
	shots := os.Getenv("MSSBRIDGE_SCREENSHOTS")
	if shots == "" {
		shots = "screenshots"
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The directory: the recipient, a homonym elsewhere and a cardiologist.
	mercier := addr("desk", "mercier", "medecin.mssante.fr")
	header := "Type de BAL|Adresse BAL|Type d'identifiant PP|Identifiant PP|Identification nationale PP|Type d'identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie professionnelle|Libellé catégorie professionnelle|Code profession|Libellé profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|L3COMPLEMENTDISTRIBUTION structure BAL|L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|L4TYPEVOIE structure BAL|L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL|Pays structure BAL"
	line := func(address, rpps, civ, family, given, profession, specialty, demat, structure, town, cp string) string {
		return strings.Join([]string{"PER", address, "8", rpps, "8" + rpps, "", "", "", civ, family, given, "C", "Civil", "10", profession, "", specialty, demat,
			structure, "", "", "", "1", "", "R", "rue de la République", "", cp + " " + town, cp, cp[:2], "FRANCE"}, "|")
	}
	annuaire := strings.Join([]string{header,
		line(mercier, "10003456781", "DR", "MERCIER", "Paul", "Médecin", "Médecine Générale", "O", "Cabinet Mercier", "LYON", "69003"),
		line("paul.mercier@medecin.mssante.fr", "10009999994", "DR", "MERCIER", "Paul", "Médecin", "Médecine Générale", "N", "Cabinet du Port", "MARSEILLE", "13002"),
		line(addr("desk", "benoit", "medecin.mssante.fr"), "10004567892", "DR", "BENOIT", "Claire", "Médecin", "Cardiologie", "N", "Maison de santé des Pentes", "LYON", "69001"),
	}, "\n") + "\n"
	dirFile := filepath.Join(c.dir, "annuaire.txt")
	if err := os.WriteFile(dirFile, []byte(annuaire), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, []byte(fmt.Sprintf("directory:\n  file: %s\n", q(dirFile)))...)
	if err := os.WriteFile(c.cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	listen := regexp.MustCompile(`(?m)^  listen: "([^"]+)"`).FindSubmatch(cfg)
	if listen == nil {
		t.Fatalf("no web.listen in the case's configuration:\n%s", cfg)
	}
	base := "http://" + string(listen[1])

	// An account, created as IT would, the password on standard input.
	const login, password = "secretariat", "mot de passe du secretariat"
	if out, code := c.cliInput(password+"\n", "user", "add", login, "-c", c.cfgPath); code != 0 {
		t.Fatalf("mssbridge user add: exit %d\n%s", code, out)
	}

	// Two letters without a recipient: the bridge holds them.
	docs := []doc{
		{Name: "courrier-dupont.pdf", Title: "Compte rendu de consultation", Patient: dupont(401)},
		{Name: "courrier-dupont-2.pdf", Title: "Resultats de biologie", Patient: dupont(402)},
	}
	pdfs := makePDFs(t, docs)
	c.start()
	c.drop(docs[0].Name, pdfs[0])
	c.waitFor("the first held document", 60*time.Second, func() (bool, string) {
		n := len(c.jobFiles("held"))
		return n == 1, fmt.Sprintf("held: %d", n)
	})
	c.drop(docs[1].Name, pdfs[1]) // claimed later: the first is the oldest
	c.waitFor("two held documents", 60*time.Second, func() (bool, string) {
		n := len(c.jobFiles("held"))
		return n == 2, fmt.Sprintf("held: %d", n)
	})
	c.waitFor("the desk", 30*time.Second, func() (bool, string) {
		r, err := http.Get(base + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		r.Body.Close()
		return r.StatusCode == 200, r.Status
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	br, err := cdp.Launch(ctx, chromium, 1440, 900)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			var where string
			br.Eval(ctx, "location.pathname", &where)
			br.Screenshot(ctx, filepath.Join(shots, "failed.png"))
			t.Fatalf("%v (page %s, photographed in %s)", err, where, filepath.Join(shots, "failed.png"))
		}
	}
	shot := func(name string) {
		t.Helper()
		time.Sleep(400 * time.Millisecond) // the PDF viewer draws after the load event
		must(br.Screenshot(ctx, filepath.Join(shots, name+".png")))
	}
	eval := func(expr string) string {
		t.Helper()
		var s string
		must(br.Eval(ctx, expr, &s))
		return s
	}

	// Without a session, a page sends to the login.
	must(br.Call(ctx, "Page.navigate", map[string]any{"url": base + "/attente"}, nil))
	must(br.WaitLoaded(ctx, "/connexion"))
	shot("01-connexion")

	// Log in with the keyboard: the login field has the focus.
	must(br.Type(ctx, login))
	must(br.Press(ctx, "Tab"))
	must(br.Type(ctx, password))
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "location.pathname === '/' && document.readyState === 'complete'"))
	shot("02-tableau-de-bord")

	// Enter starts the review at the oldest held document.
	must(br.Press(ctx, "Enter"))
	must(br.WaitLoaded(ctx, "/attente/"))
	first := strings.TrimPrefix(eval("location.pathname"), "/attente/")
	for _, h := range c.jobFiles("held") {
		if h.Job == first && str(h.JSON, "file") != docs[0].Name {
			t.Errorf("review started at %s (%s), want the oldest, %s", first, str(h.JSON, "file"), docs[0].Name)
		}
	}
	if got := eval("document.querySelector('.reasons').innerText"); !strings.Contains(got, "destinataire") {
		t.Errorf("held reasons shown: %q", got)
	}
	shot("03-relecture")

	// / focuses the directory search; type, wait for the results, Enter adds the first.
	must(br.Press(ctx, "/"))
	must(br.Type(ctx, "mercier lyon"))
	must(br.WaitFor(ctx, "document.querySelectorAll('#dir-results li[role=option]').length === 1"))
	if got := eval("document.querySelector('#dir-results').innerText"); !strings.Contains(got, "Dématérialisation") || !strings.Contains(got, mercier) {
		t.Errorf("directory results: %q", got)
	}
	shot("04-annuaire")
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "document.querySelectorAll('#rcpts li[data-address]').length === 1"))
	must(br.Press(ctx, "Escape"))
	must(br.Press(ctx, "Escape"))

	// r asks for confirmation; Enter sends; the desk opens the next held document.
	must(br.Press(ctx, "r"))
	must(br.WaitFor(ctx, "document.getElementById('confirm-release').open"))
	if got := eval("document.getElementById('confirm-list').innerText"); !strings.Contains(got, mercier) {
		t.Errorf("confirmation lists %q", got)
	}
	shot("05-confirmation")
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "location.pathname !== '/attente/"+first+"' && document.readyState === 'complete'"))
	second := strings.TrimPrefix(eval("location.pathname"), "/attente/")
	if second == first || !strings.Contains(eval("document.body.innerText"), "Document libéré") {
		t.Errorf("after release: at %s, page says %q", second, clip(eval("document.body.innerText"), 300))
	}
	c.waitFor("the released document in the recipient's Maildir", 60*time.Second, func() (bool, string) {
		n := maildirCount(mercier)
		return n == 1, fmt.Sprintf("%d message(s) for %s", n, mercier)
	})
	msgs, err := mailbox(mercier)
	if err != nil || len(msgs) != 1 || len(msgs[0].PDFs) == 0 {
		t.Fatalf("delivered: %d messages, err %v", len(msgs), err)
	}
	if string(msgs[0].PDFs[0].Data) != string(pdfs[0]) {
		t.Errorf("the delivered PDF differs from the dropped one")
	}
	shot("06-suivant")

	// A POST without the CSRF token is refused, and the document stays held.
	var status int
	must(br.Eval(ctx, "fetch('/attente/"+second+"/ecarter', {method: 'POST', body: new URLSearchParams({reason: 'forge'})}).then(r => r.status)", &status))
	if status != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", status)
	}
	if len(c.jobFiles("held")) != 1 {
		t.Errorf("held documents after the forged POST: %d", len(c.jobFiles("held")))
	}

	// x rejects, with a reason typed in the dialog.
	must(br.Press(ctx, "x"))
	must(br.WaitFor(ctx, "document.getElementById('reject-dialog').open && document.activeElement.id === 'reject-reason'"))
	must(br.Type(ctx, "Doublon : déjà envoyé"))
	shot("07-ecarter")
	must(br.Press(ctx, "Enter"))
	must(br.WaitLoaded(ctx, "/attente"))
	c.waitFor("the rejected document", 30*time.Second, func() (bool, string) {
		n := len(c.jobFiles("rejected"))
		return n == 1, fmt.Sprintf("rejected: %d", n)
	})
	shot("08-plus-rien")

	// The other pages, for the record.
	for _, p := range []struct{ path, name string }{{"/envois", "09-envois"}, {"/envois/" + first, "10-envoi"}, {"/recus", "11-recus"}, {"/journal", "12-journal"}, {"/", "13-tableau-de-bord"}} {
		must(br.Navigate(ctx, base+p.path))
		shot(p.name)
	}

	// Logged out, the desk asks for the login again.
	must(br.ClearCookies(ctx))
	must(br.Call(ctx, "Page.navigate", map[string]any{"url": base + "/envois"}, nil))
	must(br.WaitLoaded(ctx, "/connexion"))

	// The journal names who did what, and still verifies.
	journal, err := os.ReadFile(filepath.Join(c.dataDir, "audit", "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"released", "rejected", "desk_login", "desk_user_added"} {
		if !regexp.MustCompile(`"event":"` + ev + `"[^\n]*"actor":"(desk:` + login + `|cli[^"]*)"`).Match(journal) {
			t.Errorf("journal: no %s entry with its actor", ev)
		}
	}
	if out, code := c.cli("audit", "verify", "-c", c.cfgPath); code != 0 {
		t.Errorf("audit verify: %d\n%s", code, out)
	}
	if log := c.lastLog(); strings.Contains(log, "DUPONT") || strings.Contains(log, "Marie") {
		t.Errorf("the bridge's log names the patient:\n%s", log)
	}
}
