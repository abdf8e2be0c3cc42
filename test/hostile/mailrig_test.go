package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/store"
)

const (
	inboxAddress = "noreply-bio@ch-exemple.mssante.fr"
	correspond   = "dr.martin@medecin.mssante.fr"
)

// mailRig receives one box's mail with inbound.Run against the loopback operator, as the
// bridge does, into an import folder inside a folder of its own (root): anything written
// outside the import and quarantine folders shows up in root.
type mailRig struct {
	t      *testing.T
	op     *operator.Operator
	st     *store.SQLite
	root   string
	opts   inbound.Options
	sender *mail.Client
	logs   *syncBuffer
}

func newMailRig(t *testing.T, maxMessage int64) *mailRig {
	t.Helper()
	dir := t.TempDir()
	op, err := operator.Start(context.Background(), operator.Options{Dir: filepath.Join(dir, "op"), AnySender: true, MaxMessageBytes: maxMessage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "data", "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cert, key, _ := op.IssueClient(inboxAddress)
	host, port, _ := net.SplitHostPort(op.IMAPAddr)
	p, _ := strconv.Atoi(port)
	tc, err := mail.TLSConfig(host, op.CAFile(), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	scert, skey, _ := op.IssueClient(correspond)
	shost, sport, _ := net.SplitHostPort(op.SMTPAddr)
	sp, _ := strconv.Atoi(sport)
	stc, _ := mail.TLSConfig(shost, op.CAFile(), scert, skey)
	root := filepath.Join(dir, "site")
	r := &mailRig{t: t, op: op, st: st, root: root, logs: &syncBuffer{},
		sender: mail.NewClient(mail.Endpoint{Host: shost, Port: sp, Security: mail.StartTLS, TLS: stc, Timeout: 20 * time.Second}, 1)}
	t.Cleanup(func() { r.sender.Close() })
	r.opts = inbound.Options{
		Box: "bio", Endpoint: imapbox.Endpoint{Host: host, Port: p, Security: "tls", TLS: tc, Timeout: 10 * time.Second},
		Mailbox: "INBOX", Processed: "Traites", Quarantine: "Quarantaine",
		ImportDir: filepath.Join(root, "import"), QuarantineDir: filepath.Join(root, "quarantine"),
		Ledger: st, ParseXDM: bridge.ParseXDM, IdleMax: time.Second,
		Logger: jsonLogger(r.logs),
	}
	if err := os.MkdirAll(r.opts.ImportDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *mailRig) deliver(raw []byte) {
	r.t.Helper()
	if _, err := r.sender.Send(context.Background(), mail.Envelope{From: correspond, To: []string{inboxAddress}, Data: raw}); err != nil {
		r.t.Fatalf("deliver: %v", err)
	}
}

// receive runs inbound.Run until n messages are done (or within passes), then stops it.
func (r *mailRig) receive(n int, within time.Duration) []store.Received {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inbound.Run(ctx, r.opts) }()
	defer func() { cancel(); <-done }()
	waitFor(r.t, within, fmt.Sprintf("%d received messages done", n), func() bool {
		return len(r.records("done")) >= n
	})
	return r.records("")
}

// records lists the ledger oldest first (by UID).
func (r *mailRig) records(state string) []store.Received {
	recs, err := r.st.ListReceived(context.Background(), "bio", state, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].UID < recs[j].UID })
	return recs
}

// inboxCount is the number of messages left in the box's INBOX.
func (r *mailRig) inboxCount() int {
	r.t.Helper()
	cn, err := imapbox.Dial(context.Background(), r.opts.Endpoint, "INBOX")
	if err != nil {
		r.t.Fatal(err)
	}
	defer cn.Close()
	msgs, err := cn.List(context.Background(), "")
	if err != nil {
		r.t.Fatal(err)
	}
	return len(msgs)
}

// outsideFiles lists what exists under root other than the import and quarantine folders'
// direct children: a deposit that escaped its folder.
func (r *mailRig) outsideFiles() []string {
	var out []string
	filepath.WalkDir(r.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == r.root {
			return nil
		}
		rel, _ := filepath.Rel(r.root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		ok := (parts[0] == "import" || parts[0] == "quarantine") && (len(parts) == 1 || len(parts) == 2 && !d.IsDir())
		if !ok {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// --- hostile messages ------------------------------------------------------------------

type part struct {
	header string // Content-Type and the rest, CRLF-separated, without the blank line
	body   []byte // already encoded as the header says
}

func pdfPart(name string, data []byte) part {
	return part{
		header: "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64",
		body:   b64lines(data),
	}
}

func zipPart(name string, data []byte) part {
	return part{
		header: "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64",
		body:   b64lines(data),
	}
}

func b64lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	b.Grow(len(enc) + len(enc)/76*2 + 2)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.Bytes()
}

// message is a multipart/mixed message with a short text and parts.
func message(id string, parts ...part) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: Courrier %s\r\nMessage-Id: <%s@medecin.mssante.fr>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0100\r\n", correspond, inboxAddress, id, id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B0\"\r\n\r\n--B0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, ci-joint.\r\n")
	for _, p := range parts {
		b.WriteString("--B0\r\n" + p.header + "\r\n\r\n")
		b.Write(p.body)
		b.WriteString("\r\n")
	}
	b.WriteString("--B0--\r\n")
	return b.Bytes()
}

type zipEntry struct {
	name  string
	data  []byte
	zeros int64 // when > 0, the entry is this many zero bytes (written in chunks)
	// lie, when not 0, is the uncompressed size the headers declare instead of the real one.
	lie uint64
}

func (e zipEntry) writeTo(w io.Writer) {
	if e.zeros == 0 {
		w.Write(e.data)
		return
	}
	chunk := make([]byte, 1<<20)
	for left := e.zeros; left > 0; left -= int64(len(chunk)) {
		w.Write(chunk[:min(int64(len(chunk)), left)])
	}
}

func makeZip(entries ...zipEntry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		if e.lie == 0 {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
			e.writeTo(w)
			continue
		}
		// A raw entry whose headers lie about its size: what a crafted bomb does.
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.BestSpeed)
		e.writeTo(fw)
		fw.Close()
		w, _ := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate,
			CompressedSize64: uint64(c.Len()), UncompressedSize64: e.lie})
		w.Write(c.Bytes())
	}
	zw.Close()
	return b.Bytes()
}

func jsonLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
