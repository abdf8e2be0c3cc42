//go:build integration

package integration

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// certWord is what any wording of the refusal carries, in English or French.
var certWord = regexp.MustCompile(`(?i)certifica`)

// The operator requires the box's client certificate. Postfix answers a missing or untrusted
// one after the TLS handshake with "421 4.7.1 … No client certificate presented" / "Client
// certificate not trusted": a 4xx code for what is in fact a configuration error.
func TestClientCertificate(t *testing.T) {
	t.Run("good/check-config", func(t *testing.T) {
		// The control: the same command with the right certificate succeeds, on both ports.
		for _, o := range []opts{goodStartTLS(), goodTLS()} {
			c := newCase(t, o)
			if out, code := c.cli("check-config", "-c", c.cfgPath, "--connect"); code != 0 {
				t.Errorf("%s: check-config --connect with the good certificate: exit %d\n%s", o.Security, code, out)
			}
		}
	})

	for _, tc := range []struct {
		name string
		o    opts
	}{
		{"missing/starttls", opts{Security: "starttls"}},
		{"missing/tls", opts{Security: "tls"}},
		{"rogue/starttls", opts{Security: "starttls", Cert: env.RogueCert, Key: env.RogueKey}},
		{"rogue/tls", opts{Security: "tls", Cert: env.RogueCert, Key: env.RogueKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t, tc.o)
			out, code := c.cli("check-config", "-c", c.cfgPath, "--connect")
			if code == 0 {
				t.Errorf("check-config --connect: exit 0, want non-zero\n%s", out)
			}
			if !certWord.MatchString(out) {
				t.Errorf("check-config --connect does not say the certificate was refused:\n%s", out)
			}
			t.Logf("check-config --connect: exit %d\n%s", code, out)

			// run. A configuration refused without connecting (check-config without --connect
			// fails: say, a box with no certificate at all) must stop `run` at start, exit 2,
			// naming the certificate. Otherwise the job must end held or failed with a reason
			// naming the certificate, not be retried for ever.
			rcpt := addr("cert", regexp.MustCompile(`\W`).ReplaceAllString(tc.name, "-"), "medecin.mssante.fr")
			d := doc{Name: "sans-certificat.pdf", Title: "Compte rendu certificat", To: []string{rcpt}, Patient: dupont(501)}
			pdf := makePDF(t, d)
			_, static := c.cli("check-config", "-c", c.cfgPath)
			c.start()
			c.drop(d.Name, pdf)
			if static != 0 {
				c.waitExit(30*time.Second, 2, certWord)
				return
			}
			var ended []jobFile
			c.waitFor("the job to end held or failed", 60*time.Second, func() (bool, string) {
				ended = append(c.jobFiles("held"), c.jobFiles("failed")...)
				return len(ended) > 0, fmt.Sprintf("TLS refusals logged by the operator so far: %d",
					lineCount(c.postfixLog(), "NOQUEUE: abort: TLS from"))
			})
			j := ended[0]
			if !certWord.MatchString(j.Raw) {
				t.Errorf("%s: the reason does not name the certificate:\n%s", j.Path, j.Raw)
			}
			t.Logf("%s: reasons %v, last_error %q, server_reply %q", j.Path, j.JSON["reasons"],
				str(j.JSON, "last_error"), str(j.JSON, "server_reply"))
			// Not retried any more: over two backoff caps (retry_max 4 s) a retrying bridge
			// connects at least twice; one connection is tolerated (a last try in flight).
			before := lineCount(c.postfixLog(), "NOQUEUE: abort: TLS from")
			time.Sleep(8 * time.Second)
			if after := lineCount(c.postfixLog(), "NOQUEUE: abort: TLS from"); after > before+1 {
				t.Errorf("the bridge kept connecting after the job ended: %d refusals, then %d", before, after)
			}
			if m, _ := mailbox(rcpt); len(m) != 0 {
				t.Errorf("delivered without a valid client certificate?! %d message(s)", len(m))
			}
		})
	}
}
