//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A correspondent's message with a PDF and an IHE_XDM.ZIP, delivered into the box's INBOX on
// Dovecot, lands in the import folder: the PDF byte for byte, and a sidecar with the Message-ID
// and the patient's INS from the XDM metadata. Once with each way in: the client certificate
// alone (AUTHENTICATE EXTERNAL, implicit TLS) and certificate + password (LOGIN, STARTTLS).
// A restart deposits nothing twice; the same message delivered again (same Message-ID), before
// and after the restart, is not deposited again.
func TestReceiveDeposit(t *testing.T) {
	for _, tc := range []struct {
		name string
		ro   recvOpts
		how  string // what Dovecot logs for the login
	}{
		{"external-tls", recvOpts{Security: "tls"}, "method=EXTERNAL"},
		{"password-starttls", recvOpts{Security: "starttls", Password: true}, "method=PLAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecvCase(t, tc.ro)
			logMark := fileSize(dv.Log)
			order := 800
			if tc.ro.Password {
				order = 801
			}
			insValue := insFor(2, 56, 3, "75", 56, order)
			pdf := makePDF(t, doc{Name: "cr-recu.pdf", Title: "Compte rendu recu " + tc.name})
			title := "Compte rendu de biologie reçu (" + tc.name + ")"
			m := inMsg{
				MessageID: msgID("recv-" + tc.name),
				Subject:   title,
				Body:      "Bonjour,\nveuillez trouver ci-joint le compte rendu.\nDr Martin",
				Parts: []inPart{
					{Name: "compte-rendu.pdf", ContentType: "application/pdf", Data: pdf},
					{Name: "IHE_XDM.ZIP", ContentType: "application/zip", Data: xdmPackage(t, pdf, insValue, title)},
				},
			}
			raw := m.bytes()
			deliver(t, raw)
			rc.start()
			rc.waitDeposits(90*time.Second, m.MessageID)

			ds := rc.deposits()
			if len(ds) != 1 {
				t.Fatalf("%d deposits for one message with one PDF, want 1", len(ds))
			}
			d := ds[0]
			checkDeposit(t, d, m.MessageID, pdf)
			if got := d.ins(); got != insValue {
				t.Errorf("%s: patient.ins %q, want the XDM's %s", d.Sidecar, got, insValue)
			}
			if s := str(d.JSON, "metadata_source"); s != "xdm" {
				t.Errorf("%s: metadata_source %q, want \"xdm\"", d.Sidecar, s)
			}
			if !strings.HasSuffix(d.Doc, ".pdf") {
				t.Errorf("deposited as %s: want a .pdf", filepath.Base(d.Doc))
			}
			if doc, _ := d.JSON["document"].(map[string]any); str(doc, "title") != title {
				t.Errorf("%s: document.title %q, want the XDM's %q", d.Sidecar, str(doc, "title"), title)
			}
			if s := str(d.JSON, "sender"); s != "jean.martin@medecin.mssante.fr" {
				t.Errorf("%s: sender %q", d.Sidecar, s)
			}
			if left := rc.importLeftovers(); len(left) > 0 {
				t.Errorf("import folder holds more than the document and its sidecar: %v", left)
			}
			// On the server: out of the INBOX, into the processed folder.
			rc.waitFor("the message moved to "+processedFolder, 30*time.Second, func() (bool, string) {
				in, done := onServer(t, "INBOX", m.MessageID), onServer(t, processedFolder, m.MessageID)
				return in == 0 && done == 1, fmt.Sprintf("INBOX %d, %s %d", in, processedFolder, done)
			})
			// The login was the one asked for, over TLS, and IDLE is in use.
			if log := since(dv.Log, logMark); !regexp.MustCompile(`Login: user=<` + regexp.QuoteMeta(dv.User) + `>, ` + tc.how + `,.* TLS`).MatchString(log) {
				t.Errorf("Dovecot's log shows no TLS login with %s for %s:\n%s", tc.how, dv.User, tail(log, 10))
			}
			if !strings.Contains(rc.lastLog(), "idle=true") {
				t.Errorf("the bridge does not say it uses IDLE:\n%s", tail(rc.lastLog(), 20))
			}

			// The same message again (same Message-ID) while the bridge runs: not deposited.
			deliver(t, raw)
			rc.waitFor("the second copy handled on the server", 30*time.Second, func() (bool, string) {
				in, done := onServer(t, "INBOX", m.MessageID), onServer(t, processedFolder, m.MessageID)
				return in == 0 && done == 2, fmt.Sprintf("INBOX %d, %s %d", in, processedFolder, done)
			})

			// A restart: nothing deposited twice; and a third copy arriving after it is not
			// deposited either (the ledger is on disk).
			rc.stop()
			rc.start()
			deliver(t, raw)
			rc.waitFor("the third copy handled on the server", 60*time.Second, func() (bool, string) {
				in, done := onServer(t, "INBOX", m.MessageID), onServer(t, processedFolder, m.MessageID)
				return in == 0 && done == 3, fmt.Sprintf("INBOX %d, %s %d", in, processedFolder, done)
			})
			time.Sleep(time.Second) // a late deposit would be written by now
			if n := byMessageID(rc.deposits())[m.MessageID]; n != 1 {
				t.Errorf("after two more copies and a restart: %d deposits of %s, want 1", n, m.MessageID)
			}
			if left := rc.importLeftovers(); len(left) > 0 {
				t.Errorf("import folder, after the restart: unexpected files %v", left)
			}
		})
	}
}

