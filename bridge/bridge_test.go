package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/watcher"
)

// lineReader stands in for the PDF reader: the document's "TO:" line gives the recipient.
// The pipeline, not reading, is under test here.
type lineReader struct{}

func (lineReader) Read(_ context.Context, path, _ string) (reading.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return reading.Result{}, err
	}
	res := reading.Result{Decision: reading.DecisionSend, Pages: 1, TextLayer: true,
		Patient:  reading.Patient{FamilyName: "DUPONT", GivenNames: "Marie", BirthDate: "1956-03-12"},
		Document: reading.Document{Title: "Compte rendu"}}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "INS:"); ok {
			res.Patient.INS, res.Patient.INSKeyValid, res.Patient.Sex = strings.TrimSpace(v), true, "F"
		}
		if a, ok := strings.CutPrefix(line, "TO:"); ok {
			res.Recipients = append(res.Recipients, reading.Recipient{Address: strings.TrimSpace(a), Role: reading.RoleTo, Source: reading.SourceTag})
		}
	}
	if len(res.Recipients) == 0 {
		res.Decision, res.Reasons = reading.DecisionHold, []string{reading.ReasonNoRecipient}
	}
	return res, nil
}

type harness struct {
	now   func() time.Time // the bridge's clock; time.Now when nil
	t     *testing.T
	op    *operator.Operator
	cfg   *config.Config
	input string
	b     *Bridge
	stop  context.CancelFunc
	done  chan error
}

func newHarness(t *testing.T, reply func(from, rcpt string) *smtp.SMTPError) *harness {
	return newHarnessWith(t, reply, "")
}

func newHarnessWith(t *testing.T, reply func(from, rcpt string) *smtp.SMTPError, boxExtra string) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	op, err := operator.Start(ctx, operator.Options{Dir: filepath.Join(dir, "operator"), Reply: reply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	box := "noreply-bio@ch-exemple.mssante.fr"
	cert, key, err := op.IssueClient(box)
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, op.SMTPAddr)
	input := filepath.Join(dir, "in")
	yaml := fmt.Sprintf(`data_dir: %s
boxes:
  - id: bio
    address: %s
    smtp: {host: %s, port: %s, security: starttls, ca_file: %s, cert_file: %s, key_file: %s}
%s
inputs:
  - {id: depot, path: %s, box: bio}
routing:
  default_action: send
watch: {quiet: 100ms, rescan: 300ms}
sending: {retry_initial: 200ms, retry_max: 1s, timeout: 5s}
`, filepath.Join(dir, "data"), box, host, port, op.CAFile(), cert, key, boxExtra, input)
	cfgPath := filepath.Join(dir, "mssbridge.yaml")
	os.WriteFile(cfgPath, []byte(yaml), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, op: op, cfg: cfg, input: input}
}

func splitAddr(t *testing.T, addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

func (h *harness) start() {
	h.t.Helper()
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}, Now: h.now})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.b, h.stop, h.done = b, cancel, make(chan error, 1)
	go func() { h.done <- b.Run(ctx) }()
	h.t.Cleanup(h.shutdown)
}

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.t.Error("bridge did not stop within 10 s")
	}
	h.b.Close()
	h.stop = nil
}

func (h *harness) drop(name, content string) {
	h.t.Helper()
	if err := os.MkdirAll(h.input, 0o700); err != nil {
		h.t.Fatal(err)
	}
	tmp := filepath.Join(h.input, "."+name+".part")
	os.WriteFile(tmp, []byte(content), 0o600)
	if err := os.Rename(tmp, filepath.Join(h.input, name)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) waitState(state store.State, n int) []store.Job {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		jobs, err := h.b.Store().List(context.Background(), store.Filter{States: []store.State{state}})
		if err == nil && len(jobs) >= n {
			return jobs
		}
		time.Sleep(50 * time.Millisecond)
	}
	all, _ := h.b.Store().List(context.Background(), store.Filter{})
	for _, j := range all {
		h.t.Logf("job %s %s tries=%d err=%s", j.ID, j.State, j.Tries, j.LastError)
	}
	h.t.Fatalf("no %d job(s) in state %s after 15 s", n, state)
	return nil
}

