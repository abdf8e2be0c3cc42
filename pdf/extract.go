package pdf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Page is the text layer of one page.
type Page struct {
	Number int    // 1-based
	Text   string // the lines joined with "\n", normalised with NormalizeText
	Lines  []Line // in PDFium's reading order (content order, line by line); blank lines left out
}

// Line is one line of text and the box it occupies, in PDF points in the page's user space
// (origin at the bottom left, y upwards): (X0, Y0) is the bottom-left corner, (X1, Y1) the
// top-right one. The box is the union of PDFium's text rectangles for the line's characters;
// it is zero when PDFium gave none. Text that PDFium puts on one line but that a wide blank
// separates (two columns, a date to the right of a tag) gives two Lines at the same height,
// left one first.
type Line struct {
	Text           string
	X0, Y0, X1, Y1 float64
}

// ExtractorOptions configure NewExtractor.
type ExtractorOptions struct {
	// CacheDir is where wazero keeps the compiled PDFium module between runs. Compiling it
	// takes seconds and hundreds of MB; loading it from the cache a fraction of that. Empty:
	// no on-disk cache (compiled in memory at every start).
	CacheDir string
	// Workers is the number of PDFium instances that may run at once (one document each).
	// Below 1 means 1. An instance is single-threaded; each one costs tens of MB.
	Workers int
	// MemoryLimit bounds the memory of one PDFium instance, in bytes (DefaultMemoryLimit when
	// 0). A document that needs more is refused with ErrOverMemory: this is what stops a
	// decompression bomb. Process memory is about 60 MB plus Workers times this at worst.
	MemoryLimit int64
}

// DefaultMemoryLimit: an instance starts with 18 MiB; every letter of the corpus and a
// 300-page report stay there, and a scan read through PagesFrom needs about its own size
// past 14 MB (20 MB: 22 MiB, 30 MB: 32 MiB; a 20 MB message carries a 14 MB PDF at most).
// A bomb inflating to gigabytes stops here. Measured in a child process with the compiled
// module cached: one bomb peaks at about 100 MB of RSS, two at once (the bridge's two read
// slots) at about 140 MB, under the 150 MB aim; with 48 MiB two bombs passed it.
// Text objects cost PDFium about 1 KB each: a page drawn glyph by glyph fits up to about
// 19,000 of them (a dense 6-point table has 15,000). A legitimate document that needs more
// is held for a person with the reason, not lost.
const DefaultMemoryLimit = 40 << 20

// minMemoryLimit is the smallest MemoryLimit taken (see NewExtractor).
const minMemoryLimit = 32 << 20

// bigDocumentBytes: a WebAssembly memory never shrinks, so an instance that has read a large
// document keeps that memory while it waits in the pool. Past this size (about ten times an
// ordinary letter with its logo) the instance is discarded instead of returned, and the pool
// builds a fresh one when it needs it (milliseconds once the module is compiled).
const bigDocumentBytes = 8 << 20

// bigDocumentPages: the same for long documents, whose pages are read one by one but leave
// the allocator's high-water mark behind.
const bigDocumentPages = 100

// memoryLimitPages is wazero's own ceiling on an instance's memory, 1 GiB in 64 KiB pages:
// the allocator (memory.go) enforces ExtractorOptions.MemoryLimit below it and counts its
// refusals, which is how a document is told to need too much memory.
const memoryLimitPages = 1 << 14

// Extractor extracts text layers with a pool of PDFium WebAssembly instances. It is safe for
// concurrent use; at most Workers documents are read at once, the others wait their turn.
type Extractor struct {
	pool   pdfium.Pool
	cache  wazero.CompilationCache
	budget *budget

	closeOnce sync.Once
	closeErr  error
}

