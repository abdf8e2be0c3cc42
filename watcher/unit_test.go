package watcher

import (
	"strings"
	"testing"
)

func TestIgnored(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"lettre.pdf", false},
		{"LETTRE.PDF", false},
		{"lettre.json", false},
		{"compte rendu DUPONT Marie.pdf", false},
		{"résultats.txt", false},
		{"tmp.pdf", false},
		{"part", false},
		{".hidden", true},
		{".~lock.lettre.odt#", true},
		{"._lettre.pdf", true},
		{".DS_Store", true},
		{"~$lettre.docx", true},
		{"~lettre.pdf", false},
		{"spool.tmp", true},
		{"spool.TMP", true},
		{"lettre.pdf.part", true},
		{"lettre.pdf.crdownload", true},
		{"lettre.partial", true},
		{"Thumbs.db", true},
		{"thumbs.DB", true},
		{"desktop.ini", true},
		{"Desktop.INI", true},
		{"/srv/dui/export/.x.pdf", true},
		{"/srv/dui/export/x.pdf", false},
		{"", true},
		{".", true},
		{"..", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Ignored(tc.name); got != tc.want {
				t.Errorf("Ignored(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestHasEOF(t *testing.T) {
	cases := []struct {
		name string
		tail string
		want bool
	}{
		{"bare", "%%EOF", true},
		{"newline", "%%EOF\n", true},
		{"crlf and blanks", "%%EOF\r\n \t\r\n", true},
		{"PJL trailer", "%%EOF\n\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X", true},
		{"1000 bytes after", "%%EOF" + strings.Repeat(" ", 1000), true},
		{"marker cut by the window", "%%EOF" + strings.Repeat(" ", 1020), false},
		{"missing", "endobj\n", false},
		{"half marker", "%%EO", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasEOF([]byte("%PDF-1.4\n" + tc.tail)); got != tc.want {
				t.Errorf("hasEOF(...%q) = %v, want %v", tc.tail[max(0, len(tc.tail)-20):], got, tc.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	cases := []struct {
		name  string
		msg   string
		paths []string
		want  string
	}{
		{"full path", "rename /in/DUPONT Marie.pdf /spool/j1.pdf: no space", []string{"/in/DUPONT Marie.pdf"},
			"rename <file> /spool/j1.pdf: no space"},
		{"base name and stem", "bad file DUPONT Marie.pdf (DUPONT Marie)", []string{"/in/DUPONT Marie.pdf"},
			"bad file <file> (<file>)"},
		{"sidecar", "open /in/x1.json: denied", []string{"/in/x1.pdf", "/in/x1.json"}, "open <file>: denied"},
		{"short stem kept", "a is busy: a.pdf", []string{"/in/a.pdf"}, "a is busy: <file>"},
		{"nothing to hide", "database is locked", []string{"/in/DUPONT.pdf", ""}, "database is locked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact(tc.msg, tc.paths...); got != tc.want {
				t.Errorf("redact = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSidecarPairing(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		want  map[string]string // PDF -> sidecar ("" for none)
	}{
		{"simple pair", []string{"a.pdf", "a.json"}, map[string]string{"a.pdf": "a.json"}},
		{"no sidecar", []string{"a.pdf", "b.json"}, map[string]string{"a.pdf": ""}},
		{"extension case", []string{"a.PDF", "a.Json"}, map[string]string{"a.PDF": "a.Json"}},
		{"stem case differs", []string{"Lettre.pdf", "lettre.json"}, map[string]string{"Lettre.pdf": "lettre.json"}},
		{"exact stem preferred", []string{"A.pdf", "a.json", "A.json"}, map[string]string{"A.pdf": "A.json"}},
		{"each its own", []string{"A.pdf", "a.pdf", "a.json", "A.json"}, map[string]string{"A.pdf": "A.json", "a.pdf": "a.json"}},
		{"two PDFs share one", []string{"A.pdf", "a.pdf", "a.json"}, map[string]string{"A.pdf": "a.json", "a.pdf": "a.json"}},
		{"not a sidecar name", []string{"a.pdf", "a.pdf.json", "a.txt"}, map[string]string{"a.pdf": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &loop{entries: map[string]*entry{}, pairs: map[string]*pairSlot{}}
			for _, f := range tc.files {
				l.add(f)
			}
			riding := map[string]bool{}
			for pdf, want := range tc.want {
				got := ""
				if j := l.sidecarOf(l.entries[pdf]); j != nil {
					got = j.name
					riding[got] = true
				}
				if got != want {
					t.Errorf("sidecarOf(%s) = %q, want %q", pdf, got, want)
				}
			}
			for _, e := range l.entries {
				if e.kind == kindJSON && (l.documentOf(e) != nil) != riding[e.name] {
					t.Errorf("documentOf(%s) = %v, want a document: %v", e.name, l.documentOf(e), riding[e.name])
				}
			}
			for _, f := range tc.files {
				l.remove(l.entries[f])
			}
			if len(l.pairs) != 0 || len(l.entries) != 0 {
				t.Errorf("index not emptied: %d pairs, %d entries", len(l.pairs), len(l.entries))
			}
		})
	}
}
