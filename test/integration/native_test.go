//go:build integration

package integration

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/xdm"
)

// TestNativeMessage: `mssbridge send --ins` through the real Postfix delivers an MSSanté-native
// message (the PDF plus IHE_XDM.ZIP naming the patient by INS with the INS-NIR OID, whose CDA
// wraps the byte-identical PDF), which Python's independent email parser reads; and a message
// to a patient address with a wrong INS key is refused before any SMTP.
func TestNativeMessage(t *testing.T) {
	c := newCase(t, goodStartTLS())
	cfg, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	native := strings.Replace(string(cfg), "    smtp:\n", `    responsible: {rpps: "10003456781", family_name: MERCIER, given_name: Paul}
    structure: {finess: "690000001", name: "Centre Hospitalier Exemple"}
    smtp:
`, 1)
	if err := os.WriteFile(c.cfgPath, []byte(native), 0o600); err != nil {
		t.Fatal(err)
	}
	ins := insFor(2, 56, 3, "75", 56, 901)
	to := addr("native", "xdm", "medecin.mssante.fr")
	pdf := makePDF(t, doc{Name: "native.pdf", Title: "Compte rendu", Patient: "DUPONT|Marie|1956-03-12|" + ins})
	pdfPath := filepath.Join(c.dir, "Compte rendu Hélène.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := c.cli("send", "-c", c.cfgPath, "--box", "biologie", "--to", to, "--ins", ins, pdfPath)
	if code != 0 {
		t.Fatalf("send: exit %d\n%s", code, out)
	}
	var msgs []delivered
	c.waitFor("the native message in the Maildir", 60*time.Second, func() (bool, string) {
		msgs, _ = mailbox(to)
		return len(msgs) == 1, ""
	})
	raw, err := os.ReadFile(msgs[0].Path)
	if err != nil {
		t.Fatal(err)
	}

	// Go: the XDM package, its metadata and its CDA.
	zipData := attachment(t, raw, "IHE_XDM.ZIP")
	pkg, err := xdm.ParseXDM(zipData)
	if err != nil {
		t.Fatalf("IHE_XDM.ZIP does not parse back: %v", err)
	}
	if pkg.Document.Patient.INS != ins || pkg.Document.Patient.INSOID != xdm.OIDINSNIR {
		t.Errorf("patient %s (%s), want %s with the INS-NIR OID", pkg.Document.Patient.INS, pkg.Document.Patient.INSOID, ins)
	}
	if !bytes.Equal(pkg.Document.PDF, pdf) {
		t.Error("the CDA does not wrap the byte-identical PDF")
	}
	zr, _ := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	for _, f := range zr.File {
		if f.Name != "IHE_XDM/SUBSET01/METADATA.XML" {
			continue
		}
		rc, _ := f.Open()
		meta, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Contains(meta, []byte(ins+"^^^&amp;"+xdm.OIDINSNIR+"&amp;ISO")) {
			t.Errorf("METADATA.XML does not name the patient by INS with the INS-NIR OID")
		}
	}

	// Python's email package: an independent reading of filenames, subject and parts.
	if _, err := exec.LookPath("python3"); err == nil {
		script := `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
names = [p.get_filename() for p in m.iter_attachments()]
print("SUBJECT", m["subject"])
print("NAMES", "|".join(n or "" for n in names))
print("PARTS", ",".join(p.get_content_type() for p in m.walk()))
`
		out, err := exec.Command("python3", "-c", script, msgs[0].Path).CombinedOutput()
		if err != nil {
			t.Fatalf("python email: %v\n%s", err, out)
		}
		got := string(out)
		for _, want := range []string{"SUBJECT Compte rendu", "NAMES Compte rendu Hélène.pdf|IHE_XDM.ZIP", "application/pdf", "application/zip", "text/plain"} {
			if !strings.Contains(got, want) {
				t.Errorf("Python reads %q; want %q", got, want)
			}
		}
	}

	// A patient address with a wrong INS key never reaches SMTP.
	bad := ins[:13] + wrongKey(ins[13:])
	mark := fileSize(env.PostfixLog)
	out, code = c.cli("send", "-c", c.cfgPath, "--box", "biologie", "--to", bad+"@patient.mssante.fr", pdfPath)
	if code == 0 || !strings.Contains(out, "clé") {
		t.Errorf("send to a wrong-key patient address: exit %d\n%s", code, out)
	}
	time.Sleep(2 * time.Second)
	if log := readFrom(env.PostfixLog, mark); strings.Contains(log, bad) {
		t.Errorf("Postfix saw the wrong-key address:\n%s", log)
	}
}

func wrongKey(k string) string {
	if k == "01" {
		return "02"
	}
	return "01"
}

func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	f.Seek(off, io.SeekStart)
	b, _ := io.ReadAll(f)
	return string(b)
}

// attachment returns the decoded attachment with this file name.
func attachment(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	out, err := exec.Command("python3", "-c", `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
for p in m.iter_attachments():
    if p.get_filename() == sys.argv[2]:
        sys.stdout.buffer.write(p.get_content())
`, writeTemp(t, raw), name).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("no attachment %s: %v", name, err)
	}
	return out
}

func writeTemp(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "msg.eml")
	os.WriteFile(p, data, 0o600)
	return p
}
