// Package watcher finds the files in one input folder that are complete and hands each of them,
// exactly once at a time, to a claim function that moves it into the job store.
//
// The model is syncthing's: file-system events (fsnotify) are only hints that schedule a look at
// a path after a quiet delay; a periodic listing of the whole folder is the truth, because
// network shares deliver no events and event queues overflow. A file is complete when its size
// and modification time have not moved across at least two observations a quiet window apart,
// it is not empty, it can be opened (exclusively on Windows, so no other program still holds it),
// and, for a PDF, its last KiB holds "%%EOF". A NAME.json beside NAME.pdf is a sidecar: it is
// claimed together with its PDF, never alone, unless no PDF shows up for MaxWait. Nothing stays
// in the folder forever: a file that stops changing but never completes (a PDF without "%%EOF",
// an empty file, a sidecar without its PDF) is handed over after MaxWait so that the caller can
// fail it with a reason.
//
// The folder is watched non-recursively: files in sub-folders are not looked at.
//
// File names may carry patient names, so they are logged at debug level only; info and above
// carry the input id and counts.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for Options. They are also the documented defaults of the watch: configuration keys.
const (
	// DefaultQuiet: 2 s covers a spooler flushing its buffers and an SMB client's delayed
	// write-behind; a printed letter is not urgent to the second.
	DefaultQuiet = 2 * time.Second
	// DefaultPDFQuiet: see Options.PDFQuiet.
	DefaultPDFQuiet = 200 * time.Millisecond
	// DefaultSidecarWait: software that drops a sidecar writes it just before or just after
	// its PDF (the README asks for before); a fifth of a second after the PDF's last change
	// covers "just after" without delaying every PDF that has none.
	DefaultSidecarWait = 200 * time.Millisecond
	// DefaultRescan: 10 s bounds the delay on network shares (no events) while a listing of a
	// few hundred files every 10 s costs nothing measurable.
	DefaultRescan = 10 * time.Second
	// DefaultMaxWait: a PDF that has not changed for 10 minutes and still has no "%%EOF" will not
	// get one; by then a person is waiting for a document and should hear why it did not go.
	DefaultMaxWait = 10 * time.Minute
)

// Tuning that is not configuration. Each is a compromise; the reason is beside it.
const (
	// defaultMaxTracked bounds the paths tracked individually. An entry costs a few hundred
	// bytes, so 10,000 is a few MB; a busy print spool makes hundreds of documents an hour, so
	// 10,000 pending means the folder is a dump or the bridge is far behind. Past it, new files
	// are left to later rescans, oldest first (syncthing stops at 512 because its entries are
	// event aggregates only; ours also hold each file's stability record).
	defaultMaxTracked = 10000
	// defaultWorkers bounds concurrent claims. A claim is a rename plus a store insert, and the
	// store has one writer, so more would only queue there; 4 still overlaps slow share I/O.
	defaultWorkers = 4
	// Claim retry backoff: 1 s answers a transient lock quickly, doubling to a 1 min cap keeps a
	// broken store from being hammered while it is still retried often enough to notice repair.
	defaultRetryMin = time.Second
	defaultRetryMax = time.Minute
)

// Options configures a Watcher. Zero durations take the defaults.
type Options struct {
	InputID string // the input's id, in every log record
	Path    string // the folder to watch (made absolute)
	// Quiet: a file is complete when size and mtime have not changed for Quiet (default 2s).
	Quiet time.Duration
	// Rescan: period of the full listing of the folder, which is the truth (default 10s);
	// events are hints only.
	Rescan time.Duration
	// MaxWait: a file that stopped changing but is still not complete (a PDF that never ends
	// with %%EOF, an empty file) or a NAME.json without its PDF is handed over anyway after
	// MaxWait (default 10m), so that it can be failed with a reason and never sits there forever.
	MaxWait time.Duration
	// PDFQuiet: the shorter quiet window of a PDF whose last KiB already holds "%%EOF" when it
	// is observed (default 200ms; never longer than Quiet; negative: no shortcut). PDF writers
	// put the end marker last, so a complete-looking PDF that stays put for a fifth of a second is
	// done; this is what brings a printed letter out in well under a second.
	PDFQuiet time.Duration
	// SidecarWait: how long after a PDF's last change a NAME.json may still appear beside it
	// and be claimed with it (default 200ms, at most Quiet). Write the sidecar first to be safe.
	SidecarWait time.Duration
	// DisableEvents turns off fsnotify: the folder is seen by rescans only, as on a network
	// share. Meant for tests, and for folders where events are known to be wrong.
	DisableEvents bool
	Logger        *slog.Logger // default slog.Default()
}

