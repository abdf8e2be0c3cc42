package pdf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// A decompression bomb (10 KB inflating to 2 GiB) is refused with ErrOverMemory once the
// instance reaches its budget, the PDFium memory never grows past it, and it is given back
// when the instance is discarded. Before the budget and the allocator, this file took the
// process to 4.5 GB of RSS.
func TestBombIsBoundedByTheMemoryLimit(t *testing.T) {
	bomb := gen.FlateBomb(2 << 30)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb of %d bytes: the generator no longer makes a small one", len(bomb))
	}
	ex, err := NewExtractor(context.Background(), ExtractorOptions{
		CacheDir: filepath.Join(os.TempDir(), "mssbridge-test-pdfium-cache"), Workers: 1, MemoryLimit: 48 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	wasmMemoryPeak.Store(wasmMemoryInUse.Load())
	_, err = ex.Text(context.Background(), bomb)
	if !errors.Is(err, ErrOverMemory) || !errors.Is(err, ErrUnreadable) {
		t.Fatalf("err = %v, want ErrOverMemory wrapping ErrUnreadable", err)
	}
	// Every instance of every extractor of this test binary counts in the peak: the shared
	// test extractor has two at most, idle at their initial 18 MiB.
	if peak := wasmMemoryPeak.Load(); peak > 48<<20+2*20<<20 {
		t.Errorf("PDFium memory peaked at %d MiB with a 48 MiB budget", peak>>20)
	}
	// The instance that hit the budget is not reused: an ordinary letter reads next.
	pages, err := ex.Text(context.Background(), gen.Tagged(gen.Dupont, "après la bombe"))
	if err != nil || len(pages) != 1 {
		t.Fatalf("after the bomb: %d pages, %v", len(pages), err)
	}
}

// PagesFrom reads through a file what Pages reads from memory, and a 30 MB scan read that way
// fits in the default memory budget (read from memory, the file alone would fill it).
func TestPagesFromFileMatchesBytes(t *testing.T) {
	for _, name := range []string{"testdata/info.pdf", "testdata/columns.pdf", "testdata/long.pdf", "testdata/encrypted.pdf"} {
		data := readFile(t, name)
		want, wantErr := testExtractor.Text(context.Background(), data)
		got, err := testExtractor.TextFrom(context.Background(), bytes.NewReader(data), int64(len(data)))
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) || errors.Is(err, ErrEncrypted) != errors.Is(wantErr, ErrEncrypted) {
			t.Errorf("%s: TextFrom differs from Text (%v / %v)", name, err, wantErr)
		}
	}
	if testing.Short() {
		t.Skip("30 MB scan skipped in -short")
	}
	big := filepath.Join(t.TempDir(), "scan.pdf")
	if err := gen.WriteBig(big, 30<<20, gen.Dupont); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	before := wasmMemoryInUse.Load()
	wasmMemoryPeak.Store(before)
	pages, err := testExtractor.TextFrom(context.Background(), f, fi.Size())
	if err != nil || len(pages) != 1 {
		t.Fatalf("30 MB scan: %d pages, %v", len(pages), err)
	}
	if grew := wasmMemoryPeak.Load() - before; grew > DefaultMemoryLimit {
		t.Errorf("PDFium memory grew by %d MiB for a 30 MB file read through PagesFrom", grew>>20)
	}
}

// Inspect does not inflate a metadata bomb: pdfcpu's limits are lowered and the XMP packet is
// decoded with a bound.
func TestInspectMetadataBombAllocatesLittle(t *testing.T) {
	bomb := gen.MetadataBomb(1 << 30)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	info, err := InspectBytes(bomb)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("Inspect allocated %d MiB for a metadata bomb", alloc>>20)
	}
	t.Logf("metadata bomb: Inspect allocated %d MiB, err=%v", (after.TotalAlloc-before.TotalAlloc)>>20, err)
	if err == nil && len(info.XMP) > maxXMPBytes {
		t.Errorf("XMP of %d bytes", len(info.XMP))
	}
}

// A document read beside a bomb is not blamed for the bomb's memory: its own error stays
// PDFium's verdict (it was worded "needs more memory" when the refusal count was all that
// was looked at).
func TestBombDoesNotBlameItsNeighbour(t *testing.T) {
	bomb := gen.FlateBomb(1 << 30)
	garbage := gen.RandomWithPDFHeader(200_000, 3)
	for round := 0; round < 3; round++ {
		bombErr := make(chan error, 1)
		go func() { _, err := testExtractor.Text(context.Background(), bomb); bombErr <- err }()
		for i := 0; i < 20; i++ {
			_, err := testExtractor.Text(context.Background(), garbage)
			if errors.Is(err, ErrOverMemory) || !errors.Is(err, ErrUnreadable) {
				t.Fatalf("round %d, read %d beside a bomb: %v", round, i, err)
			}
		}
		if err := <-bombErr; !errors.Is(err, ErrOverMemory) {
			t.Fatalf("bomb: %v", err)
		}
	}
}

// The budget's other side: a page drawn glyph by glyph (15,000 text objects, a dense table
// printed in 6 points) is read within the default budget. PDFium needs about 1 KB a text
// object past its 18 MiB: near 20,000 objects on one page a document is held instead.
func TestDensePageFitsTheDefaultBudget(t *testing.T) {
	pages, err := testExtractor.Text(context.Background(), gen.DensePage(15_000))
	if err != nil || len(pages) != 1 || len(pages[0].Lines) < 100 {
		t.Fatalf("dense page: %v", err)
	}
}