func pdfLike(to string) string {
	return "%PDF-1.4\nTO:" + to + "\n" + strings.Repeat("x", 100) + "\n%%EOF\n"
}

func TestDropIsDeliveredByteIdentical(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	doc := pdfLike("paul.mercier@medecin.mssante.fr")
	h.drop("CR Hélène.pdf", doc)
	jobs := h.waitState(store.StateSent, 1)
	ds := h.op.Deliveries()
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.MessageID != jobs[0].MessageID {
		t.Errorf("delivered Message-ID %s, job has %s", d.MessageID, jobs[0].MessageID)
	}
	if d.MailOpts.EnvelopeID != jobs[0].ID || len(d.RcptNotify["paul.mercier@medecin.mssante.fr"]) != 2 {
		t.Errorf("DSN not requested: envid=%q notify=%v", d.MailOpts.EnvelopeID, d.RcptNotify)
	}
	if jobs[0].DSN != "requested" {
		t.Errorf("job DSN = %q", jobs[0].DSN)
	}
	if !bytes.Contains(d.Data, []byte("filename*=utf-8''CR%20H%C3%A9l%C3%A8ne.pdf")) {
		t.Errorf("attachment name not RFC 2231 in:\n%s", d.Data[:min(len(d.Data), 1500)])
	}
	if entries, _ := os.ReadDir(h.input); len(entries) != 0 {
		t.Errorf("input not empty: %v", entries)
	}
	h.noSpoolLeft()
	archived, err := filepath.Glob(filepath.Join(h.cfg.DataDir, "sent", "*", jobs[0].ID+".pdf"))
	if err != nil || len(archived) != 1 {
		t.Fatalf("archive: %v %v", archived, err)
	}
	if got, _ := os.ReadFile(archived[0]); string(got) != doc {
		t.Error("archived document differs from the dropped one")
	}
	h.shutdown()
	rep, err := audit.Verify(filepath.Join(h.cfg.DataDir, "audit", "journal.jsonl"))
	if err != nil || rep.Entries < 4 {
		t.Errorf("audit verify: %+v %v", rep, err)
	}
	journal, _ := os.ReadFile(filepath.Join(h.cfg.DataDir, "audit", "journal.jsonl"))
	if bytes.Contains(journal, []byte("DUPONT")) || bytes.Contains(journal, []byte("Dupont")) {
		t.Error("patient name in the audit journal")
	}
}

func TestOutOfTrustIsHeldAndNeverSent(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.drop("a.pdf", pdfLike("dr.lambert@gmail.com"))
	jobs := h.waitState(store.StateHeld, 1)
	var held map[string]any
	data, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "held", jobs[0].ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &held)
	if !strings.Contains(fmt.Sprint(held["reasons"]), "hors de l'espace de confiance") {
		t.Errorf("held reasons: %v", held["reasons"])
	}
	if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "held", jobs[0].ID+".pdf")); err != nil {
		t.Errorf("held pdf missing: %v", err)
	}
	if n := len(h.op.Deliveries()); n != 0 {
		t.Errorf("%d deliveries for an out-of-trust recipient", n)
	}
	// A human may not release it to the same address either.
	if _, err := h.b.Release(context.Background(), jobs[0].ID, ReleaseOptions{}); err == nil {
		t.Error("release to an out-of-trust address accepted")
	}
	// Released to a professional in the trust space, it goes.
	if _, err := h.b.Release(context.Background(), jobs[0].ID, ReleaseOptions{To: []string{"paul.mercier@medecin.mssante.fr"}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(store.StateSent, 1)
	if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "held", jobs[0].ID+".json")); !os.IsNotExist(err) {
		t.Errorf("held json left after release: %v", err)
	}
}

