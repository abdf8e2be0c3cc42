package reading

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// Hostile PDFs are held with a reason a secretary can read: one line of French, never a
// WebAssembly stack trace.
func TestReadHostileReasonsInFrench(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"decompression bomb", gen.FlateBomb(1 << 30), "Le document demande plus de mémoire que permis pour être lu"},
		{"page tree loop", gen.ReferenceLoop(), "Le fichier n'est pas un PDF lisible : page 1 illisible ("},
		{"random bytes behind a PDF header", gen.RandomWithPDFHeader(20000, 7), "Le fichier n'est pas un PDF lisible : format incorrect"},
	}
	r := newTestReader()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "doc.pdf")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := r.Read(context.Background(), path, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Decision != DecisionHold || len(res.Reasons) == 0 || !strings.HasPrefix(res.Reasons[0], tt.want) {
				t.Fatalf("decision %s, reasons %q; want hold starting %q", res.Decision, res.Reasons, tt.want)
			}
			if strings.Contains(res.Reasons[0], "\n") || strings.Contains(res.Reasons[0], "wasm") {
				t.Errorf("reason not fit for a person: %q", res.Reasons[0])
			}
		})
	}
}

// Read streams the file; it must say exactly what ReadBytes says of the same bytes.
func TestReadFromFileMatchesReadBytes(t *testing.T) {
	r := newTestReader()
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		side := ""
		var sideData []byte
		if s := strings.TrimSuffix(path, ".pdf") + ".json"; fileExists(s) {
			side = s
			sideData, _ = os.ReadFile(s)
		}
		fromFile, err1 := r.Read(context.Background(), path, side)
		fromBytes, err2 := r.ReadBytes(context.Background(), filepath.Base(path), data, filepath.Base(side), sideData)
		if side == "" {
			fromBytes, err2 = r.ReadBytes(context.Background(), filepath.Base(path), data, "", nil)
		}
		if err1 != nil || err2 != nil || !reflect.DeepEqual(fromFile, fromBytes) {
			t.Errorf("%s: Read and ReadBytes differ (%v, %v):\n%+v\n%+v", path, err1, err2, fromFile, fromBytes)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// A document longer than MaxPages is read up to there and held with the reason: reading
// keeps every page, and 3,000 pages took 420 MB and 20 s.
func TestReadStopsAtThePageLimit(t *testing.T) {
	defer func(n int) { maxPages = n }(maxPages)
	maxPages = 5
	path := filepath.Join(t.TempDir(), "long.pdf")
	if err := os.WriteFile(path, gen.ManyPages(8, gen.Dupont), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := newTestReader().Read(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "Document de 8 pages : seules les 5 premières ont été lues"
	if res.Decision != DecisionHold || len(res.Reasons) == 0 || !strings.HasPrefix(res.Reasons[0], want) {
		t.Errorf("decision %s, reasons %q; want hold with %q", res.Decision, res.Reasons, want)
	}
	if res.Pages != 8 || strings.Count(res.Text, "\f") != 4 {
		t.Errorf("pages %d, %d page texts", res.Pages, strings.Count(res.Text, "\f")+1)
	}
	// At the limit exactly, nothing is said.
	maxPages = 8
	if res, _ := newTestReader().Read(context.Background(), path, ""); res.Decision != DecisionSend {
		t.Errorf("at the limit: %s %q", res.Decision, res.Reasons)
	}
}
