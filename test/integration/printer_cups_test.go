//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cupsQueue is the print queue the test installs (and removes) on the machine's CUPS.
const cupsQueue = "mssbridge-test"

// ensureCUPS makes sure a CUPS scheduler answers: the one already running, or a cupsd started
// here in the foreground and stopped when the test ends.
func ensureCUPS(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"cupsd", "lpadmin", "lp", "lpstat", "lpinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (.ci/run installs cups cups-client cups-bsd cups-filters)", tool)
			}
			t.Skipf("%s is not installed: install cups cups-client cups-bsd cups-filters", tool)
		}
	}
	if cupsRunning() {
		return
	}
	cmd := exec.Command("cupsd", "-f")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := filepath.Join(t.TempDir(), "cupsd.out")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cupsd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		f.Close()
	})
	deadline := time.Now().Add(15 * time.Second)
	for !cupsRunning() {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			t.Fatalf("cupsd did not answer within 15 s:\n%s", out)
		}
		time.Sleep(pollEvery)
	}
}

// cupsRunning asks the scheduler (lpstat -r exits 0 either way: its words tell).
func cupsRunning() bool {
	out, err := exec.Command("lpstat", "-r").Output()
	return err == nil && strings.TrimSpace(string(out)) == "scheduler is running"
}

// printerCase is a bridge case whose configuration has a print listener on a free port.
func printerCase(t *testing.T) (*bridgeCase, string) {
	t.Helper()
	c := newCase(t, goodStartTLS())
	listen := freeAddr(t)
	f, err := os.OpenFile(c.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "printer:\n  listen: %s\n  input: depot\n", q(listen))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return c, listen
}

// sendRaw is a print job over AppSocket, as a spooler sends it: everything, then half-close,
// then wait for the printer to hang up (it does once the job is stored).
func sendRaw(t *testing.T, addr string, data []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to the print listener: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	var sink [512]byte
	for {
		if _, err := conn.Read(sink[:]); err != nil {
			return
		}
	}
}

// pjl wraps a document as a Windows PostScript driver does.
func pjl(job, user, lang string, doc []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\x1b%%-12345X@PJL JOB NAME=\"%s\"\r\n@PJL SET USERNAME=\"%s\"\r\n@PJL ENTER LANGUAGE=%s\r\n", job, user, lang)
	b.Write(doc)
	fmt.Fprintf(&b, "\x1b%%-12345X@PJL EOJ NAME=\"%s\"\r\n\x1b%%-12345X", job)
	return b.Bytes()
}

// heldOrFailed finds the job file whose print_job is name, in held/ or failed/.
func (c *bridgeCase) printedJob(state, name string) (jobFile, bool) {
	for _, j := range c.jobFiles(state) {
		if str(j.JSON, "print_job") == name {
			return j, true
		}
	}
	return jobFile{}, false
}