// Ready is a complete file handed to a Claim.
type Ready struct {
	InputID string
	Path    string // absolute path of the document
	// Sidecar is the absolute path of NAME.json beside NAME.pdf when present and complete, else "".
	Sidecar string
	Size    int64
	ModTime time.Time
	// Incomplete is true when the file is handed over by MaxWait without being complete: a PDF
	// without %%EOF, or an empty file (Size 0).
	Incomplete bool
	// Folder is the input folder the file was listed in (nil when unknown): a claim that finds
	// another folder at that path (a share unmounted, leaving its empty mount point) knows the
	// document is not gone, only out of reach.
	Folder fs.FileInfo
}

// Claim moves the file(s) away (the caller does it atomically into its store). It returns nil
// once the file is no longer in the input folder. An error means "not claimed now": the watcher
// retries later (with backoff per path), and never hands the same file to two concurrent claims.
// The watcher logs claim errors with the file's path and name replaced by a placeholder; an
// error should not carry patient data in other forms.
type Claim func(ctx context.Context, r Ready) error

// Watcher watches one input folder. Create it with New and start it with Run.
type Watcher struct {
	opts    Options
	root    string
	log     *slog.Logger
	scanReq chan struct{}
	running atomic.Bool
	// wakeups counts the turns of Run's loop: a busy loop shows there (tests read it).
	wakeups atomic.Int64

	// Set by New from the defaults above; tests in this package lower them.
	maxTracked int
	workers    int
	retryMin   time.Duration
	retryMax   time.Duration
}

// New checks opts and returns a Watcher. The folder need not exist yet (a share may be mounted
// later); it is an error if the path names something other than a folder.
func New(opts Options) (*Watcher, error) {
	if strings.TrimSpace(opts.Path) == "" {
		return nil, errors.New("watcher: empty folder path")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"quiet", opts.Quiet}, {"rescan", opts.Rescan}, {"max wait", opts.MaxWait}, {"sidecar wait", opts.SidecarWait}} {
		if d.v < 0 {
			return nil, fmt.Errorf("watcher: negative %s delay %v", d.name, d.v)
		}
	}
	root, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("watcher: %s is not a folder", root)
	}
	if opts.Quiet == 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.Rescan == 0 {
		opts.Rescan = DefaultRescan
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.PDFQuiet == 0 {
		opts.PDFQuiet = DefaultPDFQuiet
	}
	if opts.PDFQuiet > opts.Quiet {
		opts.PDFQuiet = opts.Quiet
	}
	if opts.MaxWait < opts.Quiet {
		opts.MaxWait = opts.Quiet
	}
	if opts.SidecarWait == 0 {
		opts.SidecarWait = min(DefaultSidecarWait, opts.Quiet)
	}
	opts.Path = root
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{
		opts:       opts,
		root:       root,
		log:        log.With("input", opts.InputID),
		scanReq:    make(chan struct{}, 1),
		maxTracked: defaultMaxTracked,
		workers:    defaultWorkers,
		retryMin:   defaultRetryMin,
		retryMax:   defaultRetryMax,
	}, nil
}

// Scan schedules an immediate full scan of the folder (for instance after a claim error or at
// an operator's request). It never blocks; scans requested together are done once.
func (w *Watcher) Scan() {
	select {
	case w.scanReq <- struct{}{}:
	default:
	}
}

// Run watches the folder and calls claim for every complete file, from a bounded pool of
// goroutines, until ctx is done. It returns nil on cancellation, once the claims in flight have
// returned (they receive ctx). A Watcher runs once at a time.
func (w *Watcher) Run(ctx context.Context, claim Claim) error {
	if claim == nil {
		return errors.New("watcher: nil claim function")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watcher: already running")
	}
	defer w.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}

	l := &loop{
		w:       w,
		ctx:     ctx,
		claim:   claim,
		log:     w.log,
		entries: make(map[string]*entry),
		pairs:   make(map[string]*pairSlot),
		results: make(chan result, w.workers),
		timer:   time.NewTimer(time.Hour),
	}
	l.timer.Stop()
	return l.run()
}

type kind int

const (
	kindOther kind = iota
	kindPDF
	kindJSON
)

func kindOf(name string) (kind, string) {
	ext := filepath.Ext(name)
	stem := strings.ToLower(name[:len(name)-len(ext)])
	switch strings.ToLower(ext) {
	case ".pdf":
		return kindPDF, stem
	case ".json":
		return kindJSON, stem
	}
	return kindOther, stem
}

// entry is what the loop knows about one file of the folder.
type entry struct {
	name string
	kind kind
	pair string // lower-case stem: NAME.pdf and NAME.json share it

	size        int64
	modTime     time.Time
	obs         int       // observations that saw this size and modTime
	stableSince time.Time // first of those observations
	readyAt     time.Time // a complete PDF: when it started waiting for a sidecar
	eofKnown    bool      // eof holds for this size and modTime
	eof         bool

	due       time.Time // next look; zero: none planned
	queued    bool      // complete, waiting for a free claim worker
	inFlight  bool      // in a claim, as document or as sidecar
	backoff   time.Duration
	notBefore time.Time // after a failed claim
}