// NewExtractor compiles (or loads from opts.CacheDir) the PDFium module and prepares the pool.
// ctx bounds nothing after it returns: the pool lives until Close.
func NewExtractor(ctx context.Context, opts ExtractorOptions) (*Extractor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	workers := max(opts.Workers, 1)
	b := &budget{limit: DefaultMemoryLimit}
	if opts.MemoryLimit > 0 {
		// PDFium's initial heap is about 18 MiB: an instance could not even start below this.
		b.limit = uint64(max(opts.MemoryLimit, minMemoryLimit))
	}

	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("pdf: compilation cache %s: %w", opts.CacheDir, err)
		}
		cache = c
	}

	// The bundled PDFium lowers setjmp/longjmp to WebAssembly exception handling, so that
	// feature must be on. CloseOnContextDone lets a cancelled context stop a runaway page.
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(memoryLimitPages)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}

	pool, err := webassembly.Init(webassembly.Config{
		// The pool outlives the caller's context: it is stopped by Close. The allocator rides
		// on it to every instance (see memory.go).
		Context:       experimental.WithMemoryAllocator(context.WithoutCancel(ctx), b.allocator()),
		MinIdle:       1,
		MaxIdle:       workers,
		MaxTotal:      workers,
		RuntimeConfig: rc,
		// Documents are handed over as bytes: PDFium is given no access to the host's files.
		FSConfig:     wazero.NewFSConfig(),
		Stdout:       io.Discard,
		Stderr:       io.Discard,
		ReuseWorkers: true,
	})
	if err != nil {
		if cache != nil {
			cache.Close(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("pdf: start PDFium: %w", err)
	}
	return &Extractor{pool: pool, cache: cache, budget: b}, nil
}

// Close stops the pool and releases the compilation cache. Documents being read fail.
func (e *Extractor) Close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.pool.Close()
		if e.cache != nil {
			if err := e.cache.Close(context.Background()); err != nil && e.closeErr == nil {
				e.closeErr = err
			}
		}
	})
	return e.closeErr
}