// pdfText is the text poppler reads in a PDF: what a person, and our reader, gets back.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext is needed to read the delivered PDFs (.ci/run installs poppler-utils): %v", err)
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// Printing through a real CUPS queue made by `mssbridge printer install`: a tagged PDF and a
// tagged plain text file (UTF-8, accents) reach their recipients through the real Postfix, the
// text readable in the PDF the bridge made of it; a plain text file with no tags is held,
// readable, with its print job's name and user; PostScript sent raw is converted and
// delivered; junk fails with a reason; `printer uninstall` leaves no queue and no filter.
func TestPrinterCUPS(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ensureCUPS(t)
	c, listen := printerCase(t)
	t.Cleanup(func() { _ = exec.Command("lpadmin", "-x", cupsQueue).Run() })

	rcpt := addr("print", "pdf", "medecin.mssante.fr")
	rcptPS := addr("print", "ps", "medecin.mssante.fr")
	rcptTxt := addr("print", "txt", "medecin.mssante.fr")
	d := doc{Name: "cr-imprime.pdf", Title: "Compte rendu imprime " + runID, To: []string{rcpt}, Patient: dupont(301)}
	dPS := doc{Name: "cr-postscript.ps", Title: "Compte rendu PostScript " + runID, To: []string{rcptPS}, Patient: dupont(302)}
	pdf := makePDF(t, d)
	dir := t.TempDir()
	pdfPath, txtPath := filepath.Join(dir, "cr-imprime.pdf"), filepath.Join(dir, "lettre.txt")
	taggedPath := filepath.Join(dir, "cr-texte.txt")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txtPath, []byte("Bonjour,\nCeci est un courrier sans aucune étiquette MSS.\nCordialement.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What a clinical software prints to a text queue: the letter, then the tags, one a line.
	txtTitle := "Compte rendu texte " + runID
	tagged := "Centre Hospitalier Exemple – Service de cardiologie\n\n" +
		"Échographie cardiaque : fraction d'éjection à 60 %, pas d'anomalie.\n\n" +
		"Dr Hélène Lefèvre\n\n" +
		"#MSS-TO: " + rcptTxt + "\n#MSS-PATIENT: " + dupont(303) + "\n#MSS-TITLE: " + txtTitle + "\n"
	if err := os.WriteFile(taggedPath, []byte(tagged), 0o644); err != nil {
		t.Fatal(err)
	}
	filter := filepath.Join("/usr/lib/cups/filter", "mssbridge-text")
	_, statErr := os.Stat(filter)
	filterBefore := statErr == nil

	c.start()
	c.waitFor("the print listener", 30*time.Second, func() (bool, string) {
		conn, err := net.DialTimeout("tcp", listen, time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close() // an empty connection: no job
		return true, ""
	})

	out, code := c.cli("printer", "install", "--name", cupsQueue, "-c", c.cfgPath)
	if code != 0 {
		t.Fatalf("printer install: exit %d\n%s", code, out)
	}
	t.Logf("printer install:\n%s", out)
	dev, err := exec.Command("lpstat", "-v", cupsQueue).CombinedOutput()
	if err != nil || !strings.Contains(string(dev), "socket://"+listen) {
		t.Fatalf("lpstat -v %s: %v\n%s", cupsQueue, err, dev)
	}

	// Our driver: plain text goes to the listener as it was printed, through our filter.
	ppd, err := os.ReadFile("/etc/cups/ppd/" + cupsQueue + ".ppd")
	if err != nil || !bytes.Contains(ppd, []byte(`*cupsFilter2: "text/plain text/plain 0 mssbridge-text"`)) {
		t.Fatalf("the queue's PPD: %v\n%s", err, ppd)
	}
	if fi, err := os.Stat(filter); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("the text filter %s: %v %v", filter, fi, err)
	}

	pdfJob, txtJob, taggedJob := "CR-imprime-"+runID, "lettre-texte-"+runID, "cr-texte-"+runID
	for _, p := range [][]string{{pdfJob, pdfPath}, {txtJob, txtPath}, {taggedJob, taggedPath}} {
		if o, err := exec.Command("lp", "-d", cupsQueue, "-t", p[0], p[1]).CombinedOutput(); err != nil {
			t.Fatalf("lp %s: %v\n%s", p[1], err, o)
		}
	}
	// Straight to the socket: PostScript as a Windows driver sends it, and junk.
	sendRaw(t, listen, pjl("CR-postscript-"+runID, "msecretaire", "POSTSCRIPT", []byte(dPS.postscript())))
	sendRaw(t, listen, pjl("scan-"+runID, "msecretaire", "PCL", []byte("\x1bE\x1b*t300R\x1b*r1A garbage \x00\xff\x1bE")))

	c.waitFor("the printed PDF, the printed text and the PostScript at their recipients", 120*time.Second, func() (bool, string) {
		a, b, x := maildirCount(rcpt), maildirCount(rcptPS), maildirCount(rcptTxt)
		return a > 0 && b > 0 && x > 0, fmt.Sprintf("%d message(s) for %s, %d for %s, %d for %s; held %d, failed %d; lpstat: %s",
			a, rcpt, b, rcptPS, x, rcptTxt, len(c.jobFiles("held")), len(c.jobFiles("failed")), lpstatJobs())
	})
	for _, r := range []struct {
		addr  string
		title string
		text  []string // read back from the attached PDF
	}{
		{rcpt, d.Title, nil},
		{rcptPS, dPS.Title, nil},
		{rcptTxt, txtTitle, []string{"Échographie cardiaque : fraction d'éjection à 60 %, pas d'anomalie.", "Dr Hélène Lefèvre",
			"Centre Hospitalier Exemple – Service de cardiologie", "#MSS-TO: " + rcptTxt}},
	} {
		msgs, err := mailbox(r.addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Errorf("%s: %d messages, want 1", r.addr, len(msgs))
			continue
		}
		m := msgs[0]
		if len(m.PDFs) == 0 || !bytes.HasPrefix(m.PDFs[0].Data, []byte("%PDF-")) {
			t.Errorf("%s: no PDF attached", r.addr)
		} else if bytes.Contains(m.PDFs[0].Data, []byte("@PJL")) {
			t.Errorf("%s: the attached PDF still has its PJL envelope", r.addr)
		}
		if !strings.Contains(m.Subject, r.title) {
			t.Errorf("%s: Subject %q, want the title %q", r.addr, m.Subject, r.title)
		}
		if len(r.text) > 0 && len(m.PDFs) > 0 {
			got := pdfText(t, m.PDFs[0].Data)
			for _, want := range r.text {
				if !strings.Contains(got, want) {
					t.Errorf("%s: the attached PDF does not read %q; it reads:\n%s", r.addr, want, got)
				}
			}
		}
	}

	var held, failed jobFile
	c.waitFor("the text file held and the junk failed", 60*time.Second, func() (bool, string) {
		var ok1, ok2 bool
		held, ok1 = c.printedJob("held", txtJob)
		failed, ok2 = c.printedJob("failed", "scan-"+runID)
		return ok1 && ok2, fmt.Sprintf("held %d, failed %d", len(c.jobFiles("held")), len(c.jobFiles("failed")))
	})
	if u := str(held.JSON, "printed_by"); u != "root" {
		t.Errorf("held text file: printed_by %q, want root (lp ran as root)\n%s", u, held.Raw)
	}
	if !strings.HasSuffix(str(held.JSON, "file"), ".pdf") {
		t.Errorf("held text file: file %q, want a PDF (the listener lays the text out)", str(held.JSON, "file"))
	}
	// Held for want of a recipient, not because nobody can read it.
	if strings.Contains(held.Raw, "illisible") {
		t.Errorf("held text file: held as unreadable:\n%s", held.Raw)
	}
	if doc, err := os.ReadFile(filepath.Join(c.dataDir, "held", str(held.JSON, "document"))); err != nil {
		t.Errorf("held text file: %v", err)
	} else if got := pdfText(t, doc); !strings.Contains(got, "Ceci est un courrier sans aucune étiquette MSS.") {
		t.Errorf("held text file: the PDF reads:\n%s", got)
	}
	if u := str(failed.JSON, "printed_by"); u != "msecretaire" {
		t.Errorf("failed junk: printed_by %q, want msecretaire", u)
	}
	if str(failed.JSON, "last_error") == "" {
		t.Errorf("failed junk has no reason:\n%s", failed.Raw)
	}
	t.Logf("held text file:\n%s", held.Raw)
	t.Logf("junk failed with: %s", str(failed.JSON, "last_error"))

	// The journal keeps who printed.
	journal, _ := os.ReadFile(filepath.Join(c.dataDir, "audit", "journal.jsonl"))
	if !bytes.Contains(journal, []byte(`"print_user":"msecretaire"`)) || !bytes.Contains(journal, []byte(`"via":"printer"`)) {
		t.Errorf("the audit journal does not record the printed jobs' user")
	}

	// A job the bridge cannot take (stopped, restarting) is retried, not the queue stopped.
	// CUPS writes printers.conf a few seconds after a change.
	c.waitFor("the queue's error policy in printers.conf", 60*time.Second, func() (bool, string) {
		conf, _ := os.ReadFile("/etc/cups/printers.conf")
		i := bytes.Index(conf, []byte("<Printer "+cupsQueue+">"))
		if i < 0 {
			return false, "the queue is not in /etc/cups/printers.conf yet"
		}
		conf = conf[i:]
		if j := bytes.Index(conf, []byte("</Printer>")); j >= 0 {
			conf = conf[:j]
		}
		return bytes.Contains(conf, []byte("ErrorPolicy retry-job")), string(conf)
	})

	out, code = c.cli("printer", "uninstall", "--name", cupsQueue)
	if code != 0 {
		t.Fatalf("printer uninstall: exit %d\n%s", code, out)
	}
	if o, err := exec.Command("lpstat", "-p", cupsQueue).CombinedOutput(); err == nil {
		t.Errorf("the queue is still there after printer uninstall:\n%s", o)
	}
	if _, err := os.Stat(filter); err == nil && !filterBefore {
		t.Errorf("printer uninstall left the CUPS filter %s behind", filter)
	}
	out, code = c.cli("printer", "uninstall", "--name", cupsQueue)
	if code != 0 || !strings.Contains(out, "not installed") {
		t.Errorf("a second uninstall: exit %d\n%s", code, out)
	}
}

func lpstatJobs() string {
	out, _ := exec.Command("lpstat", "-o", cupsQueue, "-l").CombinedOutput()
	return strings.TrimSpace(string(out))
}
