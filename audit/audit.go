// Package audit keeps the tamper-evident journal of mssbridge: one JSON object a line
// (JSON Lines), each entry carrying the hash of the one before it, so that an edited,
// deleted, inserted or reordered entry breaks the chain and Verify names where.
//
// The journal is the law's trace of every exchange: what was claimed, read, held,
// released, sent, refused. It is not a place for patient data. Callers record job ids,
// input and box ids, document hashes (doc_sha256), Message-IDs and short technical details;
// never a patient's name, birth date, INS or a patient's address
// (INS@patient.mssante.fr contains the INS). Whoever can read the journal can read it all.
//
// # Hash
//
// Each entry's hash is the lowercase hex SHA-256 of a canonical encoding of all its other
// fields. The encoding is a sequence of netstrings (LEN ":" BYTES ","; LEN in decimal,
// BYTES raw UTF-8), in this fixed order:
//
//	"mssbridge-audit/1"  (a version tag)
//	seq                   (decimal, no sign, no leading zeros)
//	time                  (UTC, RFC 3339 with nanoseconds, trailing zeros trimmed: time.RFC3339Nano)
//	event, job, input, box, actor, doc_sha256, message_id
//	N                     (number of detail entries, decimal)
//	key1, value1, ... keyN, valueN   (detail keys sorted by byte order)
//	prev                  (hash of the previous entry; "" for the first)
//
// A netstring states its own length, so no value can be confused with a separator and the
// encoding does not depend on how a JSON library escapes strings. The JSON line itself is
// not hashed byte for byte: re-indenting it, or reordering its keys, is not detected; any
// change of a value is.
//
// # Limits
//
// A hash chain proves that nothing was changed inside the journal. It cannot prove that the
// newest entries were not cut off the end together: keep the last hash (Journal.Last or
// Report.LastHash) somewhere else, such as the job store, to detect that.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// EventRepaired is the event appended by Open after it cut off a torn last line.
const EventRepaired = "journal_repaired"

// canonicalTag versions the canonical encoding. Change it only with a new Verify that
// understands both.
const canonicalTag = "mssbridge-audit/1"

