//go:build integration

package integration

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIGKILL trials while receiving: 30 messages (5 of them delivered a second time, same
// Message-ID) arrive in batches while the bridge is killed with -9 at random moments and
// restarted. In the end every Message-ID has exactly one deposit, whole and identical to what
// was sent, and the INBOX is empty: nothing lost, nothing twice.
func TestReceiveSIGKILLTrials(t *testing.T) {
	const n, dups = 30, 5
	rc := newRecvCase(t, recvOpts{Security: "tls"})

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MSSBRIDGE_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MSSBRIDGE_KILL_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("kill schedule seed %d (MSSBRIDGE_KILL_SEED=%d replays it)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 0x726376))

	docs := make([]doc, n)
	for i := range docs {
		docs[i] = doc{Name: fmt.Sprintf("recu-%02d.pdf", i), Title: fmt.Sprintf("Compte rendu recu %02d", i)}
	}
	pdfs := makePDFs(t, docs)
	// Every other document made large (1.5 MB of random bytes after %%EOF, which PDF readers
	// ignore): fetching, decoding and writing it with fsync takes long enough that kills land
	// in the middle of the work, not only between messages.
	for i := 0; i < n; i += 2 {
		pad := make([]byte, 3<<19)
		for j := range pad {
			pad[j] = byte(rnd.Uint32())
		}
		pdfs[i] = append(append(pdfs[i], "\n%"...), pad...)
	}
	msgs := make([]inMsg, n)
	raws := make([][]byte, n)
	for i := range msgs {
		msgs[i] = inMsg{MessageID: msgID(fmt.Sprintf("recv-kill-%02d", i)), Subject: docs[i].Title,
			Body: "Compte rendu ci-joint.", Parts: []inPart{{Name: docs[i].Name, ContentType: "application/pdf", Data: pdfs[i]}}}
		if i%3 == 0 { // some with an XDM package too: more work per message, more room for a kill
			msgs[i].Parts = append(msgs[i].Parts, inPart{Name: "IHE_XDM.ZIP", ContentType: "application/zip",
				Data: xdmPackage(t, pdfs[i], insFor(2, 56, 3, "75", 56, 850+i), docs[i].Title)})
		}
		raws[i] = msgs[i].bytes()
	}
	// Delivery order: the 30, with a second copy of the first five slipped in later.
	var order []int
	for i := 0; i < n; i++ {
		order = append(order, i)
		if i >= 10 && i-10 < dups {
			order = append(order, i-10)
		}
	}
	next := 0
	deliverSome := func(k int) {
		for ; k > 0 && next < len(order); k-- {
			deliver(t, raws[order[next]])
			next++
		}
	}
	ids := make([]string, n)
	for i, m := range msgs {
		ids[i] = m.MessageID
	}

	deliverSome(10)
	rc.start()
	// The first start compiles the PDF engine (seconds, cached in data_dir afterwards); the
	// kills begin once the inbox is seen at work.
	rc.waitFor("the first deposit", 2*time.Minute, func() (bool, string) {
		return len(rc.deposits()) > 0, "nothing deposited yet"
	})
	kills := 7 + rnd.IntN(4) // 7 to 10
	interrupted := 0         // kills that left a message recorded but not finished
	for k := 1; k <= kills; k++ {
		left := len(order) - next
		deliverSome((left + (kills - k)) / (kills - k + 1))
		// Every other kill at a random moment (start-up, waiting in IDLE, or at work); the
		// others aimed at the work: as soon as a deposit is being written (a temporary file) or
		// has just been (a new sidecar, the ledger not yet told), plus 0 to 30 ms.
		var when string
		if k%2 == 1 {
			delay := time.Duration(20+rnd.IntN(481)) * time.Millisecond // 20 to 500 ms
			time.Sleep(delay)
			when = fmt.Sprintf("%s after the batch", delay)
		} else {
			base, t0 := sidecarCount(rc.importDir), time.Now()
			for time.Since(t0) < 5*time.Second && sidecarCount(rc.importDir) == base && len(tempFiles(rc.importDir)) == 0 {
				time.Sleep(time.Millisecond)
			}
			delay := time.Duration(rnd.IntN(31)) * time.Millisecond
			time.Sleep(delay)
			when = fmt.Sprintf("%s after work was seen (%s after the batch)", delay, time.Since(t0).Round(time.Millisecond))
		}
		if gone, err := rc.exited(); gone {
			t.Fatalf("before kill %d: the bridge exited on its own (%v)", k, err)
		}
		rc.kill()
		open := rc.ledgerOpen()
		if open > 0 {
			interrupted++
		}
		t.Logf("kill -9 #%d/%d %s: %d/%d delivered to the box, %d sidecars, %d message(s) mid-way in the ledger, %d temp file(s)",
			k, kills, when, next, len(order), len(rc.deposits()), open, len(tempFiles(rc.importDir)))
		rc.start()
	}
	deliverSome(len(order))
	rc.waitDeposits(3*time.Minute, ids...)
	rc.waitQuiet(2*time.Minute, func() string {
		return fmt.Sprintf("%d sidecars, %d in INBOX", len(rc.deposits()), ours(t, "INBOX"))
	})

	count := byMessageID(rc.deposits())
	for i, id := range ids {
		switch count[id] {
		case 1:
		case 0:
			t.Errorf("%s (%s): lost: never deposited", id, docs[i].Name)
		default:
			t.Errorf("%s (%s): deposited %d times", id, docs[i].Name, count[id])
		}
	}
	want := map[string]int{}
	for i, id := range ids {
		want[id] = i
	}
	for _, d := range rc.deposits() {
		i, ok := want[d.messageID()]
		if !ok {
			t.Errorf("%s: a deposit for an unknown Message-ID %q", d.Sidecar, d.messageID())
			continue
		}
		checkDeposit(t, d, ids[i], pdfs[i])
		if i%3 == 0 && d.ins() == "" {
			t.Errorf("%s: the XDM's INS is missing", d.Sidecar)
		}
	}
	var temps, orphans []string
	for _, f := range rc.importLeftovers() {
		if strings.HasPrefix(f, ".") && strings.HasSuffix(f, ".tmp") {
			temps = append(temps, f)
		} else {
			orphans = append(orphans, f)
		}
	}
	if len(orphans) > 0 {
		t.Errorf("import folder: files no sidecar names (a document without its sidecar?): %v", orphans)
	}
	if len(temps) > 0 {
		t.Logf("import folder: %d temporary file(s) left by writes cut by a kill (hidden, never renamed): %v", len(temps), temps)
	}
	if in := ours(t, "INBOX"); in != 0 {
		t.Errorf("%d of our messages left in the INBOX", in)
	}
	if processed := ours(t, processedFolder); processed != len(order) {
		t.Errorf("%d of our messages in %s, want %d (%d + %d second copies)", processed, processedFolder, len(order), n, dups)
	}
	t.Logf("%d kills, %d of them with a message mid-way; %d messages + %d second copies, each deposited once; %d ledger record(s) left short of done (killed between the server's MOVE and the ledger's update: harmless)",
		kills, interrupted, n, dups, rc.ledgerOpen())
}

// ledgerOpen counts the received messages recorded but not finished (state other than done):
// after a kill, the ones it cut in the middle.
func (rc *recvCase) ledgerOpen() int {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(rc.dataDir, "jobs.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return -1
	}
	defer db.Close()
	var k int
	if err := db.QueryRow(`SELECT count(*) FROM received WHERE state <> 'done'`).Scan(&k); err != nil {
		return -1
	}
	return k
}

// sidecarCount counts the sidecars by name only (cheap enough to poll every millisecond).
func sidecarCount(dir string) int {
	k := 0
	for _, n := range mustReadDirQuiet(dir) {
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			k++
		}
	}
	return k
}

func mustReadDirQuiet(dir string) []string {
	ents, _ := os.ReadDir(dir)
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out
}

func tempFiles(dir string) []string {
	ps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	return ps
}

// ours counts this run's trial messages in a server folder of the box (other mail may arrive
// there meanwhile: DSNs for what other tests send).
func ours(t *testing.T, mailbox string) int {
	out := doveadm(t, true, "search", "-u", dv.User, "mailbox", mailbox,
		"header", "Message-ID", "recv-kill-", "header", "Message-ID", runID)
	return len(strings.Fields(out)) / 2
}
