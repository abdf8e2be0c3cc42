package printer

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The testdata streams were captured from CUPS 2.4.2 with cups-filters 1.28 (Debian 12), read
// off the socket:
//   - cups-pdf.pjl, cups-text.pjl: a queue made with cups-filters' generic driver (`lpadmin -p
//     captest -E -v socket://127.0.0.1:19100 -m lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd`,
//     the fallback of InstallCUPS), then `lp -d captest -t "Mon CR" a.pdf` and `lp -d captest
//     t.txt` (a text file, turned into a PDF by texttopdf, whose text no reader gets back);
//   - cups-pdf-a4.pjl, cups-text-filter.pjl, cups-latin1-filter.pjl: a queue made by InstallCUPS
//     (our driver, CUPSPPD, and the text filter), then `lp -t T-a.pdf a.pdf`, and `lp -t
//     T-utf8.txt` / `lp -t T-latin1.txt` of a UTF-8 and a Latin-1 text file: the text arrives
//     as it was printed, in a PJL envelope.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pdfPart is the PDF inside a capture: from %PDF- to the last %%EOF.
func pdfPart(t testing.TB, b []byte) []byte {
	t.Helper()
	i, j := bytes.Index(b, []byte("%PDF-")), bytes.LastIndex(b, []byte("%%EOF"))
	if i < 0 || j < i {
		t.Fatal("no PDF in the capture")
	}
	return b[i : j+len("%%EOF")]
}

const samplePS = "%!PS-Adobe-3.0\n%%Title: (CR \\(echo\\) \\351chographie)\n%%For: (jdupont)\n%%EndComments\n" +
	"/Helvetica findfont 12 scalefont setfont 72 700 moveto (Bonjour) show showpage\n%%EOF\n"