func TestTemporaryThenSuccessKeepsMessageID(t *testing.T) {
	var calls atomic.Int32
	h := newHarness(t, func(from, rcpt string) *smtp.SMTPError {
		if calls.Add(1) <= 2 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	jobs := h.waitState(store.StateSent, 1)
	if jobs[0].Tries != 3 {
		t.Errorf("tries = %d, want 3", jobs[0].Tries)
	}
	if ds := h.op.Deliveries(); len(ds) != 1 || ds[0].MessageID != jobs[0].MessageID {
		t.Errorf("deliveries %d", len(ds))
	}
	h.noSpoolLeft() // nor after the two deferred tries
}

func TestPermanentGoesToFailed(t *testing.T) {
	h := newHarness(t, func(from, rcpt string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	})
	h.start()
	h.drop("a.pdf", pdfLike("nobody@medecin.mssante.fr"))
	jobs := h.waitState(store.StateFailed, 1)
	data, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "failed", jobs[0].ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var failed map[string]any
	json.Unmarshal(data, &failed)
	if !strings.Contains(fmt.Sprint(failed["server_reply"]), "550 5.1.1") || failed["tries"] != float64(1) {
		t.Errorf("failed json: %s", data)
	}
	if !strings.Contains(fmt.Sprint(failed["last_error"]), "refusé le destinataire") {
		t.Errorf("last_error not in plain French: %v", failed["last_error"])
	}
	h.noSpoolLeft()
}

// noSpoolLeft: the package and message a send writes in the spool are gone once it is over.
func (h *harness) noSpoolLeft() {
	h.t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.cfg.DataDir, "spool"))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			h.t.Errorf("left in the spool after the send: %s", e.Name())
		}
	}
}

func TestRestartResendsInterruptedSendWithSameMessageID(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	jobs := h.waitState(store.StateSent, 1)
	h.shutdown()
	// Simulate a crash after the server accepted but before the store said so.
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	id := jobs[0].ID
	archived, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "sent", "*", id+".pdf"))
	os.Rename(archived[0], filepath.Join(h.cfg.DataDir, "spool", id+".pdf"))
	b.Store().Update(context.Background(), id, func(j *store.Job) error { j.State = store.StateSending; return nil })
	b.Close()
	h.start()
	h.waitState(store.StateSent, 1)
	deadline := time.Now().Add(10 * time.Second)
	for len(h.op.Deliveries()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ds := h.op.Deliveries()
	if len(ds) != 2 || ds[0].MessageID != ds[1].MessageID {
		t.Fatalf("want the same message twice with one Message-ID, got %d deliveries", len(ds))
	}
}

func TestNotAPDFGoesToFailedKeepingTheFile(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.drop("notes.txt", "just text")
	jobs := h.waitState(store.StateFailed, 1)
	kept, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "failed", jobs[0].ID+".original.txt"))
	if err != nil || string(kept) != "just text" {
		t.Fatalf("the file was not kept in failed/: %v", err)
	}
	if !strings.Contains(jobs[0].LastError, "n'est pas un PDF") {
		t.Errorf("reason %q", jobs[0].LastError)
	}
}

