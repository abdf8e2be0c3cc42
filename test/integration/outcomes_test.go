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

// A document addressed outside the trust space is held with its reason, and the operator never
// hears of it.
func TestOutsideTrustSpaceHeld(t *testing.T) {
	c := newCase(t, goodStartTLS())
	d := doc{Name: "hors-espace.pdf", Title: "Compte rendu hors espace de confiance",
		To: []string{"dr.lambert@gmail.com"}, Patient: dupont(201)}
	pdf := makePDF(t, d)
	c.start()
	c.drop(d.Name, pdf)

	var held []jobFile
	c.waitFor("held/JOBID.json", 60*time.Second, func() (bool, string) {
		held = c.jobFiles("held")
		return len(held) > 0, fmt.Sprintf("held: %d, failed: %d", len(held), len(c.jobFiles("failed")))
	})
	c.waitInputEmpty(30 * time.Second)
	if len(held) != 1 {
		t.Fatalf("%d held jobs, want 1", len(held))
	}
	h := held[0]
	if s := str(h.JSON, "state"); s != "held" {
		t.Errorf("held/%s.json: state %q, want \"held\"", h.Job, s)
	}
	reasons, _ := h.JSON["reasons"].([]any)
	if len(reasons) == 0 || strings.TrimSpace(fmt.Sprint(reasons...)) == "" {
		t.Errorf("held/%s.json: no reason given: %s", h.Job, h.Raw)
	}
	if got, err := os.ReadFile(filepath.Join(c.dataDir, "held", h.Job+".pdf")); err != nil {
		t.Errorf("held/%s.pdf: %v", h.Job, err)
	} else if !bytes.Equal(got, pdf) {
		t.Errorf("held/%s.pdf differs from the dropped document", h.Job)
	}

	// Absence can only be shown by giving it the time to happen: two first-retry delays.
	time.Sleep(2 * time.Second)
	if log := c.postfixLog(); strings.Contains(strings.ToLower(log), "gmail") {
		t.Errorf("the operator's log mentions gmail:\n%s", grepLines(log, "gmail"))
	}
	if len(c.jobFiles("failed")) > 0 {
		t.Errorf("a job failed: nothing should have been tried")
	}
}

// A 4xx at RCPT is retried; once the mailbox accepts, the document arrives exactly once.
func TestDeferredThenDelivered(t *testing.T) {
	c := newCase(t, goodStartTLS())
	rcpt := addr("defer", "retry", "medecin.mssante.fr")
	d := doc{Name: "differe.pdf", Title: "Compte rendu differe", To: []string{rcpt}, Patient: dupont(301)}
	pdf := makePDF(t, d)
	c.start()
	c.drop(d.Name, pdf)

	deferred := "450 4.2.0 <" + rcpt + ">"
	c.waitFor("the first try to be deferred (Postfix log)", 60*time.Second, func() (bool, string) {
		n := lineCount(c.postfixLog(), deferred)
		return n > 0, fmt.Sprintf("%d deferral(s) logged", n)
	})
	if m, _ := mailbox(rcpt); len(m) != 0 {
		t.Fatalf("delivered while deferring: %d message(s)", len(m))
	}
	flip(t, rcpt)

	c.waitFor("delivery after the mailbox accepts", 60*time.Second, func() (bool, string) {
		m, _ := mailbox(rcpt)
		return len(m) > 0, fmt.Sprintf("%d message(s); deferrals logged: %d", len(m), lineCount(c.postfixLog(), deferred))
	})
	c.waitInputEmpty(30 * time.Second)
	// A second copy would come within one retry delay (retry_max is 4 s).
	time.Sleep(5 * time.Second)
	msgs, err := mailbox(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Errorf("%d messages delivered, want exactly 1", len(msgs))
	}
	checkMessage(t, msgs[0], d, pdf)
	if f := c.jobFiles("failed"); len(f) > 0 {
		t.Errorf("a job failed after a 4xx: %s", f[0].Raw)
	}
	if h := c.jobFiles("held"); len(h) > 0 {
		t.Errorf("a job was held: %s", h[0].Raw)
	}
	t.Logf("deferrals before delivery: %d", lineCount(c.postfixLog(), deferred))
}

// A 5xx at RCPT fails the job at once: failed/JOBID.json carries the server's reply, and the
// operator sees one try only.
func TestRejectedFails(t *testing.T) {
	c := newCase(t, goodStartTLS())
	rcpt := addr("reject", "fail", "medecin.mssante.fr")
	d := doc{Name: "refuse.pdf", Title: "Compte rendu refuse", To: []string{rcpt}, Patient: dupont(401)}
	pdf := makePDF(t, d)
	c.start()
	c.drop(d.Name, pdf)

	var failed []jobFile
	c.waitFor("failed/JOBID.json", 60*time.Second, func() (bool, string) {
		failed = c.jobFiles("failed")
		return len(failed) > 0, fmt.Sprintf("failed: %d, held: %d", len(failed), len(c.jobFiles("held")))
	})
	c.waitInputEmpty(30 * time.Second)
	f := failed[0]
	if s := str(f.JSON, "state"); s != "failed" {
		t.Errorf("failed/%s.json: state %q, want \"failed\"", f.Job, s)
	}
	if r := str(f.JSON, "server_reply"); !strings.Contains(r, "550") {
		t.Errorf("failed/%s.json: server_reply %q does not carry the 550", f.Job, r)
	}
	if strings.TrimSpace(str(f.JSON, "last_error")) == "" {
		t.Errorf("failed/%s.json: no last_error", f.Job)
	}
	if got, err := os.ReadFile(filepath.Join(c.dataDir, "failed", f.Job+".pdf")); err != nil {
		t.Errorf("failed/%s.pdf: %v", f.Job, err)
	} else if !bytes.Equal(got, pdf) {
		t.Errorf("failed/%s.pdf differs from the dropped document", f.Job)
	}
	// A retry would come after retry_initial (1 s); give it three.
	time.Sleep(3 * time.Second)
	if n := lineCount(c.postfixLog(), "550 5.1.1 <"+rcpt+">"); n != 1 {
		t.Errorf("the operator refused %s %d times, want 1 (a 5xx is not retried)", rcpt, n)
	}
	if m, _ := mailbox(rcpt); len(m) != 0 {
		t.Errorf("%d message(s) delivered to a rejecting mailbox", len(m))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
