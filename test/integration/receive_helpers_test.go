//go:build integration

package integration

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the bridge's jobs.db, read-only

	"github.com/mssbridge/mssbridge/xdm"
)

// The receiving side is tested against the Dovecot that ci/dovecot/setup.sh runs beside
// Postfix: the box's INBOX is the Maildir Postfix delivers into, and the tests put mail there
// with Dovecot's LDA. Its variables are in DIR/dovecot.env (CI_DOVECOT_ENV names another file).

// dovecotEnv is what ci/dovecot/setup.sh wrote.
type dovecotEnv struct {
	Host         string
	TLSPort      int
	StartTLSPort int
	User         string // the box: EXTERNAL's identity (the certificate's CN) and the LOGIN name
	PasswordFile string
	Conf         string // Dovecot's configuration, for the LDA and doveadm
	LDA          string
	Log          string
}

var (
	dvOnce sync.Once
	dv     dovecotEnv
	dvSkip string
)

// needDovecot skips the test unless the integration tests are on and Dovecot's env file is
// there; it fails it when the file is there but incomplete.
func needDovecot(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	dvOnce.Do(func() {
		path := os.Getenv("CI_DOVECOT_ENV")
		if path == "" {
			ciEnv := os.Getenv("CI_ENV")
			if ciEnv == "" {
				ciEnv = "/tmp/mssbridge-ci/env"
			}
			path = filepath.Join(filepath.Dir(ciEnv), "dovecot.env")
		}
		kv, err := readKV(path)
		if os.IsNotExist(err) {
			dvSkip = fmt.Sprintf("receive tests: no %s (run ci/dovecot/setup.sh after ci/postfix/setup.sh)", path)
			return
		}
		if err != nil {
			dvSkip = "FAIL " + err.Error()
			return
		}
		var missing []string
		get := func(k string) string {
			if kv[k] == "" {
				missing = append(missing, k)
			}
			return kv[k]
		}
		port := func(k string) int { n, _ := strconv.Atoi(get(k)); return n }
		dv = dovecotEnv{
			Host: get("CI_IMAP_HOST"), TLSPort: port("CI_IMAP_TLS_PORT"), StartTLSPort: port("CI_IMAP_STARTTLS_PORT"),
			User: get("CI_IMAP_USER"), PasswordFile: get("CI_IMAP_PASSWORD_FILE"), Conf: get("CI_DOVECOT_CONF"),
			LDA: get("CI_DOVECOT_LDA"), Log: get("CI_DOVECOT_LOG"),
		}
		if len(missing) > 0 {
			dvSkip = fmt.Sprintf("FAIL %s: missing %s", path, strings.Join(missing, ", "))
		}
	})
	if strings.HasPrefix(dvSkip, "FAIL ") {
		t.Fatal(strings.TrimPrefix(dvSkip, "FAIL "))
	}
	if dvSkip != "" {
		t.Skip(dvSkip)
	}
}

// readKV reads KEY=value lines (optional double quotes, # comments).
func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if line == "" || strings.HasPrefix(line, "#") || !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		kv[strings.TrimSpace(k)] = v
	}
	return kv, sc.Err()
}

// Server folders the bridge uses by default (config.go).
const (
	processedFolder  = "mssbridge-traites"
	quarantineFolder = "mssbridge-quarantaine"
)

// recvOpts says how a case's bridge logs in to the box.
type recvOpts struct {
	Security     string // tls | starttls
	Password     bool   // LOGIN with the box's password (and the certificate); else EXTERNAL
	PasswordFile string // another password file (a wrong password)
	Extra        string // more YAML under import:
}

// recvCase is a bridgeCase whose box also receives: imap endpoint on Dovecot, import folder.
type recvCase struct {
	*bridgeCase
	importDir     string
	quarantineDir string // import.quarantine's default, data_dir/quarantine
}

