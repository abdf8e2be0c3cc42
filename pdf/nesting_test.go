package pdf

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"flat dictionary", "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj", false},
		{"arrays at the limit", nested("[", "]", 8), false},
		{"arrays past the limit", nested("[", "]", 9), true},
		{"arrays with spaces", nested("[ ", " ]", 9), true},
		{"dictionaries past the limit", nested("<</A ", ">>", 9), true},
		{"closed between", strings.Repeat(nested("[", "]", 5), 100), false},
		{"brackets in a string", "(" + strings.Repeat("[", 50) + ")", false},
		{"escaped parenthesis in a string", `(a \) ` + strings.Repeat("[", 50) + `)`, false},
		{"brackets in a comment", "%" + strings.Repeat("[", 50) + "\n[]", false},
		{"brackets in stream data", "<< /Length 60 >>\nstream\n" + strings.Repeat("[", 50) + "\nendstream", false},
		{"nesting after stream data", "stream\nxx\nendstream " + nested("[", "]", 9), true},
		{"hex strings", strings.Repeat("<41>", 50), false},
		{"endstream-like data", "stream\nendstreaendstream " + nested("[", "]", 9), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tooDeepBytes([]byte(tc.in), 8); got != tc.want {
				t.Errorf("tooDeep = %v, want %v", got, tc.want)
			}
		})
	}
}

// The shared samples and the test PDFs all pass: the scan never keeps a real document's
// metadata from being read.
func TestRealDocumentsAreNotTooDeep(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.pdf"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no PDF to try")
	}
	for _, f := range files {
		if tooDeepBytes(readFile(t, f), maxNesting) {
			t.Errorf("%s: found too deep", f)
		}
	}
}