func (e *entry) stable(now time.Time, quiet time.Duration) bool {
	return e.obs >= 2 && now.Sub(e.stableSince) >= quiet
}

// pairSlot holds the tracked files sharing a lower-case stem.
type pairSlot struct {
	pdfs, jsons []*entry
}

type result struct {
	doc, sidecar *entry
	ready        Ready
	err          error
}

// loop is the state of one Run; only its goroutine touches it.
type loop struct {
	w     *Watcher
	ctx   context.Context
	claim Claim
	log   *slog.Logger

	entries map[string]*entry
	pairs   map[string]*pairSlot
	waitQ   []*entry // complete files waiting for a worker, in order

	results chan result // capacity = workers, so a finished claim never blocks
	active  int
	wg      sync.WaitGroup

	timer   *time.Timer
	timerAt time.Time // zero when the timer is stopped

	fsw        *fsnotify.Watcher
	watching   bool
	eventsWarn bool // the "no events" warning was given
	// rootID is the folder the last listing found at the input's path. A share mounted or
	// unmounted there, or the folder deleted and made again, puts another folder at the same
	// path: the events then still come from the old one, or from nothing, without any error.
	rootID fs.FileInfo

	lastScan    time.Time
	scanAt      time.Time // a requested scan; zero: none
	dirErr      bool      // the folder could not be listed at the last scan
	saturated   bool      // the tracking bound was reached
	claimed     int
	failures    int    // claim failures since the last report
	lastFailure string // redacted
}

func (l *loop) opts() *Options { return &l.w.opts }

func (l *loop) run() error {
	o := l.opts()
	l.log.Info("watching input folder", "path", l.w.root, "quiet", o.Quiet, "rescan", o.Rescan,
		"events", !o.DisableEvents)
	defer func() {
		if l.fsw != nil {
			l.fsw.Close()
		}
		l.wg.Wait()
		l.log.Info("stopped watching input folder", "claimed", l.claimed)
	}()

	l.setupEvents()
	l.rescan(time.Now())
	ticker := time.NewTicker(o.Rescan)
	defer ticker.Stop()

	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if l.fsw != nil {
			events, errs = l.fsw.Events, l.fsw.Errors
		}
		l.w.wakeups.Add(1)
		select {
		case <-l.ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				l.dropEvents()
				continue
			}
			l.onEvent(ev, time.Now())
		case err, ok := <-errs:
			if !ok {
				l.dropEvents()
				continue
			}
			l.onWatchError(err)
		case <-ticker.C:
			l.reportFailures()
			l.rescan(time.Now())
		case <-l.w.scanReq:
			l.requestScan(time.Now())
		case r := <-l.results:
			l.onResult(r, time.Now())
		case <-l.timer.C:
			l.timerAt = time.Time{}
			l.onTimer(time.Now())
		}
	}
}

// --- events -------------------------------------------------------------------------------

// setupEvents starts fsnotify on the folder, or leaves the watcher on rescans alone. It is
// tried again after each successful listing while it fails, so a folder that appears late or
// comes back gets its events.
func (l *loop) setupEvents() {
	if l.opts().DisableEvents || l.watching {
		return
	}
	var err error
	if l.fsw == nil {
		l.fsw, err = fsnotify.NewWatcher()
	}
	if err == nil {
		err = l.fsw.Add(l.w.root)
	}
	if err != nil {
		if l.fsw != nil {
			l.fsw.Close()
			l.fsw = nil
		}
		if !l.eventsWarn {
			l.eventsWarn = true
			l.log.Warn("file-system events unavailable; relying on periodic rescans", "rescan", l.opts().Rescan, "err", err)
		} else {
			l.log.Debug("file-system events still unavailable", "err", err)
		}
		return
	}
	if l.eventsWarn {
		l.log.Info("file-system events available again")
		l.eventsWarn = false
	}
	l.watching = true
}

// watchLost reports whether fsnotify dropped the folder's watch on its own: Linux ends a watch
// without any event when the file system under it is unmounted.
func (l *loop) watchLost() bool {
	return l.watching && l.fsw != nil && len(l.fsw.WatchList()) == 0
}

// folderID is the identity of the folder at root now, nil when it cannot be had.
func folderID(root string) fs.FileInfo {
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() {
		return nil
	}
	// On Windows os.SameFile reads the file id lazily, by path: later it would read the id of
	// whatever folder is there then. Comparing fi with itself reads it now.
	os.SameFile(fi, fi)
	return fi
}

func (l *loop) dropEvents() {
	if l.fsw != nil {
		l.fsw.Close()
		l.fsw = nil
	}
	l.watching = false
}