// newRecvCase makes a case that sends like the others (Postfix, STARTTLS) and receives from
// the box's INBOX on Dovecot. The INBOX and the bridge's server folders are emptied first:
// leftovers of other runs (thousands of DSNs for what other tests sent) are not this test's.
func newRecvCase(t *testing.T, ro recvOpts) *recvCase {
	t.Helper()
	needDovecot(t)
	c := newCase(t, goodStartTLS())
	rc := &recvCase{bridgeCase: c, importDir: filepath.Join(c.dir, "import"),
		quarantineDir: filepath.Join(c.dataDir, "quarantine")}
	port := dv.TLSPort
	if ro.Security == "starttls" {
		port = dv.StartTLSPort
	}
	var b strings.Builder
	b.WriteString("    imap:\n")
	fmt.Fprintf(&b, "      host: %s\n      port: %d\n      security: %s\n      ca_file: %s\n      cert_file: %s\n      key_file: %s\n",
		q(dv.Host), port, ro.Security, q(env.CAFile), q(env.ClientCert), q(env.ClientKey))
	if ro.Password {
		pw := dv.PasswordFile
		if ro.PasswordFile != "" {
			pw = ro.PasswordFile
		}
		fmt.Fprintf(&b, "      username: %s\n      password_file: %s\n", q(dv.User), q(pw))
	}
	b.WriteString("      mailbox: INBOX\n")
	cfg := c.config(goodStartTLS())
	if !strings.Contains(cfg, "\ninputs:\n") {
		t.Fatalf("the harness's configuration has no inputs: section to put imap: before:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "\ninputs:\n", "\n"+b.String()+"inputs:\n", 1)
	cfg += fmt.Sprintf("import:\n  path: %s\n%s", q(rc.importDir), ro.Extra)
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("check-config", "-c", c.cfgPath); code != 0 {
		t.Fatalf("check-config refuses the receiving configuration: exit %d\n%s", code, out)
	}
	for _, mb := range []string{"INBOX", processedFolder, quarantineFolder} {
		doveadm(t, true, "expunge", "-u", dv.User, "mailbox", mb, "all")
	}
	t.Cleanup(rc.diagnoseRecv) // runs before the harness's stop and diagnose
	return rc
}

// diagnoseRecv adds, on failure, what the receiving side shows.
func (rc *recvCase) diagnoseRecv() {
	if !rc.t.Failed() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n---- import folder %s ----\n", rc.importDir)
	ents, _ := os.ReadDir(rc.importDir)
	for _, e := range ents {
		fmt.Fprintf(&b, "%s\n", e.Name())
	}
	for _, mb := range []string{"INBOX", processedFolder, quarantineFolder} {
		out, _ := exec.Command("doveadm", "-c", dv.Conf, "mailbox", "status", "-u", dv.User, "messages", mb).CombinedOutput()
		fmt.Fprintf(&b, "server %s: %s", mb, out)
	}
	fmt.Fprintf(&b, "---- Dovecot log (last 30 lines) ----\n")
	if raw, err := os.ReadFile(dv.Log); err == nil {
		b.WriteString(tail(string(raw), 30))
	}
	rc.t.Log(b.String())
}

// doveadm runs doveadm on our Dovecot; lenient: errors are ignored (a folder that does not
// exist yet).
func doveadm(t *testing.T, lenient bool, args ...string) string {
	t.Helper()
	out, err := exec.Command("doveadm", append([]string{"-c", dv.Conf}, args...)...).CombinedOutput()
	if err != nil && !lenient {
		t.Fatalf("doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// onServer counts the messages with this Message-ID in a server folder of the box.
func onServer(t *testing.T, mailbox, messageID string) int {
	t.Helper()
	out := doveadm(t, true, "search", "-u", dv.User, "mailbox", mailbox, "header", "Message-ID", messageID)
	return len(strings.Fields(out)) / 2 // "GUID UID" a line
}

// deliver puts a message into the box's INBOX with Dovecot's LDA, as the operator's MTA would,
// and returns when the LDA has.
func deliver(t *testing.T, raw []byte) {
	t.Helper()
	cmd := exec.Command(dv.LDA, "-c", dv.Conf, "-d", dv.User, "-f", "expediteur@medecin.mssante.fr")
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s -d %s: %v\n%s", dv.LDA, dv.User, err, out)
	}
}

// inMsg is a message a correspondent sends to the box.
type inMsg struct {
	MessageID string // with the angle brackets
	Subject   string
	Body      string
	Parts     []inPart
}

type inPart struct {
	Name        string
	ContentType string
	Data        []byte
}

// bytes renders the message: multipart/mixed (text, then the attachments in base64), CRLF.
func (m inMsg) bytes() []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	th := textproto.MIMEHeader{}
	th.Set("Content-Type", "text/plain; charset=utf-8")
	th.Set("Content-Transfer-Encoding", "8bit")
	w, _ := mw.CreatePart(th)
	w.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n") + "\r\n"))
	for _, p := range m.Parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", mime.FormatMediaType(p.ContentType, map[string]string{"name": p.Name}))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": p.Name}))
		h.Set("Content-Transfer-Encoding", "base64")
		w, _ := mw.CreatePart(h)
		enc := base64.StdEncoding.EncodeToString(p.Data)
		for len(enc) > 76 {
			w.Write([]byte(enc[:76] + "\r\n"))
			enc = enc[76:]
		}
		w.Write([]byte(enc + "\r\n"))
	}
	mw.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Dr Jean Martin <jean.martin@medecin.mssante.fr>\r\n")
	fmt.Fprintf(&b, "To: <%s>\r\n", env.BoxAddress)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", m.MessageID)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", mw.Boundary())
	b.Write(body.Bytes())
	return b.Bytes()
}

