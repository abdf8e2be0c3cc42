//go:build integration

package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIGKILL trials: 50 documents dropped, the bridge killed with -9 at random moments and
// restarted each time. Nothing may be lost; a document sent twice (killed between the
// server's 250 and the bridge recording it) must carry the same Message-ID both times, so the
// recipient's software can drop the copy.
func TestSIGKILLTrials(t *testing.T) {
	const n = 50
	c := newCase(t, goodStartTLS())

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MSSBRIDGE_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MSSBRIDGE_KILL_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("kill schedule seed %d (MSSBRIDGE_KILL_SEED=%d replays it)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 0x6d7373))

	docs := make([]doc, n)
	rcpts := make([]string, n)
	for i := range docs {
		// Every other recipient is slow*: the operator has the message but says 250 a second
		// later, so kills land in that window too (sent, unbeknown to the bridge: resent).
		prefix := "kill"
		if i%2 == 0 {
			prefix = "slow"
		}
		rcpts[i] = addr(prefix, fmt.Sprintf("kill%02d", i), "medecin.mssante.fr")
		docs[i] = doc{Name: fmt.Sprintf("kill-%02d.pdf", i), Title: fmt.Sprintf("Compte rendu kill %02d", i),
			To: []string{rcpts[i]}, Patient: dupont(600 + i)}
	}
	pdfs := makePDFs(t, docs)

	// deliveredCount counts the mailboxes with mail; progress also counts claims. Both only
	// read directory listings.
	deliveredCount := func() int {
		k := 0
		for _, r := range rcpts {
			if maildirCount(r) > 0 {
				k++
			}
		}
		return k
	}
	next := 0 // documents dropped so far
	progress := func() int {
		k := next - len(c.inputFiles())
		for _, r := range rcpts {
			k += maildirCount(r)
		}
		return k
	}

	kills := 5 + rnd.IntN(4) // 5 to 8
	c.start()
	began := time.Now()
	for i, d := range docs {
		c.drop(d.Name, pdfs[i])
	}
	next = n
	// The first start compiles the PDF engine (seconds; cached in data_dir afterwards): kills
	// then would all land before any work, and leave no cache. The kills begin once the
	// bridge is seen at work; then, 100-1500 ms after each (re)start, they land in start-up
	// (~150 ms), the quiet window and the claims (~1.1 s after a start), or the sending (25
	// slow acceptances of a second each keep it busy).
	c.waitFor("the bridge to claim or send", 2*time.Minute, func() (bool, string) {
		return progress() > 0, "nothing claimed or delivered yet"
	})
	for k := 1; k <= kills; k++ {
		delay := time.Duration(100+rnd.IntN(1401)) * time.Millisecond // 100 to 1500 ms
		time.Sleep(delay)
		if gone, err := c.exited(); gone {
			t.Fatalf("before kill %d: the bridge exited on its own (%v)", k, err)
		}
		c.kill()
		t.Logf("kill -9 #%d/%d at +%s (%s after the previous start or first work): %d/%d delivered, %d still in the input",
			k, kills, time.Since(began).Round(time.Millisecond), delay, deliveredCount(), n, len(c.inputFiles()))
		c.start()
	}

	c.waitFor("every document delivered and the input folder empty", 5*time.Minute, func() (bool, string) {
		got, left := deliveredCount(), len(c.inputFiles())
		held, failed := len(c.jobFiles("held")), len(c.jobFiles("failed"))
		note := fmt.Sprintf("%d/%d delivered, %d in the input, %d held, %d failed", got, n, left, held, failed)
		// Every document has its outcome; done even if some are (wrongly) held or failed.
		return got+held+failed >= n && left == 0, note
	})
	c.waitQuiet(2*time.Minute, func() string {
		var b strings.Builder
		for _, r := range rcpts {
			m, _ := mailbox(r)
			fmt.Fprintf(&b, "%d,", len(m))
		}
		fmt.Fprintf(&b, " held %d failed %d input %d", len(c.jobFiles("held")), len(c.jobFiles("failed")), len(c.inputFiles()))
		return b.String()
	})
	t.Logf("all outcomes in %s after the drop", time.Since(began).Round(time.Second))

	twice := 0
	for i, r := range rcpts {
		msgs, err := mailbox(r)
		if err != nil {
			t.Errorf("%s: %v", docs[i].Name, err)
			continue
		}
		if len(msgs) == 0 {
			t.Errorf("%s (to %s): never delivered", docs[i].Name, r)
			continue
		}
		if len(msgs) > 1 {
			twice++
			t.Logf("%s delivered %d times", docs[i].Name, len(msgs))
		}
		for _, m := range msgs {
			checkMessage(t, m, docs[i], pdfs[i])
			if m.MessageID != msgs[0].MessageID {
				t.Errorf("%s delivered twice with different Message-IDs: %s and %s", docs[i].Name, msgs[0].MessageID, m.MessageID)
			}
		}
	}
	for _, st := range []string{"held", "failed"} {
		for _, j := range c.jobFiles(st) {
			t.Errorf("%s/%s.json: a valid document ended %s: %s", st, j.Job, st, clip(j.Raw, 600))
		}
	}
	if left := c.inputFiles(); len(left) > 0 {
		t.Errorf("still in the input folder: %v", left)
	}
	cut := 0 // SMTP sessions that ended without QUIT: the kills that fell in a session
	for _, l := range strings.Split(c.postfixLog(), "\n") {
		if strings.Contains(l, "disconnect from") && !strings.Contains(l, " quit=") {
			cut++
		}
	}
	t.Logf("%d kills; %d SMTP sessions cut; %d/%d documents delivered more than once", kills, cut, twice, n)

	// The journal survives the kills: it still verifies end to end.
	c.stop()
	if out, code := c.cli("audit", "verify", "-c", c.cfgPath); code != 0 {
		t.Errorf("audit verify after the kill trials: exit %d\n%s", code, out)
	}
}

// waitQuiet waits until snapshot gives the same answer for three seconds running.
func (c *bridgeCase) waitQuiet(timeout time.Duration, snapshot func() string) {
	c.t.Helper()
	last, since := snapshot(), time.Now()
	c.waitFor("things to settle", timeout, func() (bool, string) {
		if now := snapshot(); now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) >= 3*time.Second, "still changing: " + last
	})
}