func (l *loop) onWatchError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		// Normal under a burst: the kernel queue (16,384 events by default on Linux) or the
		// 64 KiB Windows buffer filled up. The listing finds whatever the lost events named.
		l.log.Info("file-system event queue overflowed; rescanning the folder")
	} else {
		l.log.Info("file-system watch error; rescanning the folder")
		l.log.Debug("file-system watch error", "err", err)
	}
	l.requestScan(time.Now())
}

func (l *loop) onEvent(ev fsnotify.Event, now time.Time) {
	if filepath.Clean(ev.Name) == l.w.root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			l.log.Info("input folder removed or renamed; rescans will tell when it is back")
			l.dropEvents()
			l.requestScan(now)
		}
		return
	}
	if filepath.Dir(ev.Name) != l.w.root {
		return
	}
	name := filepath.Base(ev.Name)
	if Ignored(name) {
		return
	}
	l.log.Debug("file-system event", "file", name, "op", ev.Op.String())
	e := l.entries[name]
	if e != nil && (e.inFlight || e.queued) {
		return // looked at again when the claim or the worker is done
	}
	fi, err := os.Lstat(ev.Name)
	if err != nil || !isFile(fi.Mode()) {
		if e != nil {
			l.look(e, now) // gone, renamed or replaced: find out now
		}
		return
	}
	if e == nil {
		if len(l.entries) >= l.w.maxTracked && !l.partnerTracked(name) {
			// Past the bound: the rescans take it (and say so at info level).
			l.log.Debug("not tracked: too many pending files", "file", name)
			return
		}
		e = l.add(name)
	}
	l.observe(e, fi, now)
	l.peekEOF(e, now)
	// Whatever was planned, the file just moved: look again a quiet window from now.
	l.schedule(e, now.Add(l.quietFor(e)))
}

// --- scans --------------------------------------------------------------------------------

// requestScan asks for a full listing soon. Requests closer together than scanGap are merged,
// so a storm of overflow errors cannot turn into back-to-back listings of a big folder.
func (l *loop) requestScan(now time.Time) {
	at := now
	if gap := l.scanGap(); !l.lastScan.IsZero() && l.lastScan.Add(gap).After(now) {
		at = l.lastScan.Add(gap)
	}
	if l.scanAt.IsZero() || at.Before(l.scanAt) {
		l.scanAt = at
	}
	l.arm(at)
}

// scanGap is half the quiet window, at most a second: a requested scan comes well before any
// file could have become ready.
func (l *loop) scanGap() time.Duration {
	return min(l.opts().Quiet/2, time.Second)
}

// isFile reports whether a directory entry may be a document: anything but a directory, a
// symbolic link, a pipe, a socket or a device. Windows reports files behind unknown reparse points
// (cloud placeholders, for one) as irregular: they are taken, and the open decides.
func isFile(m fs.FileMode) bool {
	return m&(fs.ModeDir|fs.ModeSymlink|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice) == 0
}

type listed struct {
	name string
	fi   fs.FileInfo
}

// rescan lists the folder and brings every entry up to date: new files are tracked, vanished
// ones forgotten, every tracked file observed once more and evaluated.
func (l *loop) rescan(now time.Time) {
	l.lastScan = now
	l.scanAt = time.Time{}
	des, err := os.ReadDir(l.w.root)
	if err != nil {
		if !l.dirErr {
			l.dirErr = true
			l.log.Warn("cannot list input folder (a share gone, the folder removed?); documents dropped there are taken "+
				"when it is back, tried again at each rescan", "rescan", l.opts().Rescan.String(), "err", err)
		}
		return
	}
	id := folderID(l.w.root)
	replaced := id != nil && l.rootID != nil && !os.SameFile(id, l.rootID)
	if id != nil {
		l.rootID = id
	}
	if replaced || l.watchLost() {
		l.dropEvents() // and watch the folder there now
	}
	l.setupEvents()
	// Said once the folder there now is watched: from here a file dropped into it is seen.
	switch {
	case l.dirErr:
		l.dirErr = false
		l.log.Info("input folder readable again")
	case replaced:
		l.log.Warn("input folder replaced by another at the same path (a share mounted or unmounted, the folder " +
			"made again); documents are taken from the one there now")
	}

	seen := make(map[string]bool, len(des))
	var fresh []listed
	var looked []*entry
	for _, de := range des {
		name := de.Name()
		if !isFile(de.Type()) || Ignored(name) {
			continue
		}
		seen[name] = true
		e := l.entries[name]
		if e != nil && (e.inFlight || e.queued) {
			continue
		}
		// On Windows this comes from the directory entry, which may lag behind a file still
		// open for writing; the exclusive open refuses such a file anyway, and once the writer
		// has closed it the entry is up to date.
		fi, err := de.Info()
		if err != nil {
			continue // vanished since the listing
		}
		if e == nil {
			fresh = append(fresh, listed{name, fi})
			continue
		}
		l.observe(e, fi, now)
		looked = append(looked, e)
	}
	for name, e := range l.entries {
		if !seen[name] && !e.inFlight {
			l.log.Debug("file left the folder", "file", name)
			l.remove(e)
		}
	}

	room := l.w.maxTracked - len(l.entries)
	if len(fresh) > room {
		// Oldest first, as printed; partners of tracked files always come in (see partnerTracked).
		sort.Slice(fresh, func(i, j int) bool { return fresh[i].fi.ModTime().Before(fresh[j].fi.ModTime()) })
	}
	left := 0
	for _, f := range fresh {
		if len(l.entries) >= l.w.maxTracked && !l.partnerTracked(f.name) {
			left++
			continue
		}
		e := l.add(f.name)
		l.observe(e, f.fi, now)
		looked = append(looked, e)
	}
	l.setSaturated(left > 0)
	for _, e := range looked {
		if l.entries[e.name] == e {
			l.peekEOF(e, now)
			l.evaluate(e, now)
		}
	}
	l.log.Debug("rescan", "files", len(seen), "tracked", len(l.entries), "claims", l.active, "waiting", len(l.waitQ))
}

