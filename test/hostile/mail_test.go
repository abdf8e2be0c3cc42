package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/inbound"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

const xdmMeta = "IHE_XDM/SUBSET01/METADATA.XML"

// nested wraps a PDF part in depth levels of multipart/mixed.
func nested(id string, depth int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: Imbrique\r\nMessage-Id: <%s@medecin.mssante.fr>\r\nMIME-Version: 1.0\r\n", correspond, inboxAddress, id)
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"L%d\"\r\n\r\n--L%d\r\n", i, i)
	}
	p := pdfPart("profond.pdf", gen.Tagged(gen.Dupont, "Profond"))
	b.WriteString(p.header + "\r\n\r\n")
	b.Write(p.body)
	b.WriteString("\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--L%d--\r\n", i)
	}
	return b.Bytes()
}

func headed(id, headers string, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nMessage-Id: <%s@medecin.mssante.fr>\r\n%s\r\n%s", correspond, inboxAddress, id, headers, body))
}

// Every hostile message is received by inbound.Run against the operator: each is
// quarantined with a French reason (or, for an odd file name, deposited under a safe name),
// the good one is deposited, nothing is written outside the import and quarantine folders,
// and every message leaves the INBOX.
func TestHostileMailIsQuarantined(t *testing.T) {
	t.Parallel()
	r := newMailRig(t, 0)
	letter := gen.Tagged(gen.Dupont, "Courrier recu")
	many := []zipEntry{{name: xdmMeta, data: []byte("<x/>")}}
	for i := 0; i < 10_000; i++ {
		many = append(many, zipEntry{name: fmt.Sprintf("IHE_XDM/SUBSET01/F%05d.TXT", i), data: []byte("x")})
	}
	evilZip := makeZip(zipEntry{name: "lisezmoi.txt", data: []byte("ok")}, zipEntry{name: "../../../../tmp/mssbridge-pwned.txt", data: []byte("pwned")})
	cases := []struct {
		id     string
		raw    []byte
		want   string // quarantine, document
		reason string // fragment of the French reason
	}{
		{"bon", message("bon", pdfPart("CR.pdf", letter)), "document", ""},
		{"xdm-remonte", message("xdm-remonte", pdfPart("CR.pdf", letter), zipPart("IHE_XDM.ZIP",
			makeZip(zipEntry{name: xdmMeta, data: []byte("<x/>")}, zipEntry{name: "IHE_XDM/../../../evil.txt", data: []byte("pwned")}))), "quarantine", "remonte"},
		{"xdm-absolu", message("xdm-absolu", pdfPart("CR.pdf", letter), zipPart("IHE_XDM.ZIP",
			makeZip(zipEntry{name: xdmMeta, data: []byte("<x/>")}, zipEntry{name: "/etc/cron.d/evil", data: []byte("* * * * * root sh")}))), "quarantine", "absolu"},
		{"xdm-10000", message("xdm-10000", pdfPart("CR.pdf", letter), zipPart("IHE_XDM.ZIP", makeZip(many...))), "quarantine", "entrées"},
		{"xdm-bombe-annoncee", message("xdm-bombe-annoncee", pdfPart("CR.pdf", letter), zipPart("IHE_XDM.ZIP",
			makeZip(zipEntry{name: xdmMeta, zeros: 200 << 20}))), "quarantine", "annonce"},
		{"xdm-bombe-menteuse", message("xdm-bombe-menteuse", pdfPart("CR.pdf", letter), zipPart("IHE_XDM.ZIP",
			makeZip(zipEntry{name: xdmMeta, zeros: 200 << 20, lie: 1000}))), "quarantine", "taille annoncée"},
		{"zip-remonte", message("zip-remonte", pdfPart("CR.pdf", letter), zipPart("dossier.zip", evilZip)), "quarantine", "non pris en charge"},
		{"zip-bombe", message("zip-bombe", pdfPart("CR.pdf", letter), zipPart("images.zip",
			makeZip(zipEntry{name: "image.raw", zeros: 1 << 30, lie: 1000}))), "quarantine", "non pris en charge"},
		{"mime-100", nested("mime-100", 100), "quarantine", "trop profonde"},
		{"entete-sans-deux-points", headed("entete-sans-deux-points", "Subject ceci n'est pas un en-tete\r\nContent-Type: text/plain\r\n", "texte"), "quarantine", ""},
		{"entete-nul", headed("entete-nul", "Subject: a\x00b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n",
			"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"+string(b64lines(letter))+"\r\n--B--\r\n"), "document", ""},
		{"frontiere-vide", headed("frontiere-vide", "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\r\n", "--\r\nContent-Type: application/pdf\r\n\r\nx\r\n----\r\n"), "quarantine", ""},
		{"base64-invalide", message("base64-invalide", part{header: "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64", body: []byte("@@@@ ceci n'est pas du base64 !!!!")}), "quarantine", ""},
		{"charset-inconnu", message("charset-inconnu", part{header: "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=x-klingon''%E9t%E9%2F..%2Fpasswd.pdf\r\nContent-Transfer-Encoding: base64", body: b64lines(letter)},
			part{header: "Content-Type: application/pdf; name=\"=?x-unknown?Q?=E9t=E9?=.pdf\"\r\nContent-Transfer-Encoding: base64", body: b64lines(letter)}), "document", ""},
	}
	for _, c := range cases {
		r.deliver(c.raw)
	}
	recs := r.receive(len(cases), 30*time.Second)
	if len(recs) != len(cases) {
		t.Fatalf("%d records, %d messages", len(recs), len(cases))
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-26s %-10s %s\n", "message", "outcome", "reason / files")
	for i, c := range cases {
		rec := recs[i]
		detail := rec.Reason
		if rec.Kind != "quarantine" {
			detail = strings.Join(rec.Files, ", ")
		}
		fmt.Fprintf(&table, "%-26s %-10s %s\n", c.id, rec.Kind, detail)
		if rec.Kind != c.want {
			t.Errorf("%s: %s (%q), want %s", c.id, rec.Kind, rec.Reason, c.want)
			continue
		}
		if c.want == "quarantine" {
			if !strings.Contains(rec.Reason, c.reason) || !looksFrench(rec.Reason) {
				t.Errorf("%s: reason %q, want French mentioning %q", c.id, rec.Reason, c.reason)
			}
			if _, err := os.Stat(filepath.Join(r.opts.QuarantineDir, rec.ID+".json")); err != nil {
				t.Errorf("%s: no quarantine record: %v", c.id, err)
			}
		}
		for _, f := range rec.Files {
			if strings.ContainsAny(f, `/\`) || f != filepath.Base(f) || strings.HasPrefix(f, ".") {
				t.Errorf("%s: deposited under %q", c.id, f)
			}
		}
	}
	t.Log(table.String())
	if out := r.outsideFiles(); len(out) != 0 {
		t.Errorf("written outside the import and quarantine folders: %v", out)
	}
	if _, err := os.Stat("/tmp/mssbridge-pwned.txt"); err == nil {
		t.Error("a ZIP entry was extracted to /tmp")
	}
	if n := r.inboxCount(); n != 0 {
		t.Errorf("%d messages left in the INBOX", n)
	}
}

// A 50 MB attachment: over the default 40 MB message limit it is quarantined without being
// downloaded; with limits raised it is deposited byte-identical, and Parse's allocations are
// measured (reported in the log).
func TestFiftyMegabyteAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB message")
	}
	big := append([]byte("%PDF-1.7\n"), gen.Random(50<<20, 9)...)
	raw := message("gros", pdfPart("scan.pdf", big))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := inbound.Parse(raw, inbound.Limits{MaxAttachment: 60 << 20, MaxParts: 200, MaxDepth: 10})
	runtime.ReadMemStats(&after)
	if err != nil || len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0].Data, big) {
		t.Fatalf("parse: %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("inbound.Parse of a %d MB message with a 50 MB attachment: %d MB allocated (%.1f times the attachment), %d allocations",
		len(raw)>>20, alloc>>20, float64(alloc)/float64(len(big)), after.Mallocs-before.Mallocs)
	if alloc > uint64(len(big))*3/2 {
		t.Errorf("Parse allocated %d MB for a 50 MB attachment: the decoded data is copied more than once", alloc>>20)
	}
	p = nil

	r := newMailRig(t, 100<<20)
	r.deliver(raw)
	recs := r.receive(1, 30*time.Second)
	if recs[0].Kind != "quarantine" || !strings.Contains(recs[0].Reason, "trop volumineux") {
		t.Errorf("over the default limit: %s %q", recs[0].Kind, recs[0].Reason)
	}
	if _, err := os.Stat(filepath.Join(r.opts.QuarantineDir, recs[0].ID+".eml")); err == nil {
		t.Error("a message over the limit was downloaded")
	}

	r.opts.MaxMessage, r.opts.Limits = 100<<20, inbound.Limits{MaxAttachment: 60 << 20, MaxParts: 200, MaxDepth: 10}
	r.deliver(raw)
	recs = r.receive(2, 60*time.Second)
	last := recs[len(recs)-1]
	if last.Kind != "document" {
		t.Fatalf("with raised limits: %s %q", last.Kind, last.Reason)
	}
	for _, f := range last.Files {
		if strings.HasSuffix(f, ".pdf") {
			got, _ := os.ReadFile(filepath.Join(r.opts.ImportDir, f))
			if !bytes.Equal(got, big) {
				t.Errorf("deposited %d bytes, sent %d", len(got), len(big))
			}
		}
	}
}

// Received mail must not put a patient's name into the log: the import folder is shut while
// a letter named after its patient arrives, and the log is searched.
func TestReceiveLogsNoAttachmentName(t *testing.T) {
	t.Parallel()
	r := newMailRig(t, 0)
	if !shutFolder(t, r.opts.ImportDir) {
		t.Skip("cannot make a folder unwritable here")
	}
	r.deliver(message("nom", pdfPart("CR DUPONT Marie Claire.pdf", gen.Tagged(gen.Dupont, "CR"))))
	ctx, stop := runInbound(r)
	waitFor(t, 10*time.Second, "a failed deposit in the log", func() bool { return strings.Contains(r.logs.String(), "reconnecting") })
	stop()
	_ = ctx
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, "DUPONT") {
			t.Errorf("patient name in the log: %s", line)
		}
	}
}

// records' JSON for the quarantine folder says why, in French.
func quarantineReason(t *testing.T, dir, id string) string {
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return fmt.Sprint(m["reason"])
}