// Text returns the text layer of every page of the document. A page without text gives a
// Page with no lines. See Pages for a version that does not keep every page.
func (e *Extractor) Text(ctx context.Context, pdfBytes []byte) ([]Page, error) {
	var pages []Page
	err := e.Pages(ctx, pdfBytes, func(p Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pages, nil
}

// Pages calls fn with each page's text in order, one page at a time: only the page being read
// is loaded in PDFium. An error from fn stops the reading and is returned as is. A document
// that needs a password gives an error wrapping ErrEncrypted; one PDFium cannot open, an error
// wrapping ErrUnreadable. A cancelled ctx stops the reading, even inside a page.
func (e *Extractor) Pages(ctx context.Context, pdfBytes []byte, fn func(Page) error) (err error) {
	return e.pages(ctx, &requests.OpenDocument{File: &pdfBytes}, int64(len(pdfBytes)), fn, nil)
}

// TextFrom is Text for a document read through r, size bytes long: see PagesFrom.
func (e *Extractor) TextFrom(ctx context.Context, r io.ReadSeeker, size int64) ([]Page, error) {
	var pages []Page
	err := e.PagesFrom(ctx, r, size, func(p Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pages, nil
}

// PagesFrom is Pages for a document read through r (an open file), size bytes long. PDFium
// reads the parts it needs when it needs them, so the document is never copied whole into
// its memory: a 50 MB scan costs the pages it draws on, not 50 MB more. r is used only
// until PagesFrom returns, from one goroutine at a time; it must not change meanwhile.
func (e *Extractor) PagesFrom(ctx context.Context, r io.ReadSeeker, size int64, fn func(Page) error) error {
	if size > math.MaxUint32 {
		// PDFium's file access callback takes 32-bit positions.
		return fmt.Errorf("%w: file of %d bytes, over 4 GiB", ErrUnreadable, size)
	}
	return e.pages(ctx, &requests.OpenDocument{FileReader: r, FileReaderSize: size}, size, fn, nil)
}

// PagesFromWithInfo is PagesFrom that also returns what PDFium reads of the document
// information dictionary (Title, Subject, Keywords, Author, Creator, Producer) and the page
// count; never the XMP packet. It serves the files Inspect leaves alone (ErrNotInspected):
// PDFium loads only the objects it is asked for, not every stream as pdfcpu does.
func (e *Extractor) PagesFromWithInfo(ctx context.Context, r io.ReadSeeker, size int64, fn func(Page) error) (Info, error) {
	if size > math.MaxUint32 {
		return Info{}, fmt.Errorf("%w: file of %d bytes, over 4 GiB", ErrUnreadable, size)
	}
	var info Info
	err := e.pages(ctx, &requests.OpenDocument{FileReader: r, FileReaderSize: size}, size, fn, &info)
	return info, err
}

func (e *Extractor) pages(ctx context.Context, open *requests.OpenDocument, size int64, fn func(Page) error, meta *Info) (err error) {
	if size == 0 {
		return fmt.Errorf("%w: empty file", ErrUnreadable)
	}
	inst, err := e.pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("pdf: no PDFium instance: %w", err)
	}
	// A refusal of the memory budget while this document is read, followed by a trap (PDFium
	// aborts when malloc fails), means it needs too much. The count is the Extractor's, so a
	// document read beside a bomb must not be blamed for it: a verdict of PDFium's own
	// ("incorrect format", "incorrect page") is never a memory failure. Two documents
	// trapping at the same moment, one of them for memory, would both be worded so.
	refusedBefore := e.budget.refused.Load()
	unreadable := func(cause error, format string, a ...any) error {
		err := fmt.Errorf("%w: "+format, append([]any{ErrUnreadable}, a...)...)
		if e.budget.refused.Load() > refusedBefore && !pdfiumVerdict(cause) {
			err = fmt.Errorf("%w (%w)", ErrOverMemory, err)
		}
		return err
	}

	// When ctx ends while PDFium works, the instance is killed: its module is closed, which
	// interrupts the call in progress, and the pool replaces it.
	killed := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		defer close(killed)
		_ = inst.Kill()
	})
	discard := size > bigDocumentBytes
	inCallback := false
	defer func() {
		r := recover()
		if r != nil {
			discard = true
			if inCallback {
				// The caller's bug, not the document's: clean up, then let it go on.
				defer panic(r)
			} else {
				err = fmt.Errorf("%w: PDFium panicked: %v", ErrUnreadable, r)
			}
		}
		if !stopWatch() {
			<-killed // killed: already invalidated, nothing to return to the pool
			if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
				err = ctxErr
			}
			return
		}
		if discard || e.budget.refused.Load() > refusedBefore {
			_ = inst.Kill() // drop its grown memory; the pool makes a fresh instance
			return
		}
		_ = inst.Close() // returns the instance to the pool
	}()

	doc, err := inst.OpenDocument(open)
	if err != nil {
		if errors.Is(err, pdfiumerrors.ErrPassword) {
			return fmt.Errorf("%w: %v", ErrEncrypted, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// PDFium's own verdicts (format, file, security) leave it sound; anything else, such
		// as a trap, may not.
		discard = discard || !pdfiumVerdict(err)
		return unreadable(err, "%v", err)
	}
	defer func() {
		if ctx.Err() == nil {
			_, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
		}
	}()

	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		discard = true
		return unreadable(err, "page count: %v", err)
	}
	if count.PageCount > bigDocumentPages {
		discard = true
	}
	if meta != nil {
		meta.Pages = count.PageCount
		for _, f := range []struct {
			tag string
			to  *string
		}{{"Title", &meta.Title}, {"Subject", &meta.Subject}, {"Keywords", &meta.Keywords},
			{"Author", &meta.Author}, {"Creator", &meta.Creator}, {"Producer", &meta.Producer}} {
			if v, err := inst.FPDF_GetMetaText(&requests.FPDF_GetMetaText{Document: doc.Document, Tag: f.tag}); err == nil {
				*f.to = v.Value
			}
		}
	}
	for i := 0; i < count.PageCount; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := readPage(inst, doc.Document, i)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			// A trap inside PDFium may leave its heap in any state: do not reuse it.
			discard = true
			return unreadable(err, "page %d: %v", i+1, err)
		}
		inCallback = true
		err = fn(p)
		inCallback = false
		if err != nil {
			return err
		}
	}
	return nil
}

// pdfiumVerdict reports whether err is PDFium's own answer about the document (it then
// stays sound), rather than a trap or a failure of the WebAssembly runtime.
func pdfiumVerdict(err error) bool {
	for _, v := range []error{pdfiumerrors.ErrFormat, pdfiumerrors.ErrFile, pdfiumerrors.ErrSecurity,
		pdfiumerrors.ErrUnknown, pdfiumerrors.ErrPage, pdfiumerrors.ErrPassword} {
		if errors.Is(err, v) {
			return true
		}
	}
	return false
}