// msgID makes a Message-ID unique to this run.
func msgID(name string) string {
	return fmt.Sprintf("<%s-%s@medecin.mssante.fr>", name, runID)
}

// xdmPatient is the patient of the XDM packages the box receives (its INS is each test's);
// privacy_test.go looks for it in the logs.
var xdmPatient = xdm.Patient{INSOID: xdm.OIDINSNIRTest, FamilyName: "DUPONT",
	GivenNames: "Marie Claire", BirthDate: "1956-03-12", Sex: "F"}

// xdmPackage builds IHE_XDM.ZIP for pdf with the project's own xdm package: the patient with
// this INS, a professional as author.
func xdmPackage(t *testing.T, pdf []byte, insValue, title string) []byte {
	t.Helper()
	patient := xdmPatient
	patient.INS = insValue
	z, err := xdm.BuildXDM(xdm.Package{
		Document: xdm.Document{
			Title:   title,
			Patient: patient,
			Author: xdm.Author{RPPS: "10001234567", FamilyName: "MARTIN", GivenName: "Jean",
				Organization: xdm.Organization{FINESS: "690000001", Name: "Cabinet du Dr Martin"}},
			PDF: pdf,
		},
		Recipients: []xdm.Recipient{{Address: env.BoxAddress}},
	})
	if err != nil {
		t.Fatalf("xdm.BuildXDM: %v", err)
	}
	return z
}