// A message that carries only IHE_XDM.ZIP: the PDF inside the CDA is deposited, identical to
// the one the sender packaged, with the XDM's metadata.
func TestReceiveXDMOnly(t *testing.T) {
	rc := newRecvCase(t, recvOpts{Security: "tls"})
	insValue := insFor(1, 48, 11, "29", 19, 7)
	pdf := makePDF(t, doc{Name: "xdm-seul.pdf", Title: "Lettre de liaison XDM seul"})
	m := inMsg{MessageID: msgID("recv-xdm-only"), Subject: "Lettre de liaison", Body: "Ci-joint.",
		Parts: []inPart{{Name: "IHE_XDM.ZIP", ContentType: "application/zip", Data: xdmPackage(t, pdf, insValue, "Lettre de liaison")}}}
	deliver(t, m.bytes())
	rc.start()
	rc.waitDeposits(90*time.Second, m.MessageID)
	ds := rc.deposits()
	if len(ds) != 1 {
		t.Fatalf("%d deposits, want 1", len(ds))
	}
	checkDeposit(t, ds[0], m.MessageID, pdf)
	if got := ds[0].ins(); got != insValue {
		t.Errorf("patient.ins %q, want %s", got, insValue)
	}
	if s := str(ds[0].JSON, "metadata_source"); s != "xdm" {
		t.Errorf("metadata_source %q, want xdm", s)
	}
}

// With a wrong password the box is not opened (Dovecot refuses the login), nothing is
// deposited, the bridge keeps running and says why.
func TestReceiveWrongPassword(t *testing.T) {
	needDovecot(t)
	bad := filepath.Join(t.TempDir(), "wrong-password")
	if err := os.WriteFile(bad, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := newRecvCase(t, recvOpts{Security: "tls", Password: true, PasswordFile: bad})
	logMark := fileSize(dv.Log)
	pdf := makePDF(t, doc{Name: "refus.pdf", Title: "Compte rendu mot de passe"})
	m := inMsg{MessageID: msgID("recv-wrong-password"), Subject: "CR", Body: "x",
		Parts: []inPart{{Name: "cr.pdf", ContentType: "application/pdf", Data: pdf}}}
	deliver(t, m.bytes())
	rc.start()
	rc.waitFor("Dovecot to refuse the password", 60*time.Second, func() (bool, string) {
		return strings.Contains(since(dv.Log, logMark), "Password mismatch"), "no refusal logged yet"
	})
	time.Sleep(2 * time.Second)
	if ds := rc.deposits(); len(ds) != 0 {
		t.Errorf("%d deposit(s) with a wrong password", len(ds))
	}
	if n := onServer(t, "INBOX", m.MessageID); n != 1 {
		t.Errorf("the message is %d times in the INBOX, want 1 (untouched)", n)
	}
	if gone, err := rc.exited(); gone {
		t.Errorf("the bridge exited (%v): a refused login must not stop the sending side", err)
	}
	if log := rc.lastLog(); !strings.Contains(strings.ToLower(log), "imap login") {
		t.Errorf("the bridge's log does not say the IMAP login failed:\n%s", tail(log, 15))
	}
}

// since returns what was appended to a log file after offset mark.
func since(path string, mark int64) string {
	raw, err := os.ReadFile(path)
	if err != nil || int64(len(raw)) < mark {
		return ""
	}
	return string(raw[mark:])
}

// check-config --connect "also does the TLS handshakes and logins" (contract): with an imap
// endpoint, that includes the IMAP login. The good configuration passes; a wrong IMAP password
// must not.
func TestReceiveCheckConfigConnect(t *testing.T) {
	needDovecot(t)
	good := newRecvCase(t, recvOpts{Security: "starttls", Password: true})
	if out, code := good.cli("check-config", "-c", good.cfgPath, "--connect"); code != 0 {
		t.Errorf("check-config --connect with the right password: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "wrong-password")
	if err := os.WriteFile(bad, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := newRecvCase(t, recvOpts{Security: "starttls", Password: true, PasswordFile: bad})
	out, code := wrong.cli("check-config", "-c", wrong.cfgPath, "--connect")
	if code == 0 {
		t.Errorf("check-config --connect: exit 0 with a wrong IMAP password (the IMAP login is not tried):\n%s", out)
	}
}
