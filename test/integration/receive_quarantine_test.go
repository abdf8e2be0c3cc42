//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Bad mail goes to data_dir/quarantine (the default of import.quarantine) with a reason, and
// to the quarantine folder on the server; the loop keeps going: a good message delivered after
// them is deposited.
func TestReceiveQuarantine(t *testing.T) {
	rc := newRecvCase(t, recvOpts{Security: "tls", Extra: "  max_attachment_size: 200KB\n"})
	pdf := makePDF(t, doc{Name: "bon.pdf", Title: "Compte rendu apres les mauvais"})
	big := bytes.Repeat([]byte("%PDF-1.4 pas vraiment un PDF, mais gros\n"), 300<<10/40) // ~300 KB

	bad := []struct {
		name string
		m    inMsg
		why  string // a word the reason must carry (lower case)
	}{
		{"no-attachment", inMsg{Subject: "Bonjour", Body: "Un message sans pièce jointe."}, "pièce jointe"},
		{"xdm-dotdot", inMsg{Subject: "XDM piégé", Body: "ci-joint", Parts: []inPart{
			{Name: "IHE_XDM.ZIP", ContentType: "application/zip", Data: zipOf(t, map[string]string{
				"IHE_XDM/SUBSET01/METADATA.XML": "<x/>", "../../../etc/cron.d/evil": "* * * * * root id\n"})}}}, ".."},
		{"xdm-corrupt", inMsg{Subject: "XDM illisible", Body: "ci-joint", Parts: []inPart{
			{Name: "IHE_XDM.ZIP", ContentType: "application/zip", Data: []byte("PK\x03\x04 ceci n'est pas une archive")}}}, "xdm"},
		{"too-big", inMsg{Subject: "Trop gros", Body: "ci-joint", Parts: []inPart{
			{Name: "gros.pdf", ContentType: "application/pdf", Data: big}}}, "taille"},
	}
	for i := range bad {
		bad[i].m.MessageID = msgID("recv-bad-" + bad[i].name)
		deliver(t, bad[i].m.bytes())
	}
	good := inMsg{MessageID: msgID("recv-after-bad"), Subject: "Compte rendu", Body: "ci-joint",
		Parts: []inPart{{Name: "cr.pdf", ContentType: "application/pdf", Data: pdf}}}
	deliver(t, good.bytes())

	rc.start()
	rc.waitDeposits(90*time.Second, good.MessageID)
	rc.waitFor("every bad message quarantined", 30*time.Second, func() (bool, string) {
		n := len(rc.quarantined())
		return n >= len(bad), fmt.Sprintf("%d/%d in %s", n, len(bad), rc.quarantineDir)
	})

	ds := rc.deposits()
	if len(ds) != 1 {
		for _, d := range ds {
			t.Logf("deposited: %s (message %s)", d.Doc, d.messageID())
		}
		t.Errorf("%d deposits, want 1 (the good message only)", len(ds))
	}
	for _, d := range ds {
		if d.messageID() == good.MessageID {
			checkDeposit(t, d, good.MessageID, pdf)
		}
	}
	qs := map[string]quarantined{}
	for _, q := range rc.quarantined() {
		qs[str(q.JSON, "message_id")] = q
	}
	for _, b := range bad {
		q, ok := qs[b.m.MessageID]
		if !ok {
			t.Errorf("%s: not in %s", b.name, rc.quarantineDir)
			continue
		}
		reason := str(q.JSON, "reason")
		if !strings.Contains(strings.ToLower(reason), b.why) {
			t.Errorf("%s: reason %q does not say %q", b.name, reason, b.why)
		}
		t.Logf("%s: quarantined, reason %q, copy %v", b.name, reason, q.EML != "")
		if b.name != "too-big" { // a message over the cap may be refused unread; the others are kept
			if raw, err := os.ReadFile(q.EML); err != nil || !bytes.Contains(raw, []byte(b.m.MessageID)) {
				t.Errorf("%s: no copy of the message beside its reason (%v)", b.name, err)
			}
		}
		if n := onServer(t, quarantineFolder, b.m.MessageID); n != 1 {
			t.Errorf("%s: %d time(s) in the server's %s folder, want 1", b.name, n, quarantineFolder)
		}
	}
	if n := onServer(t, "INBOX", good.MessageID); n != 0 {
		t.Errorf("the good message is still in the INBOX")
	}
	if gone, err := rc.exited(); gone {
		t.Errorf("the bridge exited: %v", err)
	}
}

// The issue lists "a ZIP with ../ paths" among the mail to quarantine. An ordinary ZIP
// attachment (not an XDM package) with such entries is either quarantined or deposited as an
// opaque file; this test says which, and fails when it is deposited: the clinical software
// that unpacks what lands in its import folder would write outside it.
func TestReceiveZipDotDot(t *testing.T) {
	rc := newRecvCase(t, recvOpts{Security: "tls"})
	m := inMsg{MessageID: msgID("recv-zip-dotdot"), Subject: "Résultats", Body: "ci-joint",
		Parts: []inPart{{Name: "resultats.zip", ContentType: "application/zip", Data: zipOf(t, map[string]string{
			"resultats.pdf": "%PDF-1.4\n", "../../../../tmp/evil.sh": "#!/bin/sh\nid\n"})}}}
	deliver(t, m.bytes())
	good := inMsg{MessageID: msgID("recv-zip-dotdot-after"), Subject: "CR", Body: "x",
		Parts: []inPart{{Name: "cr.pdf", ContentType: "application/pdf", Data: makePDF(t, doc{Name: "z.pdf", Title: "Apres zip"})}}}
	deliver(t, good.bytes())
	rc.start()
	rc.waitDeposits(90*time.Second, good.MessageID)
	time.Sleep(500 * time.Millisecond)
	if n := byMessageID(rc.deposits())[m.MessageID]; n > 0 {
		for _, d := range rc.deposits() {
			if d.messageID() == m.MessageID {
				t.Errorf("a ZIP with ../ entries was deposited in the import folder as %s (content_type %q), not quarantined",
					d.Doc, str(d.JSON, "content_type"))
			}
		}
	}
	found := false
	for _, q := range rc.quarantined() {
		if str(q.JSON, "message_id") == m.MessageID {
			found = true
			t.Logf("quarantined: %q", str(q.JSON, "reason"))
		}
	}
	if !found {
		t.Errorf("the message with a ZIP holding ../ entries is not in %s", rc.quarantineDir)
	}
}