// zipOf makes a ZIP with these entries, names as given (the hostile ones included).
func zipOf(t *testing.T, entries map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(entries[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deposit is one document in the import folder with its sidecar.
type deposit struct {
	Sidecar string // path of the .json
	Doc     string // path of the document it names
	JSON    map[string]any
}

func (d deposit) messageID() string { return str(d.JSON, "message_id") }

func (d deposit) ins() string {
	p, _ := d.JSON["patient"].(map[string]any)
	return str(p, "ins")
}

// deposits reads every sidecar of the import folder (a sidecar is written last: when it is
// there, its document is whole). Temporary files (".name.….tmp") are not sidecars.
func (rc *recvCase) deposits() []deposit {
	paths, _ := filepath.Glob(filepath.Join(rc.importDir, "*.json"))
	sort.Strings(paths)
	var out []deposit
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			rc.t.Errorf("%s: not JSON: %s", p, clip(string(raw), 300))
			continue
		}
		out = append(out, deposit{Sidecar: p, Doc: filepath.Join(rc.importDir, str(m, "file")), JSON: m})
	}
	return out
}

// byMessageID counts the deposits of each Message-ID.
func byMessageID(ds []deposit) map[string]int {
	n := map[string]int{}
	for _, d := range ds {
		n[d.messageID()]++
	}
	return n
}

// waitDeposits waits until every one of the Message-IDs has at least one deposit.
func (rc *recvCase) waitDeposits(timeout time.Duration, ids ...string) {
	rc.t.Helper()
	rc.waitFor(fmt.Sprintf("%d message(s) deposited in the import folder", len(ids)), timeout, func() (bool, string) {
		n := byMessageID(rc.deposits())
		var missing []string
		for _, id := range ids {
			if n[id] == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d/%d deposited; missing %s", len(ids)-len(missing), len(ids), clip(strings.Join(missing, " "), 300))
	})
}

// checkDeposit asserts one deposit: the document byte for byte, its hash and size in the
// sidecar, the Message-ID.
func checkDeposit(t *testing.T, d deposit, messageID string, want []byte) {
	t.Helper()
	if got := d.messageID(); got != messageID {
		t.Errorf("%s: message_id %q, want %q", d.Sidecar, got, messageID)
	}
	got, err := os.ReadFile(d.Doc)
	if err != nil {
		t.Errorf("%s: the document it names: %v", d.Sidecar, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, not identical to the %d bytes sent", d.Doc, len(got), len(want))
	}
	sum := sha256.Sum256(want)
	if s := str(d.JSON, "sha256"); s != hex.EncodeToString(sum[:]) {
		t.Errorf("%s: sha256 %q, want %s", d.Sidecar, s, hex.EncodeToString(sum[:]))
	}
	if n, _ := d.JSON["size"].(float64); int(n) != len(want) {
		t.Errorf("%s: size %v, want %d", d.Sidecar, d.JSON["size"], len(want))
	}
}

// importLeftovers lists what in the import folder is neither a sidecar nor a document a
// sidecar names (temporary files of a write cut by a kill, or a document without its sidecar).
func (rc *recvCase) importLeftovers() []string {
	named := map[string]bool{}
	for _, d := range rc.deposits() {
		named[filepath.Base(d.Sidecar)] = true
		named[filepath.Base(d.Doc)] = true
	}
	ents, _ := os.ReadDir(rc.importDir)
	var out []string
	for _, e := range ents {
		if !named[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out
}

// quarantined is one refused message in data_dir/quarantine: ID.json (+ ID.eml).
type quarantined struct {
	JSON map[string]any
	EML  string // path, "" when absent
}

func (rc *recvCase) quarantined() []quarantined {
	paths, _ := filepath.Glob(filepath.Join(rc.quarantineDir, "*.json"))
	sort.Strings(paths)
	var out []quarantined
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		var m map[string]any
		if err != nil || json.Unmarshal(raw, &m) != nil {
			continue
		}
		q := quarantined{JSON: m}
		if eml := strings.TrimSuffix(p, ".json") + ".eml"; fileSize(eml) > 0 {
			q.EML = eml
		}
		out = append(out, q)
	}
	return out
}

// jobRow is one job of the bridge's store, read-only.
type jobRow struct {
	ID, SourceName, State, Delivery, DeliveryDetail, MessageID string
}

func (rc *recvCase) jobs() []jobRow {
	rc.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(rc.dataDir, "jobs.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		rc.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, source_name, state, delivery, delivery_detail, message_id FROM jobs ORDER BY id`)
	if err != nil {
		return nil // not created yet
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.ID, &j.SourceName, &j.State, &j.Delivery, &j.DeliveryDetail, &j.MessageID); err != nil {
			rc.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// journal reads data_dir/audit/journal.jsonl: one map an entry.
func (rc *recvCase) journal() []map[string]any {
	raw, _ := os.ReadFile(filepath.Join(rc.dataDir, "audit", "journal.jsonl"))
	var out []map[string]any
	for _, l := range strings.Split(string(raw), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