func (l *loop) setSaturated(on bool) {
	if on == l.saturated {
		return
	}
	l.saturated = on
	if on {
		l.log.Info("too many files pending; new ones are taken at later rescans", "limit", l.w.maxTracked)
	} else {
		l.log.Info("pending files back under the limit", "tracked", len(l.entries))
	}
}

// --- entries ------------------------------------------------------------------------------

func (l *loop) add(name string) *entry {
	k, pair := kindOf(name)
	e := &entry{name: name, kind: k, pair: pair}
	l.entries[name] = e
	if k == kindPDF || k == kindJSON {
		s := l.pairs[pair]
		if s == nil {
			s = &pairSlot{}
			l.pairs[pair] = s
		}
		if k == kindPDF {
			s.pdfs = append(s.pdfs, e)
		} else {
			s.jsons = append(s.jsons, e)
		}
	}
	return e
}

func (l *loop) remove(e *entry) {
	if l.entries[e.name] != e {
		return
	}
	delete(l.entries, e.name)
	e.queued = false // a stale waitQ element is skipped
	if s := l.pairs[e.pair]; s != nil {
		s.pdfs = without(s.pdfs, e)
		s.jsons = without(s.jsons, e)
		if len(s.pdfs) == 0 && len(s.jsons) == 0 {
			delete(l.pairs, e.pair)
		}
	}
}

