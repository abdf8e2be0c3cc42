package pdf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const samplesDir = "../../shared/samples/pdf"

func samplePath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(samplesDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared samples not available: %v", err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// damaged returns byte slices that are not readable PDFs.
func damaged(t *testing.T) map[string][]byte {
	t.Helper()
	sample := readFile(t, filepath.Join("testdata", "info.pdf"))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/3)
	}
	return map[string][]byte{
		"empty":           {},
		"garbage":         garbage,
		"header only":     []byte("%PDF-1.4\n"),
		"truncated":       sample[:len(sample)/3],
		"text file":       []byte("Bonjour, ceci n'est pas un PDF.\n"),
		"pdf header junk": append([]byte("%PDF-1.7\n%âãÏÓ\n1 0 obj << /Type /Catalog /Pages 2 0 R"), garbage[:200]...),
	}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		pages     int
		encrypted bool
		check     func(t *testing.T, info Info)
		err       error
	}{
		{name: "sample 01", path: "sample:01-lettre-adresse-explicite.pdf", pages: 1, check: func(t *testing.T, info Info) {
			if !strings.Contains(info.Producer, "Ghostscript") {
				t.Errorf("Producer = %q", info.Producer)
			}
			if !strings.Contains(info.XMP, "xmpmeta") {
				t.Errorf("XMP = %q, want the packet", info.XMP)
			}
		}},
		{name: "sample 07, two pages", path: "sample:07-deux-pages-balise.pdf", pages: 2},
		{name: "sample 08, scan", path: "sample:08-scan-sans-texte.pdf", pages: 1},
		{name: "info dictionary", path: "testdata/info.pdf", pages: 1, check: func(t *testing.T, info Info) {
			want := Info{Title: "Compte rendu de test", Subject: "Sujet de test", Author: "Dr Test",
				Keywords: "#MSS-TO: a.b@medecin.mssante.fr; #MSS-BOX: biologie", Creator: "LogicielMedical 4.2"}
			if info.Title != want.Title || info.Subject != want.Subject || info.Author != want.Author ||
				info.Keywords != want.Keywords || info.Creator != want.Creator {
				t.Errorf("Info = %+v, want %+v", info, want)
			}
		}},
		{name: "300 pages", path: "testdata/long.pdf", pages: 300},
		{name: "user password", path: "testdata/encrypted.pdf", encrypted: true, err: ErrEncrypted},
		{name: "owner password only", path: "testdata/owner-only.pdf", pages: 1, encrypted: true},
		{name: "missing file", path: "testdata/no-such.pdf", err: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if name, ok := strings.CutPrefix(path, "sample:"); ok {
				path = samplePath(t, name)
			}
			info, err := Inspect(path)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Inspect error = %v, want %v", err, tt.err)
			}
			if info.Pages != tt.pages || info.Encrypted != tt.encrypted {
				t.Errorf("Pages, Encrypted = %d, %v; want %d, %v", info.Pages, info.Encrypted, tt.pages, tt.encrypted)
			}
			if tt.check != nil {
				tt.check(t, info)
			}
		})
	}
}

func TestInspectDamaged(t *testing.T) {
	for name, b := range damaged(t) {
		t.Run(name, func(t *testing.T) {
			_, err := InspectBytes(b)
			if !errors.Is(err, ErrUnreadable) {
				t.Errorf("InspectBytes error = %v, want ErrUnreadable", err)
			}
		})
	}
}

// A file over MaxInspectBytes is not handed to pdfcpu, which would hold all of it in memory:
// the answer comes at once, without allocating anything near the file's size.
func TestInspectSkipsLargeFiles(t *testing.T) {
	sample := readFile(t, filepath.Join("testdata", "info.pdf"))
	for _, tc := range []struct {
		name string
		size int
		want error
	}{
		{"at the limit", MaxInspectBytes, nil},
		{"over the limit", MaxInspectBytes + 1, ErrNotInspected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A valid document followed by padding inside a trailing comment: pdfcpu reads it.
			b := make([]byte, 0, tc.size)
			b = append(b, sample...)
			b = append(b, '%')
			for len(b) < tc.size-1 {
				b = append(b, 'x')
			}
			b = append(b, '\n')
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := InspectBytes(b)
			runtime.ReadMemStats(&after)
			if skipped := errors.Is(err, ErrNotInspected); skipped != (tc.want != nil) {
				t.Fatalf("InspectBytes(%d bytes) = %v, want %v", len(b), err, tc.want)
			}
			if tc.want != nil && after.TotalAlloc-before.TotalAlloc > 1<<20 {
				t.Errorf("refusing a %d MB file allocated %d KB", len(b)>>20, (after.TotalAlloc-before.TotalAlloc)>>10)
			}
		})
	}
}
