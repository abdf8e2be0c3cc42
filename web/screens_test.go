package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
	"github.com/mssbridge/mssbridge/web/cdp"
)

// TestScreenshots photographs every page of the desk in headless Chromium, with letters of
// the reading corpus read by the real reader, so that the layout can be looked at. It runs
// only when MSSBRIDGE_SCREENSHOTS names a folder (web/screenshots is git-ignored):
//
//	MSSBRIDGE_SCREENSHOTS=screenshots go test ./web -run TestScreenshots
func TestScreenshots(t *testing.T) {
	shots := os.Getenv("MSSBRIDGE_SCREENSHOTS")
	if shots == "" {
		t.Skip("set MSSBRIDGE_SCREENSHOTS to a folder to photograph the desk")
	}
	chromium, err := cdp.Find()
	if err != nil {
		t.Skip(err)
	}
	os.MkdirAll(shots, 0o755)
	ctx := context.Background()
	corpus := filepath.Join("..", "reading", "testdata", "corpus")
	h := newHarness(t, harnessOptions{annuaire: filepath.Join(corpus, "annuaire.txt"), reader: func(ix *directory.Index) bridge.DocumentReader {
		ex, err := pdf.NewExtractor(ctx, pdf.ExtractorOptions{CacheDir: filepath.Join(os.TempDir(), "mssbridge-test-wasm"), Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ex.Close() })
		sp, _ := trust.Load("")
		return reading.NewReader(ex, sp, reading.WithDirectory(reading.FromIndex(ix)), reading.WithOwnAddresses("noreply-bio@ch-exemple.mssante.fr"))
	}})
	h.setBounce("claire.benoit@medecin.mssante.fr", true)
	letters := []string{"gr-03-sans-destinataire", "gs-05-cle-ins-fausse", "gs-06-gmail", "gs-09-copie-homonyme", "lo-03-homonymes-meme-ville",
		"rl-03-rpps-deux-bal-ambigu", "gr-01-destinataire-adresse", "gr-02-copie-nom-ville", "gs-02-destinataire-rpps"}
	for _, l := range letters {
		data, err := os.ReadFile(filepath.Join(corpus, "pdf", l+".pdf"))
		if err != nil {
			t.Fatal(err)
		}
		h.drop(l+".pdf", string(data))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		all, _ := h.b.Store().List(ctx, store.Filter{})
		settled := 0
		for _, j := range all {
			switch j.State {
			case store.StateHeld, store.StateSent, store.StateFailed:
				settled++
			}
		}
		if settled == len(letters) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d letters settled", settled, len(letters))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sent, _ := h.b.Store().List(ctx, store.Filter{States: []store.State{store.StateSent}}); len(sent) > 0 {
		h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "dsn", OriginalEnvelopeID: sent[0].ID,
			Recipients: []inbound.RecipientStatus{{Recipient: "x@medecin.mssante.fr", Action: "delivered", Status: "2.0.0"}}})
		h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "mdn", OriginalMessageID: sent[0].MessageID, Disposition: "displayed"})
	}
	seedReceived(t, h)

	c := h.client()
	c.login() // for the session cookie used below
	br, err := cdp.Launch(ctx, chromium, 1440, 900)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			br.Screenshot(ctx, filepath.Join(shots, "failed.png"))
			t.Fatal(err)
		}
	}
	shot := func(name string) {
		time.Sleep(600 * time.Millisecond)
		must(br.Screenshot(ctx, filepath.Join(shots, name+".png")))
	}
	must(br.Call(ctx, "Page.navigate", map[string]any{"url": h.ts.URL + "/"}, nil))
	must(br.WaitLoaded(ctx, "/connexion"))
	must(br.Type(ctx, testLogin))
	must(br.Press(ctx, "Tab"))
	must(br.Type(ctx, testPassword))
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "location.pathname === '/' && document.readyState === 'complete'"))
	shot("01-tableau-de-bord")
	must(br.Navigate(ctx, h.ts.URL+"/attente"))
	shot("02-en-attente")
	// The letter to two homonyms: the reader names both, the desk offers them.
	held, _ := h.b.Store().List(ctx, store.Filter{States: []store.State{store.StateHeld}})
	homonyms := ""
	for _, j := range held {
		if strings.HasPrefix(j.SourceName, "lo-03") {
			homonyms = j.ID
		}
	}
	must(br.Navigate(ctx, h.ts.URL+"/attente/"+homonyms))
	shot("03-relecture")
	must(br.Press(ctx, "/"))
	shot("04-suggestions")
	must(br.Press(ctx, "ArrowDown"))
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "document.querySelectorAll('#rcpts li[data-address]').length === 1"))
	must(br.Type(ctx, "mercier lyon"))
	must(br.WaitFor(ctx, "document.querySelectorAll('#dir-results li[role=option]').length > 0"))
	shot("05-annuaire")
	must(br.Press(ctx, "Enter"))
	must(br.WaitFor(ctx, "document.querySelectorAll('#rcpts li[data-address]').length === 2"))
	must(br.Press(ctx, "Escape"))
	must(br.Press(ctx, "Escape"))
	must(br.Press(ctx, "r"))
	must(br.WaitFor(ctx, "document.getElementById('confirm-release').open"))
	shot("06-confirmation")
	must(br.Press(ctx, "Escape"))
	must(br.Press(ctx, "?"))
	shot("07-aide")
	must(br.Press(ctx, "Escape"))
	must(br.Navigate(ctx, h.ts.URL+"/envois"))
	shot("08-envois")
	failed, _ := h.b.Store().List(ctx, store.Filter{States: []store.State{store.StateFailed}})
	if len(failed) > 0 {
		must(br.Navigate(ctx, h.ts.URL+"/envois/"+failed[0].ID))
		shot("09-echec")
	}
	sent, _ := h.b.Store().List(ctx, store.Filter{States: []store.State{store.StateSent}})
	if len(sent) > 0 {
		must(br.Navigate(ctx, h.ts.URL+"/envois/"+sent[len(sent)-1].ID))
		shot("10-envoye")
	}
	must(br.Navigate(ctx, h.ts.URL+"/recus"))
	shot("11-recus")
	must(br.Navigate(ctx, h.ts.URL+"/recus/R20261123-101500-3f9a2c1b"))
	shot("12-recu")
	must(br.Navigate(ctx, h.ts.URL+"/journal"))
	shot("13-journal")
	var text string
	must(br.Eval(ctx, "document.body.innerText", &text))
	if strings.Contains(text, "altéré") {
		t.Error("the journal does not verify")
	}
}

