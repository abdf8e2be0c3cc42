package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/store"
)

const box = "noreply-bio@ch-exemple.mssante.fr"

type fakeNotifier struct {
	mu      sync.Mutex
	reports []Report
}

func (f *fakeNotifier) ApplyReport(_ context.Context, _ string, r Report) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, r)
	return r.OriginalEnvelopeID, nil
}

type rig struct {
	t      *testing.T
	op     *operator.Operator
	st     *store.SQLite
	opts   Options
	notif  *fakeNotifier
	sender *mail.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	op, err := operator.Start(ctx, operator.Options{Dir: filepath.Join(dir, "op"), AnySender: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cert, key, _ := op.IssueClient(box)
	host, port, _ := strings.Cut(op.IMAPAddr, ":")
	p, _ := strconv.Atoi(port)
	tc, _ := mail.TLSConfig(host, op.CAFile(), cert, key)
	scert, skey, _ := op.IssueClient("dr.martin@medecin.mssante.fr")
	shost, sport, _ := strings.Cut(op.SMTPAddr, ":")
	sp, _ := strconv.Atoi(sport)
	stc, _ := mail.TLSConfig(shost, op.CAFile(), scert, skey)
	r := &rig{t: t, op: op, st: st, notif: &fakeNotifier{},
		sender: mail.NewClient(mail.Endpoint{Host: shost, Port: sp, Security: mail.StartTLS, TLS: stc, Timeout: 5 * time.Second}, 1)}
	t.Cleanup(func() { r.sender.Close() })
	r.opts = Options{
		Box: "bio", Endpoint: imapbox.Endpoint{Host: host, Port: p, Security: "tls", TLS: tc, Timeout: 5 * time.Second},
		Mailbox: "INBOX", Processed: "Traites", Quarantine: "Quarantaine",
		ImportDir: filepath.Join(dir, "import"), QuarantineDir: filepath.Join(dir, "quarantine"),
		Ledger: st, Notifier: r.notif, IdleMax: 2 * time.Second,
	}
	return r
}

func (r *rig) deliver(raw string) {
	r.t.Helper()
	if _, err := r.sender.Send(context.Background(), mail.Envelope{From: "dr.martin@medecin.mssante.fr", To: []string{box}, Data: []byte(raw)}); err != nil {
		r.t.Fatal(err)
	}
}

// run receives until n files are in dir (or 10 s), then stops.
func (r *rig) run(dir string, n int) []string {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, r.opts) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		if len(entries) >= n {
			time.Sleep(300 * time.Millisecond) // let anything extra show up
			entries, _ = os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return names
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	r.t.Fatalf("%d files in %s after 10 s, want %d", len(entries), dir, n)
	return nil
}

func withPDF(msgID string, pdf []byte) string {
	var b bytes.Buffer
	b.WriteString("From: dr.martin@medecin.mssante.fr\r\nTo: " + box + "\r\nSubject: =?utf-8?q?Compte_rendu_H=C3=A9l=C3=A8ne?=\r\nMessage-Id: " + msgID + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, ci-joint.\r\n")
	b.WriteString("--X\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''CR%20H%C3%A9l%C3%A8ne.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(b64(pdf) + "\r\n--X--\r\n")
	return b.String()
}

func TestReceiveDepositsOnceWithSidecar(t *testing.T) {
	r := newRig(t)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 3000)...)
	r.deliver(withPDF("<m1@medecin.mssante.fr>", pdf))
	r.deliver(withPDF("<m1@medecin.mssante.fr>", pdf)) // the same message twice
	names := r.run(r.opts.ImportDir, 2)
	if len(names) != 2 {
		t.Fatalf("import folder: %v (want one document and its sidecar)", names)
	}
	var docName, sideName string
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			sideName = n
		} else {
			docName = n
		}
	}
	got, _ := os.ReadFile(filepath.Join(r.opts.ImportDir, docName))
	if !bytes.Equal(got, pdf) || !strings.HasSuffix(docName, "CR Hélène.pdf") {
		t.Errorf("deposited %q not byte-identical (%d bytes)", docName, len(got))
	}
	var sc Sidecar
	data, _ := os.ReadFile(filepath.Join(r.opts.ImportDir, sideName))
	json.Unmarshal(data, &sc)
	if sc.MessageID != "<m1@medecin.mssante.fr>" || sc.Sender != "dr.martin@medecin.mssante.fr" || sc.Subject != "Compte rendu Hélène" || !strings.Contains(sc.Body, "Bonjour") || sc.File != docName {
		t.Errorf("sidecar %+v", sc)
	}
	// A restart deposits nothing more, and the INBOX is empty.
	r.run(r.opts.ImportDir, 2)
	if entries, _ := os.ReadDir(r.opts.ImportDir); len(entries) != 2 {
		t.Errorf("after restart: %d files", len(entries))
	}
}

func TestReportsAreAppliedNotDeposited(t *testing.T) {
	r := newRig(t)
	r.deliver(dsnPostfix)
	r.deliver(mdn)
	deadline := time.Now().Add(10 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, r.opts) }()
	for time.Now().Before(deadline) {
		r.notif.mu.Lock()
		n := len(r.notif.reports)
		r.notif.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if len(r.notif.reports) != 2 {
		t.Fatalf("%d reports applied, want 2", len(r.notif.reports))
	}
	if entries, _ := os.ReadDir(r.opts.ImportDir); len(entries) != 0 {
		t.Errorf("reports deposited as documents: %v", entries)
	}
}

func TestBadMailIsQuarantined(t *testing.T) {
	r := newRig(t)
	r.deliver("From: dr.martin@medecin.mssante.fr\r\nTo: " + box + "\r\nSubject: rien\r\nMessage-Id: <q1@x>\r\n\r\nPas de pièce jointe.\r\n")
	names := r.run(r.opts.QuarantineDir, 2)
	var info map[string]any
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			data, _ := os.ReadFile(filepath.Join(r.opts.QuarantineDir, n))
			json.Unmarshal(data, &info)
		}
	}
	if !strings.Contains(info["reason"].(string), "sans pièce jointe") {
		t.Errorf("reason %v", info["reason"])
	}
	if entries, _ := os.ReadDir(r.opts.ImportDir); len(entries) != 0 {
		t.Errorf("bad mail deposited: %v", entries)
	}
}
