//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// doc is what a clinical software prints: a letter whose text layer carries the tags.
type doc struct {
	Name    string // file name in the input folder, e.g. "cr-01.pdf"
	Title   string
	To      []string
	Cc      []string
	Patient string // the #MSS-PATIENT value; empty: none
}

// insFor builds a valid INS (NIR + key): key = 97 - (NIR mod 97).
func insFor(sex, yy, mm int, dep string, commune, order int) string {
	nir := fmt.Sprintf("%d%02d%02d%s%03d%03d", sex, yy, mm, dep, commune, order)
	n, err := strconv.ParseUint(strings.NewReplacer("2A", "19", "2B", "18").Replace(nir), 10, 64)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s%02d", nir, 97-n%97)
}

// dupont is the brief's patient, born 1956-03-12 (sex 2, year 56, month 03); order varies.
func dupont(order int) string {
	return "DUPONT|Marie|1956-03-12|" + insFor(2, 56, 3, "75", 56, order)
}

// postscript is the document as a PostScript printer driver receives it: a letterhead, some
// body text, and the tags at the foot, one a line, in the standard Helvetica encoding.
func (d doc) postscript() string {
	lines := []string{
		"Centre Hospitalier Exemple - Laboratoire de biologie medicale",
		"12 rue des Tilleuls, 69000 Lyon",
		"",
		d.Title,
		"",
		"Document de test de l'integration mssbridge: " + d.Name,
		"Resultats: hemoglobine 13,2 g/dL ; leucocytes 6,1 G/L ; plaquettes 250 G/L.",
		"",
		"Dr Jeanne Biologiste",
	}
	var tags []string
	if len(d.To) > 0 {
		tags = append(tags, "#MSS-TO: "+strings.Join(d.To, ", "))
	}
	if len(d.Cc) > 0 {
		tags = append(tags, "#MSS-CC: "+strings.Join(d.Cc, ", "))
	}
	if d.Patient != "" {
		tags = append(tags, "#MSS-PATIENT: "+d.Patient)
	}
	if d.Title != "" {
		tags = append(tags, "#MSS-TITLE: "+d.Title)
	}
	var b strings.Builder
	b.WriteString("%!PS-Adobe-3.0\n%%Title: (" + psEscape(d.Name) + ")\n%%Pages: 1\n%%EndComments\n")
	b.WriteString("%%Page: 1 1\n/Helvetica findfont 11 scalefont setfont\n")
	y := 780
	for _, l := range lines {
		fmt.Fprintf(&b, "56 %d moveto (%s) show\n", y, psEscape(l))
		y -= 16
	}
	b.WriteString("/Helvetica findfont 8 scalefont setfont\n")
	y = 120
	for _, l := range tags {
		fmt.Fprintf(&b, "56 %d moveto (%s) show\n", y, psEscape(l))
		y -= 11
	}
	b.WriteString("showpage\n%%EOF\n")
	return b.String()
}

func psEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
}

// makePDFs renders the documents with Ghostscript (ps2pdf), a few at a time, and returns the
// bytes of each, in order.
func makePDFs(t *testing.T, docs []doc) [][]byte {
	t.Helper()
	dir := t.TempDir()
	out := make([][]byte, len(docs))
	errs := make([]error, len(docs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ps := filepath.Join(dir, fmt.Sprintf("%03d.ps", i))
			pdf := filepath.Join(dir, fmt.Sprintf("%03d.pdf", i))
			if err := os.WriteFile(ps, []byte(d.postscript()), 0o644); err != nil {
				errs[i] = err
				return
			}
			if o, err := exec.Command("ps2pdf", ps, pdf).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("ps2pdf %s: %v\n%s", d.Name, err, o)
				return
			}
			out[i], errs[i] = os.ReadFile(pdf)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func makePDF(t *testing.T, d doc) []byte {
	t.Helper()
	return makePDFs(t, []doc{d})[0]
}