// Entry is one line of the journal. Seq, Time, Prev and Hash are filled by Append.
type Entry struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Event     string            `json:"event"`
	Job       string            `json:"job,omitempty"`
	Input     string            `json:"input,omitempty"`
	Box       string            `json:"box,omitempty"`
	Actor     string            `json:"actor,omitempty"`
	DocSHA256 string            `json:"doc_sha256,omitempty"`
	MessageID string            `json:"message_id,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	Prev      string            `json:"prev"`
	Hash      string            `json:"hash"`
}

// ComputeHash returns the hash of e as defined in the package documentation. It reads
// every field but Hash.
func (e *Entry) ComputeHash() string {
	var b bytes.Buffer
	ns := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(',')
	}
	ns(canonicalTag)
	ns(strconv.FormatInt(e.Seq, 10))
	ns(e.Time.UTC().Format(time.RFC3339Nano))
	ns(e.Event)
	ns(e.Job)
	ns(e.Input)
	ns(e.Box)
	ns(e.Actor)
	ns(e.DocSHA256)
	ns(e.MessageID)
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ns(strconv.Itoa(len(keys)))
	for _, k := range keys {
		ns(k)
		ns(e.Detail[k])
	}
	ns(e.Prev)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// BrokenError names the first entry at which the journal stops being trustworthy.
type BrokenError struct {
	// Seq is the entry's sequence number as written in the line; for a line that cannot
	// be parsed, the number the entry should have had.
	Seq int64
	// Line is the 1-based line number in the file.
	Line int
	// Reason says what is wrong, in plain words.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit: journal broken at line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
}

// Report is what Verify found in a sound journal.
type Report struct {
	Entries  int64  // number of entries
	LastSeq  int64  // seq of the last entry, 0 when empty
	LastHash string // hash of the last entry, "" when empty
}

// Journal appends entries to one journal file. It is safe for concurrent use.
type Journal struct {
	path string

	mu   sync.Mutex
	f    *os.File // append-only handle: the lines go here
	lk   *os.File // read-only handle the file lock is taken on (Windows cannot lock f)
	seq  int64
	hash string
	size int64 // file size after our last write or read of the tail; -1: unknown
	err  error // sticky: set after a failed write, the file may hold a partial line

	// Group commit: appenders write their line under mu, then wait for an fsync that covers
	// it. One fsync serves every line written while the previous one ran, so concurrent
	// appenders (the pipeline's claim, read and send workers) share the disk's flushes.
	syncMu sync.Mutex
	synced int64 // highest seq known to be on disk
}

// now is the clock; tests replace it.
var now = time.Now

// Open opens the journal at path, creating it (and its folders, mode 0700; the file, mode
// 0600) when absent, and continues its chain from the last entry.
//
// A last line left torn by a crash (no trailing newline, or not JSON) is cut off and a
// journal_repaired entry is appended that records the SHA-256 and the length of the
// discarded bytes. A last line that parses but whose hash is wrong is not a crash: Open
// refuses it with a *BrokenError and leaves the file alone. Open reads only the tail of
// the file; run Verify to check all of it.
//
// Several Journals, in one process or several (the service and a command run beside
// it), may append to the same file: each Append takes an exclusive lock on the file
// (flock on Unix, LockFileEx on Windows) and first catches up with what the others wrote.
func Open(path string) (*Journal, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	created := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	// Windows opens O_APPEND files without the right to truncate, so repairs use their
	// own handle and this one only appends.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if created {
		syncDir(dir)
	}
	// LockFileEx needs a handle with read or write-data access, which Go's O_APPEND
	// handle on Windows lacks; a read-only handle serves every system.
	lk, err := os.Open(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	j := &Journal{path: path, f: f, lk: lk, size: -1}
	j.mu.Lock()
	defer j.mu.Unlock()
	unlock, err := lockFile(lk)
	if err != nil {
		f.Close()
		lk.Close()
		return nil, fmt.Errorf("audit: locking %s: %w", path, err)
	}
	defer unlock()
	if err := j.catchUp(); err != nil {
		f.Close()
		lk.Close()
		return nil, err
	}
	return j, nil
}

// catchUp reads the tail again when the file is not as this Journal left it (first
// use, another writer, a crash of another writer) and repairs a torn last line. The
// caller holds j.mu and the file lock.
func (j *Journal) catchUp() error {
	st, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if st.Size() == j.size {
		return nil
	}
	last, discarded, reason, newSize, err := repairTail(j.path)
	if err != nil {
		return err
	}
	j.seq, j.hash, j.size = 0, "", newSize
	if last != nil {
		j.seq, j.hash = last.Seq, last.Hash
	}
	if discarded != nil {
		sum := sha256.Sum256(discarded)
		_, err := j.appendLocked(Entry{
			Event: EventRepaired,
			Actor: "mssbridge",
			Detail: map[string]string{
				"discarded_sha256": hex.EncodeToString(sum[:]),
				"discarded_bytes":  strconv.Itoa(len(discarded)),
				"reason":           reason,
			},
		})
		return err
	}
	return nil
}

// tailChunk is how much of the end of the file Open reads first to find the last line.
// Entries are a few hundred bytes; the read doubles until a whole line is found.
const tailChunk = 64 << 10

// repairTail finds the last entry of the journal at path, cutting off a torn last line.
// It returns the last sound entry (nil for an empty journal), the discarded bytes and
// the file's size afterwards.
func repairTail(path string) (last *Entry, discarded []byte, reason string, newSize int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, "", 0, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, "", 0, fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil, nil, "", 0, nil
	}

	// Read backwards until the buffer holds the last two lines whole (or starts at the
	// start of the file): the last one to check, the one before to continue from when
	// the last is torn.
	var buf []byte
	var start int64
	for n := int64(tailChunk); ; n *= 2 {
		start = max(size-n, 0)
		buf = make([]byte, size-start)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return nil, nil, "", 0, fmt.Errorf("audit: %w", err)
		}
		if start == 0 || bytes.Count(buf[:len(buf)-1], []byte{'\n'}) >= 2 {
			break
		}
	}

	// lastStart is the offset in buf where the last line starts.
	var lastStart int
	if buf[len(buf)-1] != '\n' {
		lastStart = bytes.LastIndexByte(buf, '\n') + 1
		reason = "last line has no newline"
	} else {
		lastStart = bytes.LastIndexByte(buf[:len(buf)-1], '\n') + 1
		var e Entry
		if err := json.Unmarshal(buf[lastStart:len(buf)-1], &e); err == nil {
			if e.Hash != e.ComputeHash() {
				lineNo := countLines(f, start+int64(lastStart))
				return nil, nil, "", 0, &BrokenError{Seq: e.Seq, Line: lineNo + 1, Reason: "last entry's hash does not match its content"}
			}
			return &e, nil, "", size, nil
		}
		reason = "last line is not valid JSON"
	}

	// The entry before the torn line, if any, is the one to continue from. Check it
	// before cutting anything.
	if lastStart > 0 {
		prevEnd := lastStart - 1 // the newline ending the previous line
		prevStart := bytes.LastIndexByte(buf[:prevEnd], '\n') + 1
		var e Entry
		if err := json.Unmarshal(buf[prevStart:prevEnd], &e); err != nil || e.Hash != e.ComputeHash() {
			lineNo := countLines(f, start+int64(prevStart))
			return nil, nil, "", 0, &BrokenError{Seq: e.Seq, Line: lineNo + 1, Reason: "the entry before the torn last line is not sound"}
		}
		last = &e
	}

	discarded = slices.Clone(buf[lastStart:])
	if err := f.Truncate(start + int64(lastStart)); err != nil {
		return nil, nil, "", 0, fmt.Errorf("audit: cutting torn last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, nil, "", 0, fmt.Errorf("audit: %w", err)
	}
	return last, discarded, reason, start + int64(lastStart), nil
}

// countLines counts the newlines in the first n bytes of f (for error messages only).
func countLines(f *os.File, n int64) int {
	r := io.NewSectionReader(f, 0, n)
	buf := make([]byte, 64<<10)
	count := 0
	for {
		k, err := r.Read(buf)
		count += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return count
		}
	}
}

// syncDir makes a new file's name durable. Windows cannot sync a folder; nothing to do there.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// Append completes e (Seq, Time, Prev, Hash; whatever the caller put there is replaced),
// writes it as one line in one write, syncs the file to disk and returns the entry as
// written. Event must not be empty.
//
// After a failed write or sync the file may end with a partial line; the journal then
// refuses every further Append. Reopening it repairs the tail.
func (j *Journal) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if e.Event == "" {
		return Entry{}, errors.New("audit: entry without event")
	}
	e.Detail = cloneMap(e.Detail)

	j.mu.Lock()
	if j.f == nil {
		j.mu.Unlock()
		return Entry{}, errors.New("audit: journal closed")
	}
	if j.err != nil {
		j.mu.Unlock()
		return Entry{}, j.err
	}
	unlock, err := lockFile(j.lk)
	if err != nil {
		j.mu.Unlock()
		return Entry{}, fmt.Errorf("audit: locking %s: %w", j.path, err)
	}
	if err := j.catchUp(); err != nil {
		unlock()
		j.mu.Unlock()
		return Entry{}, err
	}
	written, err := j.writeLocked(e)
	unlock()
	j.mu.Unlock()
	if err != nil {
		return Entry{}, err
	}
	if err := j.syncThrough(written.Seq); err != nil {
		return Entry{}, err
	}
	return written, nil
}

// syncThrough returns once the line of seq is on disk, syncing the file unless another
// appender's sync already covered it.
func (j *Journal) syncThrough(seq int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= seq {
		return nil
	}
	j.mu.Lock()
	f, target := j.f, j.seq
	j.mu.Unlock()
	if f == nil {
		return errors.New("audit: journal closed")
	}
	if err := f.Sync(); err != nil {
		j.mu.Lock()
		j.err = fmt.Errorf("audit: journal unusable after failed sync (reopen to repair): %w", err)
		err = j.err
		j.mu.Unlock()
		return err
	}
	j.synced = target
	return nil
}

// appendLocked chains, writes and syncs e. The caller holds j.mu and the file lock.
func (j *Journal) appendLocked(e Entry) (Entry, error) {
	written, err := j.writeLocked(e)
	if err != nil {
		return Entry{}, err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("audit: journal unusable after failed sync (reopen to repair): %w", err)
		return Entry{}, j.err
	}
	return written, nil
}

// writeLocked chains and writes e, without syncing. The caller holds j.mu and the file lock.
func (j *Journal) writeLocked(e Entry) (Entry, error) {
	e.Seq = j.seq + 1
	e.Time = now().UTC().Round(0)
	e.Prev = j.hash
	e.Hash = e.ComputeHash()
	line, err := json.Marshal(&e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')
	if _, err := j.f.Write(line); err != nil {
		j.err = fmt.Errorf("audit: journal unusable after failed write (reopen to repair): %w", err)
		return Entry{}, j.err
	}
	j.seq, j.hash = e.Seq, e.Hash
	j.size += int64(len(line))
	return e, nil
}

// Last returns the seq and hash of the newest entry this Journal knows of (0 and "" for
// an empty journal). Another process may have appended since.
func (j *Journal) Last() (seq int64, hash string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq, j.hash
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Close closes the file. Append fails afterwards.
func (j *Journal) Close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	if lerr := j.lk.Close(); err == nil {
		err = lerr
	}
	j.f, j.lk = nil, nil
	return err
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// maxLine bounds one journal line when verifying; entries are a few hundred bytes.
const maxLine = 16 << 20

// Verify reads the whole journal at path and checks every entry: it parses, has no field
// the format does not know, its hash matches its content, its seq follows the previous
// one (starting at 1) and its prev is the previous entry's hash. It returns a
// *BrokenError for the first entry that fails, or another error when the file cannot be
// read. An empty file is a sound, empty journal.
func Verify(path string) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()

	var rep Report
	r := bufio.NewReaderSize(f, 64<<10)
	lineNo := 0
	for {
		line, err := readLine(r)
		if err == io.EOF && len(line) == 0 {
			return rep, nil
		}
		lineNo++
		want := rep.LastSeq + 1
		if errors.Is(err, errLineTooLong) {
			return rep, &BrokenError{Seq: want, Line: lineNo, Reason: "line too long"}
		}
		if err != nil && err != io.EOF {
			return rep, fmt.Errorf("audit: %w", err)
		}
		if err == io.EOF {
			return rep, &BrokenError{Seq: want, Line: lineNo, Reason: "last line has no newline (torn write)"}
		}
		line = line[:len(line)-1]

		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return rep, &BrokenError{Seq: want, Line: lineNo, Reason: "unparsable line: " + err.Error()}
		}
		if dec.More() {
			return rep, &BrokenError{Seq: want, Line: lineNo, Reason: "unparsable line: text after the entry"}
		}
		switch {
		case e.Hash != e.ComputeHash():
			return rep, &BrokenError{Seq: e.Seq, Line: lineNo, Reason: "hash does not match the entry's content"}
		case e.Seq != want:
			return rep, &BrokenError{Seq: e.Seq, Line: lineNo, Reason: fmt.Sprintf("seq gap: expected %d", want)}
		case e.Prev != rep.LastHash:
			return rep, &BrokenError{Seq: e.Seq, Line: lineNo, Reason: "prev does not match the previous entry's hash"}
		}
		rep.Entries++
		rep.LastSeq = e.Seq
		rep.LastHash = e.Hash
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line with its newline; at the end of the file, what is left
// and io.EOF.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := r.ReadSlice('\n')
		line = append(line, b...)
		if len(line) > maxLine {
			return line, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}
