//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A tagged PDF dropped in the input folder reaches each recipient's mailbox, through the
// operator's submission port with the box's client certificate, attachment intact.
func TestDropDelivered(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    func() opts
	}{
		{"starttls", goodStartTLS},
		{"tls", goodTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t, tc.o())
			a := addr("drop", tc.name+"-a", "medecin.mssante.fr")
			b := addr("drop", tc.name+"-b", "medecin.mssante.fr")
			cc := addr("drop", tc.name+"-c", "chu-exemple.mssante.fr")
			docs := []doc{
				{Name: "cr-a.pdf", Title: "Compte rendu de biologie A " + tc.name, To: []string{a}, Patient: dupont(101)},
				{Name: "cr-b.pdf", Title: "Compte rendu de biologie B " + tc.name, To: []string{b}, Cc: []string{cc}, Patient: dupont(102)},
			}
			pdfs := makePDFs(t, docs)
			c.start()
			for i, d := range docs {
				c.drop(d.Name, pdfs[i])
			}

			type want struct {
				rcpt string
				doc  int
				role string
			}
			wants := []want{{a, 0, "To"}, {b, 1, "To"}, {cc, 1, "Cc"}}
			c.waitFor("delivery to every recipient", 90*time.Second, func() (bool, string) {
				var missing []string
				for _, w := range wants {
					if m, _ := mailbox(w.rcpt); len(m) == 0 {
						missing = append(missing, w.rcpt)
					}
				}
				return len(missing) == 0, fmt.Sprintf("no mail yet for %v", missing)
			})
			c.waitInputEmpty(30 * time.Second)

			ids := map[int]string{}
			for _, w := range wants {
				msgs, err := mailbox(w.rcpt)
				if err != nil {
					t.Fatalf("%s: %v", w.rcpt, err)
				}
				if len(msgs) != 1 {
					t.Errorf("%s: %d messages, want 1", w.rcpt, len(msgs))
				}
				m := msgs[0]
				d := docs[w.doc]
				checkMessage(t, m, d, pdfs[w.doc])
				if !contains(addressesIn(m.Header, w.role), w.rcpt) {
					t.Errorf("%s: not in the %s header (%q)", w.rcpt, w.role, m.Header.Get(w.role))
				}
				if prev, ok := ids[w.doc]; ok && prev != m.MessageID {
					t.Errorf("%s: the To and Cc copies have different Message-IDs: %s and %s", d.Name, prev, m.MessageID)
				}
				ids[w.doc] = m.MessageID
			}
			if ids[0] == ids[1] {
				t.Errorf("two documents share the Message-ID %s", ids[0])
			}
			if held := c.jobFiles("held"); len(held) > 0 {
				t.Errorf("%d job(s) held, want none", len(held))
			}
		})
	}
}

// checkMessage asserts what every delivered document must show: the PDF byte for byte, a
// Subject carrying the title, a Message-ID, the box as sender, and a Received line written by
// the operator's Postfix that records the verified client certificate of the box.
func checkMessage(t *testing.T, m delivered, d doc, pdf []byte) {
	t.Helper()
	found := false
	for _, p := range m.PDFs {
		if bytes.Equal(p.Data, pdf) {
			found = true
		}
	}
	if !found {
		var sizes []int
		for _, p := range m.PDFs {
			sizes = append(sizes, len(p.Data))
		}
		t.Errorf("%s: no PDF attachment identical to %s (%d bytes); PDF parts found: %d, sizes %v",
			m.Path, d.Name, len(pdf), len(m.PDFs), sizes)
	}
	if strings.TrimSpace(m.Subject) == "" {
		t.Errorf("%s: no Subject", m.Path)
	} else if d.Title != "" && !strings.Contains(m.Subject, d.Title) {
		t.Errorf("%s: Subject %q does not carry the title %q (#MSS-TITLE)", m.Path, m.Subject, d.Title)
	}
	if !strings.HasPrefix(m.MessageID, "<") || !strings.Contains(m.MessageID, "@") || !strings.HasSuffix(m.MessageID, ">") {
		t.Errorf("%s: Message-ID %q is missing or malformed", m.Path, m.MessageID)
	}
	if from := addressesIn(m.Header, "From"); !contains(from, strings.ToLower(env.BoxAddress)) {
		t.Errorf("%s: From %q, want the box %s", m.Path, m.Header.Get("From"), env.BoxAddress)
	}
	certSeen := false
	for _, r := range m.Header["Received"] {
		if strings.Contains(r, `Client CN "`+env.BoxAddress+`"`) && strings.Contains(r, "verified OK") {
			certSeen = true
		}
	}
	if !certSeen {
		t.Errorf("%s: no Received header records the box's verified client certificate: %q", m.Path, m.Header["Received"])
	}
}