func TestDeliveryReports(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.drop("a.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	h.drop("b.pdf", pdfLike("paul.mercier@medecin.mssante.fr"))
	jobs := h.waitState(store.StateSent, 2)
	ctx := context.Background()
	ok, bad := jobs[0], jobs[1]
	if _, err := h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "dsn", OriginalEnvelopeID: ok.ID,
		Recipients: []inbound.RecipientStatus{{Recipient: "paul.mercier@medecin.mssante.fr", Action: "delivered", Status: "2.0.0"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "mdn", OriginalMessageID: ok.MessageID, Disposition: "displayed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "dsn", OriginalMessageID: bad.MessageID,
		Recipients: []inbound.RecipientStatus{{Recipient: "paul.mercier@medecin.mssante.fr", Action: "failed", Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 unknown"}}}); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.b.Store().Get(ctx, ok.ID); j.State != store.StateSent || j.Delivery != "read" {
		t.Errorf("delivered+read job: %s %s", j.State, j.Delivery)
	}
	j, _ := h.b.Store().Get(ctx, bad.ID)
	if j.State != store.StateFailed || j.Delivery != "failed" || !strings.Contains(j.LastError, "n'a pas pu être remis") {
		t.Errorf("bounced job: %s %s %q", j.State, j.Delivery, j.LastError)
	}
	for _, ext := range []string{".pdf", ".json"} {
		if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "failed", bad.ID+ext)); err != nil {
			t.Errorf("failed/%s%s: %v", bad.ID, ext, err)
		}
	}
	if _, err := h.b.ApplyReport(ctx, "bio", inbound.Report{Kind: "dsn", OriginalEnvelopeID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestXDMAttachedWhenINSKnownAndReadBack(t *testing.T) {
	h := newHarnessWith(t, nil, `    responsible: {rpps: "10003456781", family_name: MERCIER, given_name: Paul}
    structure: {finess: "690000001", name: "CH Exemple"}
    ins_oid: test`)
	h.start()
	h.drop("with-ins.pdf", "%PDF-1.4\nINS:256036912304545\nTO:paul.mercier@medecin.mssante.fr\n%%EOF\n")
	h.drop("without.pdf", "%PDF-1.4\nTO:paul.mercier@medecin.mssante.fr\n%%EOF\n")
	h.waitState(store.StateSent, 2)
	var with, without []byte
	for _, d := range h.op.Deliveries() {
		if bytes.Contains(d.Data, []byte("with-ins.pdf")) {
			with = d.Data
		} else {
			without = d.Data
		}
	}
	if !bytes.Contains(with, []byte("IHE_XDM.ZIP")) {
		t.Fatal("no IHE_XDM.ZIP with a known INS")
	}
	if bytes.Contains(without, []byte("IHE_XDM.ZIP")) {
		t.Error("IHE_XDM.ZIP sent without an INS")
	}
	p, err := inbound.Parse(with, inbound.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Attachments {
		if a.Filename != "IHE_XDM.ZIP" {
			continue
		}
		meta, err := ParseXDM(a.Data)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Patient.INS != "256036912304545" || meta.Patient.FamilyName != "DUPONT" || len(meta.Documents) != 1 {
			t.Errorf("read back: %+v", meta.Patient)
		}
		if !bytes.HasPrefix(meta.Documents[0].Data, []byte("%PDF-1.4")) {
			t.Error("PDF inside the CDA differs")
		}
		return
	}
	t.Fatal("attachment not found when parsing")
}

func TestMessageToPatientClosesConversation(t *testing.T) {
	h := newHarnessWith(t, nil, "    reply_to: secretariat@ch-exemple.mssante.fr")
	h.cfg.Routing.Rules = []config.Rule{{Name: "patient", When: config.Condition{Input: "depot"}, ToPatient: true, CloseConversation: true, ReadReceipt: true, Action: "send"}}
	h.start()
	h.drop("a.pdf", "%PDF-1.4\nINS:256036912304545\n%%EOF\n")
	h.waitState(store.StateSent, 1)
	d := h.op.Deliveries()[0]
	if len(d.To) != 1 || d.To[0] != "256036912304545@patient.mssante.fr" {
		t.Fatalf("to %v", d.To)
	}
	for _, want := range []string{"Subject: [FIN]", "X-Mss-Mes: FIN", "Reply-To: secretariat@ch-exemple.mssante.fr", "Disposition-Notification-To: noreply-bio@ch-exemple.mssante.fr", "Mon Espace Sant"} {
		if !bytes.Contains(bytes.ReplaceAll(d.Data, []byte("=\r\n"), nil), []byte(want)) && !bytes.Contains(d.Data, []byte(strings.ToLower(want))) {
			t.Errorf("message lacks %q", want)
		}
	}
}

func TestSendNowRefusesWrongPatientKeyBeforeSMTP(t *testing.T) {
	h := newHarness(t, nil)
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := filepath.Join(t.TempDir(), "a.pdf")
	os.WriteFile(f, []byte("%PDF-1.4\n%%EOF\n"), 0o600)
	_, err = b.SendNow(context.Background(), f, SendNowOptions{Box: "bio", To: []string{"256036912304546@patient.mssante.fr"}})
	if err == nil || !strings.Contains(err.Error(), "clé") {
		t.Fatalf("err = %v, want a wrong-key refusal", err)
	}
	if n := len(h.op.Deliveries()); n != 0 {
		t.Errorf("%d deliveries", n)
	}
}

func TestPatientRefusalInPlainWords(t *testing.T) {
	for reply, want := range map[string]string{
		"550 5.1.1 unknown user":            "n'existe pas",
		"550 5.7.1 messagerie fermée":       "fermée",
		"550 5.1.3 INS invalide (clé)":      "INS n'est pas valide",
		"554 5.0.0 something else entirely": "refusé par l'opérateur",
	} {
		if got := PatientRefusal(reply); !strings.Contains(got, want) {
			t.Errorf("PatientRefusal(%q) = %q, want %q", reply, got, want)
		}
	}
}

func TestSubmitPrintedKeepsJobNameAndUser(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	id, err := h.b.SubmitPrinted(context.Background(), "depot", "courrier.pdf", []byte(pdfLike("paul.mercier@medecin.mssante.fr")), PrintInfo{JobName: "Lettre Dupont", User: "secretariat"})
	if err != nil {
		t.Fatal(err)
	}
	jobs := h.waitState(store.StateSent, 1)
	if jobs[0].ID != id || jobs[0].PrintJob != "Lettre Dupont" || jobs[0].PrintUser != "secretariat" {
		t.Errorf("job %+v", jobs[0])
	}
}

func TestPrintedPostScriptIsHeldWithTheListenersNote(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	note := "Document PostScript reçu de l'imprimante : Ghostscript n'est pas installé sur ce poste pour le convertir en PDF"
	if _, err := h.b.SubmitPrinted(context.Background(), "depot", "impression.ps", []byte("%!PS-Adobe-3.0\nshowpage\n"), PrintInfo{JobName: "CR", User: "sec", Note: note}); err != nil {
		t.Fatal(err)
	}
	jobs := h.waitState(store.StateHeld, 1)
	if jobs[0].LastError != note {
		t.Errorf("reason %q", jobs[0].LastError)
	}
	if _, err := h.b.SubmitPrinted(context.Background(), "depot", "impression.bin", []byte("\x1bE PCL"), PrintInfo{Note: "Impression reçue dans un format qui n'est ni PDF ni PostScript (PCL)"}); err != nil {
		t.Fatal(err)
	}
	if f := h.waitState(store.StateFailed, 1); !strings.Contains(f[0].LastError, "ni PDF ni PostScript") {
		t.Errorf("reason %q", f[0].LastError)
	}
}

// A claim interrupted while the whole input folder was gone (a share unmounted) is not a
// vanished document: the row is forgotten, nothing lands in failed/, and the document, still
// on the share, is claimed anew when the folder is back.
func TestInterruptedClaimOnAVanishedInputFolderIsForgotten(t *testing.T) {
	h := newHarness(t, nil)
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	in := h.cfg.Inputs[0]
	j := store.Job{ID: store.NewID(time.Now()), Input: in.ID, Box: in.Box, SourceName: "a.pdf",
		State: store.StateClaiming, MessageID: "<x@test>", CreatedAt: time.Now()}
	if err := b.Store().Create(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	b.Close()
	share := h.input + ".away" // the input folder is not there: the share is elsewhere
	os.RemoveAll(h.input)
	if err := os.MkdirAll(share, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(share, "a.pdf"), []byte(pdfLike("paul.mercier@medecin.mssante.fr")), 0o600)

	b, err = Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	left, _ := b.Store().List(context.Background(), store.Filter{})
	b.Close()
	if len(left) != 0 {
		t.Errorf("jobs after recovery: %+v, want none", left)
	}
	if failed, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "failed", "*")); len(failed) != 0 {
		t.Errorf("failed/ holds %v for a document still on the share", failed)
	}

	// The share is back: the document is claimed and sent.
	os.RemoveAll(h.input)
	if err := os.Rename(share, h.input); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.waitState(store.StateSent, 1)
}

// A PDF that fits the box's size limit alone but not with its IHE XDM package (which carries
// it again) is sent alone rather than failed; one that does not fit alone fails.
func TestXDMLeftOutWhenTheMessageWouldBeTooLarge(t *testing.T) {
	h := newHarnessWith(t, nil, `    responsible: {rpps: "10003456781", family_name: MERCIER, given_name: Paul}
    structure: {finess: "690000001", name: "CH Exemple"}
    ins_oid: test
    max_message_size: 200KB`)
	h.start()
	// Incompressible filler: the package cannot shrink the second copy.
	rng := rand.New(rand.NewPCG(1, 2))
	filler := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('!' + rng.IntN(90))
		}
		return string(b)
	}
	head := "%PDF-1.4\nINS:256036912304545\nTO:paul.mercier@medecin.mssante.fr\n"
	h.drop("fits-alone.pdf", head+filler(90_000)+"\n%%EOF\n") // 120 KB alone, about 240 KB with XDM
	h.drop("too-large.pdf", head+filler(160_000)+"\n%%EOF\n") // 213 KB alone
	h.waitState(store.StateSent, 1)
	h.waitState(store.StateFailed, 1)
	ds := h.op.Deliveries()
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	if !bytes.Contains(ds[0].Data, []byte("fits-alone.pdf")) || bytes.Contains(ds[0].Data, []byte("IHE_XDM.ZIP")) {
		t.Errorf("delivered: the PDF that fits alone, without its package? fits=%v xdm=%v",
			bytes.Contains(ds[0].Data, []byte("fits-alone.pdf")), bytes.Contains(ds[0].Data, []byte("IHE_XDM.ZIP")))
	}
	h.noSpoolLeft()
}

// A file listed in the input folder whose path, at the claim, holds another folder (a share
// unmounted, its empty mount point left) is not "vanished": the claim is forgotten, nothing
// lands in failed/, and the file is claimed when the share is back. The same folder without
// the file is a vanished document, said in failed/.
func TestClaimOnAnotherFolderAtTheInputPathIsForgotten(t *testing.T) {
	h := newHarness(t, nil)
	b, err := Open(context.Background(), Options{Config: h.cfg, Reader: lineReader{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.MkdirAll(h.input, 0o700); err != nil {
		t.Fatal(err)
	}
	share, err := os.Stat(t.TempDir()) // the folder the watcher listed, now out of reach
	if err != nil {
		t.Fatal(err)
	}
	in := h.cfg.Inputs[0]
	r := watcher.Ready{InputID: in.ID, Path: filepath.Join(h.input, "a.pdf"), Size: 10, Folder: share}
	if err := b.Claim(context.Background(), r); err == nil {
		t.Fatal("a claim whose file is out of reach succeeded")
	}
	jobs, _ := b.Store().List(context.Background(), store.Filter{})
	failed, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "failed", "*.json"))
	if len(jobs) != 0 || len(failed) != 0 {
		t.Fatalf("jobs %d, failed/ %v: want the claim forgotten", len(jobs), failed)
	}

	r.Folder, _ = os.Stat(h.input) // the same folder, the file gone: vanished
	b.Claim(context.Background(), r)
	if failed, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "failed", "*.json")); len(failed) != 1 {
		t.Errorf("a vanished document in the same folder: failed/ %v, want its trace", failed)
	}
}
