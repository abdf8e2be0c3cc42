//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The audit journal verifies after real work, and names the entry when one byte is changed.
func TestAuditVerify(t *testing.T) {
	c := newCase(t, goodStartTLS())
	var docs []doc
	var rcpts []string
	for i := 0; i < 3; i++ {
		r := addr("audit", strconv.Itoa(i), "medecin.mssante.fr")
		rcpts = append(rcpts, r)
		docs = append(docs, doc{Name: fmt.Sprintf("audit-%d.pdf", i), Title: fmt.Sprintf("Compte rendu audit %d", i),
			To: []string{r}, Patient: dupont(700 + i)})
	}
	// One held as well, so the journal holds more than one kind of event.
	docs = append(docs, doc{Name: "audit-held.pdf", Title: "Compte rendu audit hors espace",
		To: []string{"dr.lambert@gmail.com"}, Patient: dupont(710)})
	pdfs := makePDFs(t, docs)
	c.start()
	for i, d := range docs {
		c.drop(d.Name, pdfs[i])
	}
	c.waitFor("the documents delivered or held", 90*time.Second, func() (bool, string) {
		got := 0
		for _, r := range rcpts {
			if m, _ := mailbox(r); len(m) > 0 {
				got++
			}
		}
		held := len(c.jobFiles("held"))
		return got == len(rcpts) && held == 1 && len(c.inputFiles()) == 0,
			fmt.Sprintf("%d/%d delivered, %d held", got, len(rcpts), held)
	})
	c.stop()

	if out, code := c.cli("audit", "verify", "-c", c.cfgPath); code != 0 {
		t.Fatalf("audit verify on an untouched journal: exit %d\n%s", code, out)
	}

	journal := filepath.Join(c.dataDir, "audit", "journal.jsonl")
	orig, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) < 3 {
		t.Fatalf("the journal has %d lines after 4 documents; want several:\n%s", len(lines), orig)
	}
	mid := len(lines) / 2
	var entry struct {
		Seq   json.RawMessage `json:"seq"`
		Event string          `json:"event"`
		Time  string          `json:"time"`
	}
	if err := json.Unmarshal(lines[mid], &entry); err != nil {
		t.Fatalf("journal line %d is not JSON: %v\n%s", mid+1, err, lines[mid])
	}
	seq := strings.Trim(string(entry.Seq), `"`)
	names := regexp.MustCompile(fmt.Sprintf(`\b(%s|%d)\b`, regexp.QuoteMeta(seq), mid+1))
	restore := func() { // called from subtests too: Errorf, not Fatal
		if err := os.WriteFile(journal, orig, 0o600); err != nil {
			t.Errorf("restoring the journal: %v", err)
		}
	}
	t.Cleanup(restore)

	t.Run("one byte changed", func(t *testing.T) {
		tampered := tamperTime(lines[mid])
		if tampered == nil {
			t.Fatalf("journal line %d has no \"time\" digit to change:\n%s", mid+1, lines[mid])
		}
		writeLines(t, journal, lines, mid, tampered)
		defer restore()
		out, code := c.cli("audit", "verify", "-c", c.cfgPath)
		if code == 0 {
			t.Fatalf("audit verify: exit 0 after line %d (seq %s) was changed:\n-%s+%s\n%s",
				mid+1, seq, lines[mid], tampered, out)
		}
		if !names.MatchString(out) {
			t.Errorf("audit verify fails but does not name entry seq %s (line %d):\n%s", seq, mid+1, out)
		}
		t.Logf("line %d (seq %s) changed; audit verify: exit %d\n%s", mid+1, seq, code, out)
	})

	t.Run("one line removed", func(t *testing.T) {
		writeLines(t, journal, lines, mid, nil)
		defer restore()
		if out, code := c.cli("audit", "verify", "-c", c.cfgPath); code == 0 {
			t.Errorf("audit verify: exit 0 after line %d (seq %s) was removed\n%s", mid+1, seq, out)
		}
	})

	t.Run("restored", func(t *testing.T) {
		// The failures above were the tampering's doing: the original verifies again.
		if out, code := c.cli("audit", "verify", "-c", c.cfgPath); code != 0 {
			t.Errorf("audit verify on the restored journal: exit %d\n%s", code, out)
		}
	})
}

// tamperTime changes one digit inside the entry's "time" value; the line stays valid JSON, so
// only the hash chain can tell.
func tamperTime(line []byte) []byte {
	loc := regexp.MustCompile(`"time"\s*:\s*"[^"0-9]*[0-9]`).FindIndex(line)
	if loc == nil {
		return nil
	}
	out := bytes.Clone(line)
	i := loc[1] - 1
	out[i] = '0' + (out[i]-'0'+1)%10
	return out
}

// writeLines writes the journal with line i replaced (nil: removed).
func writeLines(t *testing.T, path string, lines [][]byte, i int, repl []byte) {
	t.Helper()
	var b bytes.Buffer
	for j, l := range lines {
		switch {
		case j != i:
			b.Write(l)
		case repl != nil:
			b.Write(repl)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
