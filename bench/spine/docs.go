package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// doc is one benchmark document, in memory: it is written into the bridge's input at each
// run, and built into a message for the bare client.
type doc struct {
	name string
	data []byte
}

// Recipient and patient of the generated documents. The INS is a made-up NIR whose sex, year
// and month agree with the patient line; its key is computed.
const (
	benchRecipient = "bench@medecin.mssante.fr"
	benchNIR13     = "2560375056123" // F, 1956-03, Paris, commune 056, order 123
)

func insWithKey(nir13 string) string {
	n, err := strconv.ParseInt(strings.NewReplacer("2A", "19", "2B", "18").Replace(nir13), 10, 64)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s%02d", nir13, 97-n%97)
}

// latin1PS escapes a string for a PostScript string literal in ISOLatin1Encoding.
func latin1PS(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r > 126 && r < 256:
			fmt.Fprintf(&b, "\\%03o", r)
		case r >= 256:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// benchPostScript is one PostScript job of n pages, one document per page, written the way a
// clinical application's printer driver would: a visible letter, and the #MSS- tags in white
// 6 pt text (invisible on paper, present in the text layer). demo/samples/make.py does the same.
func benchPostScript(n int) string {
	insNum := insWithKey(benchNIR13)
	var b strings.Builder
	b.WriteString(`%!PS-Adobe-3.0
/reenc { findfont dup length dict begin { 1 index /FID ne { def } { pop pop } ifelse } forall
  /Encoding ISOLatin1Encoding def currentdict end definefont pop } def
/F /Helvetica /reenc load exec /FB /Helvetica-Bold /reenc load exec
`)
	for i := 1; i <= n; i++ {
		title := fmt.Sprintf("Compte rendu de biologie n° %03d", i)
		lines := []struct {
			font  string
			size  int
			text  string
			white bool
		}{
			{"FB", 12, "Centre Hospitalier de Démonstration - Laboratoire de biologie", false},
			{"F", 9, "1 rue de l'Exemple, 69000 LYON - banc d'essai mssbridge", false},
			{"F", 11, "", false},
			{"FB", 13, title, false},
			{"F", 11, "Patiente : Mme DUPONT Marie, née le 12/03/1956", false},
			{"F", 11, fmt.Sprintf("Hémoglobine : %d,%d g/dL - Plaquettes : %d G/L", 11+i%5, i%10, 150+i), false},
			{"F", 11, "Conclusion : bilan normal.", false},
			{"F", 6, "#MSS-TO: " + benchRecipient, true},
			{"F", 6, "#MSS-PATIENT: DUPONT|Marie|1956-03-12|" + insNum, true},
			{"F", 6, "#MSS-TITLE: " + title, true},
		}
		y := 800
		for _, l := range lines {
			gray := "0"
			if l.white {
				gray = "1"
			}
			fmt.Fprintf(&b, "%s setgray /%s findfont %d scalefont setfont 56 %d moveto (%s) show\n", gray, l.font, l.size, y, latin1PS(l.text))
			y -= l.size + 8
		}
		b.WriteString("showpage\n")
	}
	return b.String()
}

// docsInfo says where the documents came from, for the report.
type docsInfo struct {
	source string // e.g. "ps2pdf (Ghostscript 10.00.0), cached in DIR"
	took   time.Duration
}

// loadDocs returns n one-page PDFs: made once with ps2pdf (one PostScript job, one output file
// per page) and cached under cacheRoot, or, without ps2pdf, n copies of fallback.
func loadDocs(n int, cacheRoot, fallback string) ([]doc, docsInfo, error) {
	start := time.Now()
	if _, err := exec.LookPath("ps2pdf"); err != nil {
		data, rerr := os.ReadFile(fallback)
		if rerr != nil {
			return nil, docsInfo{}, fmt.Errorf("ps2pdf not found and fallback %s unreadable: %w", fallback, rerr)
		}
		docs := make([]doc, n)
		for i := range docs {
			docs[i] = doc{name: fmt.Sprintf("doc-%03d.pdf", i+1), data: data}
		}
		return docs, docsInfo{source: fmt.Sprintf("ps2pdf absent: %d copies of %s", n, fallback), took: time.Since(start)}, nil
	}
	ps := benchPostScript(n)
	sum := sha256.Sum256([]byte(ps))
	dir := filepath.Join(cacheRoot, "pdfs-"+hex.EncodeToString(sum[:6]))
	gsVersion := "Ghostscript"
	if out, err := exec.Command("gs", "--version").Output(); err == nil {
		gsVersion = "Ghostscript " + strings.TrimSpace(string(out))
	}
	cached := true
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		cached = false
		if err := makeDocs(dir, ps, n); err != nil {
			return nil, docsInfo{}, err
		}
	}
	docs := make([]doc, n)
	for i := range docs {
		name := fmt.Sprintf("doc-%03d.pdf", i+1)
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, docsInfo{}, fmt.Errorf("cached documents in %s: %w (remove the folder)", dir, err)
		}
		docs[i] = doc{name: name, data: data}
	}
	how := "made"
	if cached {
		how = "cached"
	}
	return docs, docsInfo{source: fmt.Sprintf("ps2pdf (%s), %s in %s", gsVersion, how, dir), took: time.Since(start)}, nil
}

func makeDocs(dir, ps string, n int) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "making-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "bench.ps"), []byte(ps), 0o644); err != nil {
		return err
	}
	// %03d in the output name: Ghostscript's pdfwrite writes one file per page.
	cmd := exec.Command("ps2pdf", "-dPDFSETTINGS=/prepress", "bench.ps", "doc-%03d.pdf")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ps2pdf: %w\n%s", err, out)
	}
	for i := 1; i <= n; i++ {
		if fi, err := os.Stat(filepath.Join(tmp, fmt.Sprintf("doc-%03d.pdf", i))); err != nil || fi.Size() == 0 {
			return fmt.Errorf("ps2pdf did not make page %d as its own file", i)
		}
	}
	os.Remove(filepath.Join(tmp, "bench.ps"))
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return err
	}
	os.RemoveAll(dir) // a half-made folder from an interrupted run
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
