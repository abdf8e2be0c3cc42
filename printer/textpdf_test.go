package printer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mssbridge/mssbridge/pdf"
)

func TestTextToPDFHasAnExactTextLayer(t *testing.T) {
	text := "Résultats de biologie (œdème) – 13,2 g/dL \\ fin\r\n\r\n#MSS-TO: dr.martin@medecin.mssante.fr\n#MSS-PATIENT: DUPRÉ|Jeanne|1956-03-12\n" +
		strings.Repeat("x", 200) + "\fpage deux\n"
	latin1 := []byte("Cher confr\xe8re, \x80 \x9c\n")
	for _, in := range [][]byte{[]byte(text), latin1} {
		if !LooksLikeText(in) {
			t.Fatalf("not seen as text: %q", in)
		}
	}
	out, err := TextToPDF([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := pdf.NewExtractor(context.Background(), pdf.ExtractorOptions{CacheDir: filepath.Join(os.TempDir(), "mssbridge-test-wasm")})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	pages, err := ex.Text(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2 (the form feed)", len(pages))
	}
	for _, want := range []string{"Résultats de biologie (œdème) - 13,2 g/dL \\ fin", "#MSS-TO: dr.martin@medecin.mssante.fr", "#MSS-PATIENT: DUPRÉ|Jeanne|1956-03-12"} {
		if !strings.Contains(pages[0].Text, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, pages[0].Text)
		}
	}
	if !strings.Contains(pages[1].Text, "page deux") {
		t.Errorf("page 2: %q", pages[1].Text)
	}
	if path, err := exec.LookPath("pdftotext"); err == nil {
		f := filepath.Join(t.TempDir(), "t.pdf")
		os.WriteFile(f, out, 0o600)
		got, err := exec.Command(path, f, "-").Output()
		if err != nil || !bytes.Contains(got, []byte("#MSS-TO: dr.martin@medecin.mssante.fr")) {
			t.Errorf("poppler reads %q (%v)", got, err)
		}
	}
	if _, err := pdf.InspectBytes(out); err != nil {
		t.Errorf("pdfcpu refuses the PDF: %v", err)
	}
	bin := []byte("\x1bE\x1b*t300R garbage")
	if LooksLikeText(bin) {
		t.Error("PCL seen as text")
	}
}