// readPage loads page i, reads its text and closes it again.
func readPage(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, i int) (Page, error) {
	page := Page{Number: i + 1}
	lp, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: doc, Index: i})
	if err != nil {
		return page, err
	}
	defer inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: lp.Page})

	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: requests.Page{ByReference: &lp.Page}})
	if err != nil {
		return page, err
	}
	defer inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})

	cc, err := inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil {
		return page, err
	}
	if cc.Count <= 0 {
		return page, nil
	}
	gt, err := inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, StartIndex: 0, Count: cc.Count})
	if err != nil {
		return page, err
	}
	chars := []rune(strings.TrimRight(gt.Text, "\x00"))
	// One rune per character index, unless a character outside the BMP came out as two
	// UTF-16 units or PDFium wrote fewer: then the boxes cannot be placed, the text still can.
	aligned := len(chars) == cc.Count

	var texts []string
	add := func(start, end int, box *span) {
		text := NormalizeText(string(chars[start:end]))
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		l := Line{Text: text}
		if box != nil && box.hasBox {
			l.X0, l.Y0, l.X1, l.Y1 = box.x0, box.y0, box.x1, box.y1
		}
		page.Lines = append(page.Lines, l)
		texts = append(texts, text)
	}
	flush := func(start, end int) error {
		if start >= end || strings.TrimSpace(string(chars[start:end])) == "" {
			return nil
		}
		if !aligned {
			add(start, end, nil)
			return nil
		}
		spans, err := lineSpans(inst, tp.TextPage, start, end)
		if err != nil {
			return err
		}
		for i := range spans {
			add(spans[i].start, spans[i].end, &spans[i])
		}
		return nil
	}
	start := 0
	for j, c := range chars {
		if c == '\r' || c == '\n' {
			if err := flush(start, j); err != nil {
				return page, err
			}
			start = j + 1
		}
	}
	if err := flush(start, len(chars)); err != nil {
		return page, err
	}
	page.Text = strings.Join(texts, "\n")
	return page, nil
}

// columnGap: two pieces of text that PDFium put on one line are made two lines when the
// blank between them is wider than this many times the text's height. A word space is a
// third of it; columns, a right-aligned date beside a left-aligned tag, a form's label and
// its far value are several times it. Splitting there keeps a tag's value to the tag.
const columnGap = 3.0

// span is a run of characters [start, end) of a PDFium line and the box it occupies.
type span struct {
	start, end     int
	x0, y0, x1, y1 float64
	hasBox         bool
}

func (s *span) extend(left, bottom, right, top float64) {
	if !s.hasBox {
		s.x0, s.y0, s.x1, s.y1, s.hasBox = left, bottom, right, top, true
		return
	}
	s.x0, s.y0 = min(s.x0, left), min(s.y0, bottom)
	s.x1, s.y1 = max(s.x1, right), max(s.y1, top)
}

// lineSpans cuts the characters [start, end) of one PDFium line where a wide blank separates
// them, and gives each piece its box: the union of PDFium's text rectangles for its
// characters. PDFium merges neighbouring characters of one text object into one rectangle,
// so this is a handful of calls per line, not one per character.
func lineSpans(inst pdfium.Pdfium, tp references.FPDF_TEXTPAGE, start, end int) ([]span, error) {
	n, err := inst.FPDFText_CountRects(&requests.FPDFText_CountRects{TextPage: tp, StartIndex: start, Count: end - start})
	if err != nil {
		return nil, err
	}
	var spans []span
	cur := span{start: start}
	var prevRight, prevHeight float64
	for k := 0; k < n.Count; k++ {
		r, err := inst.FPDFText_GetRect(&requests.FPDFText_GetRect{TextPage: tp, Index: k})
		if err != nil {
			return nil, err
		}
		left, right := min(r.Left, r.Right), max(r.Left, r.Right)
		bottom, top := min(r.Bottom, r.Top), max(r.Bottom, r.Top)
		height := top - bottom
		if k > 0 && left-prevRight > columnGap*max(height, prevHeight, 1) {
			// The first character of this rectangle starts the next piece.
			at, err := inst.FPDFText_GetCharIndexAtPos(&requests.FPDFText_GetCharIndexAtPos{
				TextPage: tp, X: left + min(0.5, (right-left)/2), Y: (top + bottom) / 2, XTolerance: 0.5, YTolerance: 0.5,
			})
			if err == nil && at.CharIndex > cur.start && at.CharIndex < end {
				cur.end = at.CharIndex
				spans = append(spans, cur)
				cur = span{start: at.CharIndex}
			}
		}
		cur.extend(left, bottom, right, top)
		prevRight, prevHeight = right, height
	}
	cur.end = end
	return append(spans, cur), nil
}