// seedReceived writes a deposited document, a read receipt and a quarantined message into
// the ledger and the folders, as the inbox would.
func seedReceived(t *testing.T, h *harness) {
	led := h.b.Store().(*store.SQLite)
	ctx := context.Background()
	os.MkdirAll(h.cfg.Import.Path, 0o700)
	base := "20261123-101500_3f9a2c1b_1_Resultats"
	os.WriteFile(filepath.Join(h.cfg.Import.Path, base+".pdf"), []byte("%PDF-1.4\n%%EOF\n"), 0o600)
	os.WriteFile(filepath.Join(h.cfg.Import.Path, base+".json"), []byte(`{"file":"`+base+`.pdf","sender":"labo@chu-exemple.mssante.fr","subject":"Résultats de biologie","patient":{"family_name":"DURAND","given_names":"Louise","birth_date":"1940-01-02","ins":"240017512345634"},"document":{"title":"Résultats de biologie","type_display":"CR d'examens biologiques","date":"2026-11-23"},"metadata_source":"xdm","recipients":["noreply-bio@ch-exemple.mssante.fr"]}`), 0o600)
	led.PutReceived(ctx, store.Received{ID: "R20261123-101500-3f9a2c1b", Box: "bio", Mailbox: "INBOX", UIDValidity: 1, UID: 7, MessageID: "<r1@chu-exemple.mssante.fr>", Kind: "document", State: "done", Files: []string{base + ".pdf", base + ".json"}})
	led.PutReceived(ctx, store.Received{ID: "R20261123-101530-0a0b0c0d", Box: "bio", Mailbox: "INBOX", UIDValidity: 1, UID: 8, MessageID: "<r2@medecin.mssante.fr>", Kind: "mdn", State: "done"})
	os.MkdirAll(h.cfg.Import.Quarantine, 0o700)
	os.WriteFile(filepath.Join(h.cfg.Import.Quarantine, "R20261123-101600-00000001.eml"), []byte("From: inconnu@example.com\r\nSubject: Facture\r\n\r\nx\r\n"), 0o600)
	led.PutReceived(ctx, store.Received{ID: "R20261123-101600-00000001", Box: "bio", Mailbox: "INBOX", UIDValidity: 1, UID: 9, Kind: "quarantine", State: "done",
		Reason: "Expéditeur hors de l'espace de confiance MSSanté", Files: []string{"R20261123-101600-00000001.eml"}})
}