func TestParse(t *testing.T) {
	cupsPDF := readTestdata(t, "cups-pdf.pjl")
	cupsText := readTestdata(t, "cups-text.pjl")
	cupsPDFA4 := readTestdata(t, "cups-pdf-a4.pjl")
	cupsTextFilter := readTestdata(t, "cups-text-filter.pjl")
	cupsLatin1 := readTestdata(t, "cups-latin1-filter.pjl")
	utf8Text := "Bonjour Hélène,\n#MSS-TO: dr.martin@hopital-test.mssante.fr\nÉté 2024 – “œuvre” €\n\fpage 2"
	bare := pdfPart(t, cupsPDF)
	// A UEL inside the document, followed by something that is not PJL, is document data.
	fakeUEL := append(append([]byte{}, bare[:len(bare)-5]...), []byte("\x1b%-12345Xstream data\n%%EOF")...)
	windowsPS := "\x1b%-12345X@PJL JOB NAME=\"Microsoft Word - CR Dupont.docx\"\r\n" +
		"@PJL SET USERNAME=\"msecretaire\"\r\n@PJL SET RESOLUTION=600\r\n" +
		"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n\x04" + strings.ReplaceAll(samplePS, "\n", "\r\n") +
		"\x04\x1b%-12345X@PJL EOJ NAME=\"Microsoft Word - CR Dupont.docx\"\r\n\x1b%-12345X"
	pcl := "\x1bE\x1b%-12345X@PJL JOB NAME = \"scan\"\r\n@PJL ENTER LANGUAGE = PCL\r\n\x1bE\x1b&l26A\x1b*t300R...\x1bE\x1b%-12345X"
	garbage := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.UintN(256))
	}
	longHeader := "\x1b%-12345X" + strings.Repeat("@PJL COMMENT padding padding padding\n", maxHeader/30) + "%PDF-1.4\n%%EOF"

	for _, tc := range []struct {
		name     string
		in       []byte
		format   Format
		body     []byte // nil: not checked
		job      string
		user     string
		language string
		empty    bool
	}{
		{name: "cups generic-pdf, a PDF", in: cupsPDF, format: PDF, body: bare, job: "Mon CR", user: "root", language: "PDF"},
		{name: "cups generic-pdf, a text file", in: cupsText, format: PDF, body: pdfPart(t, cupsText), job: "t.txt", user: "root", language: "PDF"},
		{name: "bare PDF", in: bare, format: PDF, body: bare},
		{name: "PDF with a UEL-like sequence inside", in: fakeUEL, format: PDF, body: fakeUEL},
		{name: "PDF after a stray line", in: append([]byte("\ufeffjunk\n"), bare...), format: PDF, body: bare},
		{name: "windows postscript driver", in: []byte(windowsPS), format: PostScript,
			body: []byte(strings.TrimSuffix(strings.ReplaceAll(samplePS, "\n", "\r\n"), "\r\n")),
			job:  "Microsoft Word - CR Dupont.docx", user: "msecretaire", language: "POSTSCRIPT"},
		{name: "postscript, no envelope: DSC title (Latin-1) and user", in: []byte(samplePS), format: PostScript,
			job: "CR (echo) échographie", user: "jdupont"},
		{name: "PCL", in: []byte(pcl), format: Unknown, body: []byte(pcl), job: "scan", language: "PCL"},
		{name: "our CUPS driver, a PDF", in: cupsPDFA4, format: PDF, body: pdfPart(t, cupsPDFA4), job: "T-a.pdf", user: "root", language: "PDF"},
		{name: "our CUPS driver, a UTF-8 text file", in: cupsTextFilter, format: Text, body: []byte(utf8Text),
			job: "T-utf8.txt", user: "root", language: "TEXT"},
		{name: "our CUPS driver, a Latin-1 text file", in: cupsLatin1, format: Text,
			body: []byte("Bonjour H\xe9l\xe8ne,\n#MSS-TO: x@y.mssante.fr\n\xc9t\xe9 \xe0 No\xebl"), job: "T-latin1.txt", user: "root", language: "TEXT"},
		{name: "plain text on a raw queue: indentation kept, end trimmed", in: []byte("\r\n   Bonjour\n#MSS-TO: a@b.mssante.fr\n\f\n"),
			format: Text, body: []byte("\r\n   Bonjour\n#MSS-TO: a@b.mssante.fr")},
		{name: "text in a PCL envelope", in: []byte("\x1b%-12345X@PJL JOB NAME=\"rapport\"\r\n@PJL ENTER LANGUAGE=PCL\r\nLigne 1\r\n\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X"),
			format: Text, body: []byte("Ligne 1"), job: "rapport", language: "PCL"},
		{name: "text with an escape sequence", in: []byte("Bonjour \x1b[1mgras\x1b[0m\n"), format: Unknown},
		{name: "garbage", in: garbage, format: Unknown, body: garbage},
		{name: "empty connection", in: nil, empty: true},
		{name: "PJL status query alone", in: []byte("\x1b%-12345X@PJL INFO STATUS\r\n\x1b%-12345X"), empty: true},
		{name: "envelope with nothing inside", in: []byte("\x1b%-12345X@PJL JOB NAME=\"x\"\n@PJL ENTER LANGUAGE=PDF\n\x1b%-12345X@PJL EOJ\n\x1b%-12345X"), empty: true, job: "x", language: "PDF"},
		{name: "control characters in the job name", in: []byte("\x1b%-12345X@PJL JOB NAME = \"a\x07b\tc\x1b[31m\"\n%PDF-1.4\n%%EOF"),
			format: PDF, job: "ab c[31m", body: []byte("%PDF-1.4\n%%EOF")},
		{name: "unterminated quote", in: []byte("\x1b%-12345X@PJL SET USERNAME = \"root\n%PDF-1.4\n%%EOF"),
			format: PDF, user: "root"},
		{name: "header longer than any driver", in: []byte(longHeader), format: Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Parse(tc.in)
			if s.Empty != tc.empty {
				t.Fatalf("Empty = %v, want %v", s.Empty, tc.empty)
			}
			if tc.empty {
				if s.JobName != tc.job {
					t.Errorf("JobName = %q, want %q", s.JobName, tc.job)
				}
				return
			}
			if s.Format != tc.format {
				t.Errorf("Format = %v, want %v", s.Format, tc.format)
			}
			if tc.body != nil && !bytes.Equal(s.Body, tc.body) {
				t.Errorf("Body differs: got %d bytes (%q…%q), want %d bytes", len(s.Body),
					s.Body[:min(20, len(s.Body))], s.Body[max(0, len(s.Body)-20):], len(tc.body))
			}
			if tc.format == Unknown && !bytes.Equal(s.Body, tc.in) {
				t.Errorf("an unknown stream must be kept whole")
			}
			if s.JobName != tc.job || s.User != tc.user {
				t.Errorf("job %q user %q, want %q %q", s.JobName, s.User, tc.job, tc.user)
			}
			if s.Language != tc.language {
				t.Errorf("Language = %q, want %q", s.Language, tc.language)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct {
		job  string
		f    Format
		want string
	}{
		{"Mon CR", PDF, "Mon CR.pdf"},
		{"t.txt", PDF, "t.pdf"},
		{"Microsoft Word - CR Dupont.docx", PDF, "Microsoft Word - CR Dupont.pdf"},
		{`C:\Users\sec\Documents\lettre.odt`, PostScript, "lettre.ps"},
		{"/home/x/../../etc/passwd", PDF, "passwd.pdf"},
		{"", PDF, "impression.pdf"},
		{"...", Unknown, "impression.bin"},
		{"lettre.txt", Text, "lettre.txt"},
		{"a:b*c?d", PDF, "a_b_c_d.pdf"},
		{"Résultats v1.2 final", PDF, "Résultats v1.2 final.pdf"}, // "2 final" is no extension
		{strings.Repeat("é", 80), PDF, strings.Repeat("é", 50) + ".pdf"},
	} {
		if got := FileName(tc.job, tc.f); got != tc.want {
			t.Errorf("FileName(%q) = %q, want %q", tc.job, got, tc.want)
		}
	}
}

// FuzzParse: no stream makes Parse panic, and what it returns is within what it was given.
func FuzzParse(f *testing.F) {
	f.Add(readTestdata(f, "cups-pdf.pjl"))
	f.Add([]byte(samplePS))
	f.Add([]byte("\x1b%-12345X@PJL ENTER LANGUAGE=PCL\n\x1bE"))
	f.Add([]byte("\x1b%-12345X\x1b%-12345X@PJL\n@PJL JOB NAME=\"\n%!\x04\x1b%-12345X"))
	f.Add([]byte("%%Title: (a\\"))
	f.Add(readTestdata(f, "cups-text-filter.pjl"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Parse(b)
		if len(s.Body) > len(b) {
			t.Fatalf("body longer than the stream")
		}
		if s.Format != Unknown && !bytes.Contains(b, s.Body) {
			t.Fatalf("body is not a part of the stream")
		}
		_ = FileName(s.JobName, s.Format)
	})
}
