package pdf

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestTooMuchSyntax(t *testing.T) {
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	const deep, many = "nested", "tokens"
	for _, tc := range []struct {
		name string
		in   string
		want string // "" or a word of the reason
	}{
		{"flat dictionary", "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj", ""},
		{"arrays at the limit", nested("[", "]", 8), ""},
		{"arrays past the limit", nested("[", "]", 9), deep},
		{"arrays with spaces", nested("[ ", " ]", 9), deep},
		{"dictionaries past the limit", nested("<</A ", ">>", 9), deep},
		{"closed between", strings.Repeat(nested("[", "]", 5), 3), ""},
		{"brackets in a string", "(" + strings.Repeat("[", 50) + ")", ""},
		{"escaped parenthesis in a string", `(a \) ` + strings.Repeat("[", 50) + `)`, ""},
		{"brackets in a comment", "%" + strings.Repeat("[", 50) + "\n[]", ""},
		{"a comment ended by CR alone", "%c\r" + nested("[", "]", 9), deep},
		{"brackets in stream data", "<< /Length 60 >>\nstream\n" + strings.Repeat("[", 50) + "\nendstream", ""},
		{"nesting after stream data", "stream\nxx\nendstream " + nested("[", "]", 9), deep},
		{"the name /stream is not the keyword", "[/stream " + nested("[", "]", 9) + "]", deep},
		{"endstream after a false start", "stream\nendstrendstream " + nested("[", "]", 9), deep},
		{"a stream that never ends (truncated: pdfcpu's to refuse)", "<< >>\nstream\n" + strings.Repeat("[", 100), ""},
		{"hex strings", strings.Repeat("<41> ", 5), ""},
		{"tokens at the limit", strings.Repeat("1\n", 50), ""},
		{"tokens past the limit", strings.Repeat("1\n", 51), many},
		{"tokens in stream data do not count", "stream\n" + strings.Repeat("1\n", 100) + "endstream", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tooMuchSyntaxBytes([]byte(tc.in), 8, 50)
			if (got == "") != (tc.want == "") || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("tooMuchSyntax = %q, want %q", got, tc.want)
			}
		})
	}
}

// A 6 MB file of small integers made pdfcpu hold 163 MB: Inspect now declines it at once.
func TestInspectDeclinesTokenFloods(t *testing.T) {
	sample := readFile(t, filepath.Join("testdata", "info.pdf"))
	i := bytes.Index(sample, []byte("endobj"))
	flood := append(append(append([]byte{}, sample[:i]...), []byte("\nendobj\n99 0 obj\n[")...), bytes.Repeat([]byte("1\n"), 600_000)...)
	flood = append(append(flood, "]\nendobj\n"...), sample[i+len("endobj"):]...)
	if _, err := InspectBytes(flood); !strings.Contains(errString(err), "tokens") {
		t.Fatalf("Inspect of a %d KB token flood: %v", len(flood)>>10, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The shared samples and the test PDFs all pass, far from the limits: the scan never keeps a
// real document's metadata from being read.
func TestRealDocumentsAreNotTooMuchSyntax(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.pdf"))
	for _, dir := range []string{"testdata", "../reading/testdata", "../reading/testdata/corpus/*"} {
		more, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
		files = append(files, more...)
	}
	if len(files) < 10 {
		t.Skipf("only %d PDFs to try", len(files))
	}
	for _, f := range files {
		if why := tooMuchSyntaxBytes(readFile(t, f), maxNesting, maxTokens/10); why != "" {
			t.Errorf("%s: %s (with a tenth of the token limit)", f, why)
		}
	}
	t.Logf("%d documents", len(files))
}

// tooMuchSyntaxBytes is tooMuchSyntax for a document in memory.
func tooMuchSyntaxBytes(b []byte, maxDepth, maxTok int) string {
	why, _ := tooMuchSyntax(bytes.NewReader(b), maxDepth, maxTok)
	return why
}
