//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Delivery notifications from Postfix come back into the box and update the jobs that sent
// them. The bridge sends two documents through Postfix, asking for DSNs: one to a mailbox that
// takes it (Postfix sends a success DSN), one to bounce*@, which Postfix accepts at RCPT and
// then bounces (a real failure DSN, after the bridge was told 250). Both DSNs land in the box's
// INBOX on Dovecot; the bridge's inbox reads them: the first job is marked delivered, the second
// moves to failed/ with after_send and the remote reason. Neither DSN is deposited as a document.
func TestReceiveDSN(t *testing.T) {
	rc := newRecvCase(t, recvOpts{Security: "tls"})
	okRcpt := addr("dsnok", "ok", "medecin.mssante.fr")
	koRcpt := addr("bounce", "ko", "medecin.mssante.fr")
	docs := []doc{
		{Name: "dsn-ok.pdf", Title: "Compte rendu DSN remis", To: []string{okRcpt}, Patient: dupont(901)},
		{Name: "dsn-bounce.pdf", Title: "Compte rendu DSN rejete", To: []string{koRcpt}, Patient: dupont(902)},
	}
	pdfs := makePDFs(t, docs)
	rc.start()
	for i, d := range docs {
		rc.drop(d.Name, pdfs[i])
	}

	var ok, ko jobRow
	rc.waitFor("both jobs followed up by their DSN", 120*time.Second, func() (bool, string) {
		ok, ko = jobRow{}, jobRow{}
		for _, j := range rc.jobs() {
			switch j.SourceName {
			case docs[0].Name:
				ok = j
			case docs[1].Name:
				ko = j
			}
		}
		return ok.Delivery == "delivered" && ko.Delivery == "failed",
			fmt.Sprintf("%s: state %q delivery %q; %s: state %q delivery %q; bounces logged by Postfix: %d",
				docs[0].Name, ok.State, ok.Delivery, docs[1].Name, ko.State, ko.Delivery,
				lineCount(rc.postfixLog(), koRcpt, "status=bounced"))
	})
	t.Logf("delivered job %s: state %s, delivery %q (%s)", ok.ID, ok.State, ok.Delivery, ok.DeliveryDetail)
	t.Logf("bounced job %s: state %s, delivery %q (%s)", ko.ID, ko.State, ko.Delivery, ko.DeliveryDetail)

	// What Postfix did: accepted both, delivered one, bounced the other after acceptance.
	plog := rc.postfixLog()
	if lineCount(plog, okRcpt, "status=sent") == 0 {
		t.Errorf("Postfix did not log the delivery to %s", okRcpt)
	}
	if lineCount(plog, koRcpt, "status=bounced") == 0 {
		t.Errorf("Postfix did not log the bounce of %s", koRcpt)
	}
	if lineCount(plog, "NOQUEUE", koRcpt) > 0 {
		t.Errorf("%s was refused at RCPT: the failure must come after acceptance, as a DSN", koRcpt)
	}

	if ok.State != "sent" {
		t.Errorf("job %s: state %q after a success DSN, want sent", ok.ID, ok.State)
	}
	if ko.State != "failed" {
		t.Errorf("job %s: state %q after a bounce, want failed", ko.ID, ko.State)
	}
	// failed/JOBID.json and the document beside it, for a secretary to see.
	var f jobFile
	for _, j := range rc.jobFiles("failed") {
		if j.Job == ko.ID {
			f = j
		}
	}
	if f.Job == "" {
		t.Fatalf("no failed/%s.json", ko.ID)
	}
	if after, _ := f.JSON["after_send"].(bool); !after {
		t.Errorf("failed/%s.json: after_send is not true: %s", ko.ID, clip(f.Raw, 800))
	}
	if s := str(f.JSON, "state"); s != "failed" {
		t.Errorf("failed/%s.json: state %q", ko.ID, s)
	}
	lastErr := str(f.JSON, "last_error")
	if !strings.Contains(lastErr, koRcpt) {
		t.Errorf("failed/%s.json: last_error %q does not name the recipient %s", ko.ID, lastErr, koRcpt)
	}
	reply := str(f.JSON, "server_reply")
	if !strings.Contains(reply+lastErr, "bounce*") {
		t.Errorf("failed/%s.json: neither server_reply %q nor last_error carries the remote reason (\"mssbridge CI: bounce*\")", ko.ID, reply)
	}
	t.Logf("failed/%s.json: last_error %q, server_reply %q", ko.ID, lastErr, reply)
	if got, err := os.ReadFile(filepath.Join(rc.dataDir, "failed", ko.ID+".pdf")); err != nil {
		t.Errorf("failed/%s.pdf: %v", ko.ID, err)
	} else if !bytes.Equal(got, pdfs[1]) {
		t.Errorf("failed/%s.pdf differs from the document dropped", ko.ID)
	}
	for _, j := range rc.jobFiles("failed") {
		if j.Job == ok.ID {
			t.Errorf("the delivered job %s is in failed/", ok.ID)
		}
	}

	// The journal records both follow-ups.
	events := map[string]string{}
	for _, e := range rc.journal() {
		events[str(e, "job")+" "+str(e, "event")] = "yes"
	}
	for _, want := range []string{ok.ID + " delivered", ko.ID + " delivery_failed"} {
		if events[want] == "" {
			t.Errorf("the audit journal has no event %q", want)
		}
	}

	// DSNs are notifications, not documents: nothing in the import folder, nothing quarantined,
	// and out of the INBOX.
	if ds := rc.deposits(); len(ds) != 0 {
		t.Errorf("%d DSN(s) deposited as documents", len(ds))
	}
	for _, q := range rc.quarantined() {
		t.Errorf("quarantined while only DSNs arrived: %v", q.JSON)
	}
	rc.waitFor("the DSNs out of the INBOX", 30*time.Second, func() (bool, string) {
		n := 0
		for _, r := range []string{okRcpt, koRcpt} {
			n += len(strings.Fields(doveadm(t, true, "search", "-u", dv.User, "mailbox", "INBOX", "text", r))) / 2
		}
		return n == 0, fmt.Sprintf("%d DSN(s) still in the INBOX", n)
	})

	// What a person sees: status lists the failed job with its reason.
	out, code := rc.cli("status", "-c", rc.cfgPath)
	if code != 0 || !strings.Contains(out, ko.ID) {
		t.Errorf("mssbridge status (exit %d) does not show the bounced job %s:\n%s", code, ko.ID, out)
	}
	t.Logf("mssbridge status:\n%s", out)
}