func without(list []*entry, e *entry) []*entry {
	for i, x := range list {
		if x == e {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// partnerTracked reports whether name is the PDF or the sidecar of a tracked file. Such a file
// is tracked even past the bound, or its partner could wait for it forever.
func (l *loop) partnerTracked(name string) bool {
	k, pair := kindOf(name)
	s := l.pairs[pair]
	if s == nil {
		return false
	}
	return (k == kindPDF && len(s.jsons) > 0) || (k == kindJSON && len(s.pdfs) > 0)
}

// sidecarOf returns the tracked sidecar of a PDF: NAME.json with the same stem, one with the
// stem spelt exactly as the PDF's preferred to one differing in case, then the first by name; or
// nil.
func (l *loop) sidecarOf(pdf *entry) *entry {
	s := l.pairs[pdf.pair]
	if s == nil {
		return nil
	}
	stem := stemOf(pdf.name)
	var best *entry
	for _, j := range s.jsons {
		if best == nil {
			best = j
			continue
		}
		exact, bestExact := stemOf(j.name) == stem, stemOf(best.name) == stem
		if exact && !bestExact || exact == bestExact && j.name < best.name {
			best = j
		}
	}
	return best
}

func stemOf(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

// documentOf returns a tracked PDF whose sidecar is j, or nil when j is an orphan.
func (l *loop) documentOf(j *entry) *entry {
	s := l.pairs[j.pair]
	if s == nil {
		return nil
	}
	for _, p := range s.pdfs {
		if l.sidecarOf(p) == j {
			return p
		}
	}
	return nil
}

// partnerOnDisk reports whether the usual spellings of e's partner (NAME.json or NAME.JSON for
// a PDF, NAME.pdf or NAME.PDF for a sidecar) exist although nothing tracks them yet: written
// between two rescans on a folder without events. The caller then asks for a listing, which
// tracks them under their real names.
func (l *loop) partnerOnDisk(e *entry) bool {
	stem := stemOf(e.name)
	exts := []string{".json", ".JSON"}
	if e.kind == kindJSON {
		exts = []string{".pdf", ".PDF"}
	}
	for _, ext := range exts {
		if fi, err := os.Lstat(filepath.Join(l.w.root, stem+ext)); err == nil && isFile(fi.Mode()) {
			return true
		}
	}
	return false
}

// observe records one look at a file's size and modification time.
func (l *loop) observe(e *entry, fi fs.FileInfo, now time.Time) {
	if e.obs > 0 && fi.Size() == e.size && fi.ModTime().Equal(e.modTime) {
		e.obs++
		return
	}
	e.size, e.modTime = fi.Size(), fi.ModTime()
	e.obs = 1
	e.stableSince = now
	e.readyAt = time.Time{}
	e.eofKnown = false
}

// quietFor is the quiet window that applies to e now.
func (l *loop) quietFor(e *entry) time.Duration {
	o := l.opts()
	if e.kind == kindPDF && e.eofKnown && e.eof && o.PDFQuiet > 0 {
		return o.PDFQuiet
	}
	return o.Quiet
}

// peekEOF reads a PDF's tail at its first observation, so that a complete-looking PDF gets the
// shorter quiet window. A file that cannot be opened yet (held by its writer) keeps the long one.
func (l *loop) peekEOF(e *entry, now time.Time) {
	if e.kind != kindPDF || e.eofKnown || l.opts().PDFQuiet <= 0 {
		return
	}
	in, err := inspect(filepath.Join(l.w.root, e.name), true)
	if err != nil || in.size != e.size || !in.modTime.Equal(e.modTime) {
		return
	}
	e.eofKnown, e.eof = true, in.eof
}

// look takes a fresh observation of e and evaluates it.
func (l *loop) look(e *entry, now time.Time) {
	if e.inFlight || e.queued {
		return
	}
	fi, err := os.Lstat(filepath.Join(l.w.root, e.name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.log.Debug("file left the folder", "file", e.name)
		l.remove(e)
		return
	case err != nil:
		// A share gone away, a permission change: the next rescan tells more.
		l.log.Debug("cannot look at file", "file", e.name, "err", err)
		l.schedule(e, now.Add(l.opts().Rescan))
		return
	case !isFile(fi.Mode()):
		l.remove(e)
		return
	}
	l.observe(e, fi, now)
	l.peekEOF(e, now)
	l.evaluate(e, now)
}

// evaluate decides, from an observation just made, whether e is handed to a claim now, and
// otherwise when to look at it again.
func (l *loop) evaluate(e *entry, now time.Time) {
	o := l.opts()
	if e.inFlight || e.queued {
		return
	}
	if now.Before(e.notBefore) {
		l.schedule(e, e.notBefore)
		return
	}
	if !e.stable(now, l.quietFor(e)) {
		l.schedule(e, e.stableSince.Add(l.quietFor(e)))
		return
	}
	path := filepath.Join(l.w.root, e.name)

	if e.kind == kindJSON {
		if l.documentOf(e) != nil {
			e.due = time.Time{} // rides with its PDF, which drives the schedule
			return
		}
		if l.partnerOnDisk(e) {
			l.requestScan(now)
			l.schedule(e, now.Add(o.Quiet))
			return
		}
		if now.Sub(e.stableSince) < o.MaxWait {
			l.schedule(e, e.stableSince.Add(o.MaxWait))
			return
		}
		if !l.openable(e, now) {
			return
		}
		l.dispatch(e, nil, Ready{Path: path, Size: e.size, ModTime: e.modTime, Incomplete: e.size == 0})
		return
	}

	// A document: open it, and for a PDF look for the end marker.
	if !e.eofKnown || e.kind != kindPDF {
		in, err := inspect(path, e.kind == kindPDF)
		if err != nil {
			// Held open by its writer (Windows), unreadable, or gone: look again later.
			l.log.Debug("cannot open file yet", "file", e.name, "err", err)
			l.schedule(e, now.Add(o.Quiet))
			return
		}
		if in.size != e.size || !in.modTime.Equal(e.modTime) {
			l.observe(e, fileInfo{in}, now) // changed since the observation
			l.schedule(e, now.Add(o.Quiet))
			return
		}
		if e.kind == kindPDF {
			e.eofKnown, e.eof = true, in.eof
		}
	} else if !l.openable(e, now) {
		return
	}
	complete := e.size > 0 && (e.kind != kindPDF || e.eof)
	incomplete := false
	if !complete {
		if now.Sub(e.stableSince) < o.MaxWait {
			// Any change brings it back earlier (event or rescan).
			l.log.Debug("stable but not complete", "file", e.name, "size", e.size)
			l.schedule(e, e.stableSince.Add(o.MaxWait))
			return
		}
		incomplete = true
	}
	r := Ready{Path: path, Size: e.size, ModTime: e.modTime, Incomplete: incomplete}
	if e.kind != kindPDF {
		l.dispatch(e, nil, r)
		return
	}

	if e.readyAt.IsZero() {
		// The PDF has been still since stableSince: a sidecar had all that time to appear.
		e.readyAt = e.stableSince
	}
	j := l.sidecarOf(e)
	if j != nil && !j.inFlight && !j.queued {
		// Observe the sidecar now: it may be written right after the PDF.
		fi, err := os.Lstat(filepath.Join(l.w.root, j.name))
		if err != nil || !isFile(fi.Mode()) {
			l.remove(j)
			j = nil
		} else {
			l.observe(j, fi, now)
		}
	}
	switch {
	case j == nil:
		if l.partnerOnDisk(e) {
			l.requestScan(now)
			l.schedule(e, now.Add(o.Quiet))
			return
		}
		if now.Sub(e.readyAt) < o.SidecarWait {
			l.schedule(e, e.readyAt.Add(o.SidecarWait))
			return
		}
	case !j.inFlight && !j.queued && j.stable(now, o.Quiet) && j.size > 0 && l.openable(j, now):
		r.Sidecar = filepath.Join(l.w.root, j.name)
		l.dispatch(e, j, r)
		return
	default:
		// A sidecar is there but still moving, empty, locked or in another claim. Wait for
		// it, but not for ever: after MaxWait the PDF goes alone and the sidecar later ends
		// as an orphan, both failed or held with a reason rather than stuck.
		if now.Sub(e.readyAt) < o.MaxWait {
			next := now.Add(o.Quiet)
			if j.obs == 1 {
				next = j.stableSince.Add(o.Quiet)
			}
			l.schedule(e, next)
			return
		}
		l.log.Debug("sidecar never completed; PDF handed over alone", "file", e.name)
	}
	l.dispatch(e, nil, r)
}

// openable checks that e can be opened (exclusively on Windows) and is still what was observed.
func (l *loop) openable(e *entry, now time.Time) bool {
	in, err := inspect(filepath.Join(l.w.root, e.name), false)
	if err != nil {
		l.log.Debug("cannot open file yet", "file", e.name, "err", err)
		l.schedule(e, now.Add(l.opts().Quiet))
		return false
	}
	if in.size != e.size || !in.modTime.Equal(e.modTime) {
		l.observe(e, fileInfo{in}, now)
		l.schedule(e, now.Add(l.opts().Quiet))
		return false
	}
	return true
}

// fileInfo presents an inspection to observe.
type fileInfo struct{ in inspection }

func (f fileInfo) Name() string       { return "" }
func (f fileInfo) Size() int64        { return f.in.size }
func (f fileInfo) Mode() fs.FileMode  { return 0 }
func (f fileInfo) ModTime() time.Time { return f.in.modTime }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() any           { return nil }

// --- timer --------------------------------------------------------------------------------

// schedule plans a look at e at t.
func (l *loop) schedule(e *entry, t time.Time) {
	e.due = t
	l.arm(t)
}

// arm makes sure the timer fires no later than t (plus the coalescing slack).
func (l *loop) arm(t time.Time) {
	t = t.Add(l.slack())
	if !l.timerAt.IsZero() && !t.Before(l.timerAt) {
		return
	}
	l.timerAt = t
	l.timer.Reset(max(time.Until(t), 0))
}

// slack delays the timer by a sixteenth of the shortest quiet window so that files due at
// nearly the same moment are looked at in one pass: with N tracked files a pass costs O(N),
// and this keeps passes to about 16 per window however the due times are spread. The
// shortest window (a complete PDF's) sets it, or the slack alone would outweigh that window.
func (l *loop) slack() time.Duration {
	o := l.opts()
	w := o.Quiet
	if o.PDFQuiet > 0 && o.PDFQuiet < w {
		w = o.PDFQuiet
	}
	return w / 16
}

func (l *loop) onTimer(now time.Time) {
	if !l.scanAt.IsZero() && !now.Before(l.scanAt) {
		l.rescan(now)
	}
	var due []*entry
	for _, e := range l.entries {
		if !e.due.IsZero() && !now.Before(e.due) && !e.inFlight && !e.queued {
			due = append(due, e)
		}
	}
	// PDFs first, so that a PDF picks up its sidecar before the sidecar is judged an orphan.
	sort.Slice(due, func(i, j int) bool { return due[i].kind == kindPDF && due[j].kind != kindPDF })
	for _, e := range due {
		e.due = time.Time{}
		if l.entries[e.name] == e {
			l.look(e, now)
		}
	}
	l.rearm()
}

// rearm sets the timer for the earliest planned look or scan.
func (l *loop) rearm() {
	var next time.Time
	for _, e := range l.entries {
		if !e.due.IsZero() && !e.inFlight && !e.queued && (next.IsZero() || e.due.Before(next)) {
			next = e.due
		}
	}
	if !l.scanAt.IsZero() && (next.IsZero() || l.scanAt.Before(next)) {
		next = l.scanAt
	}
	if next.IsZero() {
		return
	}
	l.timerAt = time.Time{}
	l.timer.Stop()
	l.arm(next)
}

// --- claims -------------------------------------------------------------------------------

// dispatch hands r to a claim worker, or queues e when all workers are busy.
func (l *loop) dispatch(e, sidecar *entry, r Ready) {
	e.due = time.Time{}
	if l.active >= l.w.workers {
		e.queued = true
		l.waitQ = append(l.waitQ, e)
		return
	}
	r.InputID = l.opts().InputID
	r.Folder = l.rootID
	e.inFlight = true
	if sidecar != nil {
		sidecar.inFlight = true
		sidecar.due = time.Time{}
	}
	l.active++
	l.wg.Add(1)
	l.log.Debug("handing file to claim", "file", e.name, "sidecar", r.Sidecar != "", "incomplete", r.Incomplete)
	if e.backoff == 0 { // first attempt: say it once, not at each retry
		switch {
		case e.kind == kindJSON:
			l.log.Info("sidecar without a PDF handed over after the maximum wait", "max_wait", l.opts().MaxWait)
		case r.Incomplete:
			l.log.Info("file handed over incomplete after the maximum wait", "size", r.Size,
				"pdf", e.kind == kindPDF, "max_wait", l.opts().MaxWait)
		}
	}
	go func() {
		defer l.wg.Done()
		l.results <- result{doc: e, sidecar: sidecar, ready: r, err: callClaim(l.ctx, l.claim, r)}
	}()
}

// callClaim runs claim, turning a panic into an error so that one bad file cannot stop the input.
func callClaim(ctx context.Context, claim Claim, r Ready) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("claim panicked: %v", p)
		}
	}()
	return claim(ctx, r)
}

// errStillThere: a claim said it took the file, yet the same file is still in the folder.
var errStillThere = errors.New("claim returned success but the file is still in the input folder")

func (l *loop) onResult(res result, now time.Time) {
	l.active--
	e, j := res.doc, res.sidecar
	e.inFlight = false
	if j != nil {
		j.inFlight = false
	}
	err := res.err
	if err == nil {
		fi, statErr := os.Lstat(res.ready.Path)
		if statErr == nil && fi.Size() == res.ready.Size && fi.ModTime().Equal(res.ready.ModTime) {
			err = errStillThere // claiming it again would send it twice
		} else {
			l.claimed++
			l.log.Debug("file claimed", "file", e.name)
			l.remove(e)
			if statErr == nil {
				l.retrack(e.name, fi, now) // a new file under the same name
			}
			if j != nil {
				l.remove(j)
				if fi, err := os.Lstat(res.ready.Sidecar); err == nil && isFile(fi.Mode()) {
					l.retrack(j.name, fi, now)
				}
			}
		}
	}
	if err != nil {
		if l.ctx.Err() == nil {
			e.backoff = min(max(2*e.backoff, l.w.retryMin), l.w.retryMax)
			e.notBefore = now.Add(e.backoff)
			l.failures++
			l.lastFailure = redact(err.Error(), res.ready.Path, res.ready.Sidecar)
			l.log.Debug("claim failed; will retry", "file", e.name, "retry_in", e.backoff, "err", err)
		}
		if l.entries[e.name] == e {
			l.schedule(e, e.notBefore)
		}
	}
	l.drainQueue(now)
}

func (l *loop) retrack(name string, fi fs.FileInfo, now time.Time) {
	if l.entries[name] != nil || !isFile(fi.Mode()) {
		return
	}
	e := l.add(name)
	l.observe(e, fi, now)
	l.schedule(e, now.Add(l.opts().Quiet))
}

// drainQueue starts waiting files while workers are free. Each is looked at again first: it may
// have changed or gone while it waited.
func (l *loop) drainQueue(now time.Time) {
	for len(l.waitQ) > 0 && l.active < l.w.workers {
		e := l.waitQ[0]
		l.waitQ[0] = nil
		l.waitQ = l.waitQ[1:]
		if l.entries[e.name] != e || !e.queued {
			continue
		}
		e.queued = false
		l.look(e, now)
	}
	if len(l.waitQ) == 0 {
		l.waitQ = nil // let the backing array go after a burst
	}
}

// reportFailures logs, at most once a rescan period, how many claims failed, with the last
// error made free of file names.
func (l *loop) reportFailures() {
	if l.failures == 0 {
		return
	}
	l.log.Warn("claims failed; they will be retried", "failures", l.failures, "last_error", l.lastFailure)
	l.failures = 0
	l.lastFailure = ""
}

// redact replaces the given paths, their base names and their stems in msg with "<file>":
// file names may carry patient names and errors usually quote them.
func redact(msg string, paths ...string) string {
	var olds []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		base := filepath.Base(p)
		olds = append(olds, p, base)
		// A stem shorter than 3 characters is no name, and replacing it would shred the message.
		if stem := strings.TrimSuffix(base, filepath.Ext(base)); len(stem) >= 3 {
			olds = append(olds, stem)
		}
	}
	// Longest first, so a path is replaced whole before its name is.
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	for _, o := range olds {
		msg = strings.ReplaceAll(msg, o, "<file>")
	}
	return msg
}
