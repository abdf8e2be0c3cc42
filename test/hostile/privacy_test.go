package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// patientStrings are what must never appear in a log line at info level or above, nor in
// the audit journal: the test patient's names, INS (written every way a letter writes it)
// and birth date, and a sentence of the letter's text.
var patientStrings = []string{
	"DUPONT", "Dupont", "Marie Claire", gen.Dupont.INS, "2 56 03 75 123 456 54", "1956-03-12", "12/03/1956",
	"revu votre patiente",
}

// A bridge run over tagged letters that name the patient in their file names, text,
// metadata-less sidecars and recipients' refusals, through every outcome (sent, deferred,
// refused, held, failed): not one log line at info level or above, nor the audit journal,
// carries the patient's identity or the letter's text.
func TestLogsCarryNoPatientData(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	r := newRig(t, rigOptions{
		reply: func(from, rcpt string) *smtp.SMTPError {
			switch {
			case strings.HasPrefix(rcpt, "inconnu"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown user " + rcpt}
			case calls.Add(1) <= 2:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		},
	})
	r.start()
	p := gen.Dupont
	r.drop("CR DUPONT Marie Claire 1956-03-12.pdf", gen.Tagged(p, "CR de Mme DUPONT"))
	r.drop("Lettre "+p.INS+".pdf", gen.Tagged(p, "Lettre"))
	r.drop("DUPONT sans destinataire.pdf", gen.Letter([]string{"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|" + p.INS, "Cher confrere, j'ai revu votre patiente ce jour."}))
	r.drop("DUPONT inconnu.pdf", gen.Letter([]string{"#MSS-TO: inconnu@medecin.mssante.fr", "#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|" + p.INS}))
	enc, _ := gen.Encrypted()
	r.drop("DUPONT chiffre.pdf", enc)
	r.drop("DUPONT notes.txt", []byte("Mme DUPONT Marie Claire, nee le 12/03/1956"))
	r.drop("DUPONT sidecar.pdf", gen.Letter([]string{"Compte rendu sans balise"}))
	dropInto(t, r.input, "DUPONT sidecar.json", []byte(`{"patient":{"family_name":"DUPONT","given_names":"Marie Claire","birth_date":"1956-03-12","ins":"`+p.INS+`"},"recipients":[{"address":"`+gen.Recipient+`"}]}`))
	waitFor(t, 20*time.Second, "every document to settle", func() bool {
		jobs := r.jobs()
		return len(jobs) == 7 && settled(jobs)
	})
	states := map[store.State]int{}
	for _, j := range r.jobs() {
		states[j.State]++
	}
	r.stopBridge()

	var leaks []string
	for _, line := range strings.Split(r.logs.String(), "\n") {
		for _, s := range patientStrings {
			if strings.Contains(line, s) {
				leaks = append(leaks, fmt.Sprintf("%q in %s", s, line))
			}
		}
	}
	journal, err := os.ReadFile(filepath.Join(r.dataDir, "audit", "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range patientStrings {
		if strings.Contains(string(journal), s) {
			leaks = append(leaks, fmt.Sprintf("%q in the audit journal", s))
		}
	}
	for _, l := range leaks {
		t.Error("patient data:", l)
	}
	lines := strings.Count(r.logs.String(), "\n")
	t.Logf("%d log lines at info and above searched for %d patient strings; jobs %v", lines, len(patientStrings), states)
	if lines < 10 {
		t.Errorf("only %d log lines: the logger did not see the run", lines)
	}
}

// After a run through every outcome (and a restart), everything under data_dir is 0600 and
// every folder 0700, the PDF reader's compilation cache included (mssbridge keeps it in
// data_dir/cache/wasm).
func TestDataDirPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: ACLs, set by the installer")
	}
	old := umask(0o022) // the usual default, which lets new files be 0644
	defer umask(old)
	r := newRig(t, rigOptions{reply: func(from, rcpt string) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "inconnu") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown"}
		}
		return nil
	}})
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{CacheDir: filepath.Join(r.dataDir, "cache", "wasm"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ex.Close()
	r.start()
	r.drop("a.pdf", gen.Tagged(gen.Dupont, "Envoye"))
	r.drop("b.pdf", gen.Letter([]string{"sans balise"}))
	r.drop("c.pdf", gen.Letter([]string{"#MSS-TO: inconnu@medecin.mssante.fr", "#MSS-PATIENT: DUPONT|Marie|1956-03-12|" + gen.Dupont.INS}))
	r.drop("d.txt", []byte("texte"))
	waitFor(t, 20*time.Second, "every document to settle", func() bool {
		jobs := r.jobs()
		return len(jobs) == 4 && settled(jobs)
	})
	r.stopBridge()
	r.start() // a restart opens the store and the journal again
	time.Sleep(300 * time.Millisecond)
	r.stopBridge()

	var bad []string
	files, dirs := 0, 0
	filepath.WalkDir(r.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(r.dataDir, p)
		switch perm := fi.Mode().Perm(); {
		case fi.IsDir():
			dirs++
			if perm != 0o700 {
				bad = append(bad, fmt.Sprintf("folder %s is %04o", rel, perm))
			}
		default:
			files++
			if perm != 0o600 {
				bad = append(bad, fmt.Sprintf("file %s is %04o", rel, perm))
			}
		}
		return nil
	})
	t.Logf("data_dir: %d files, %d folders walked", files, dirs)
	if len(bad) > 0 {
		b, _ := json.MarshalIndent(bad, "", "  ")
		t.Errorf("too open:\n%s", b)
	}
}
