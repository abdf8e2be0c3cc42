package directory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Build reads sourceFile and writes its index into indexDir (created 0700 if needed), replacing
// the index of an earlier version of the same source. The file appears whole or not at all:
// it is written under a temporary name, synced, then renamed. Malformed lines are counted and
// skipped; the error is for what makes the whole file unusable (unreadable, no "Adresse BAL"
// column, the file changing while it is read, a full disk).
func Build(ctx context.Context, sourceFile, indexDir string) (Stats, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	st, _, err := build(ctx, sourceFile, indexDir)
	return st, err
}

// buildMu serialises the builds of a process: two Opens racing on a missing index build it
// once. Builds by two processes are harmless (same content, same final name).
var buildMu sync.Mutex

// builds counts the builds of this process, for the tests.
var builds atomic.Int64

const (
	// maxReported is how many malformed lines Stats lists.
	maxReported = 10
	// partitionTarget is the size of source a pair of partitions (records, pairs) stands for:
	// each partition then holds about 3 MB and is sorted alone in memory, so the build's memory
	// does not grow with the file (but for 4 bytes a line, the record renumbering table).
	partitionTarget = 4 << 20
)

// partitionBits returns how many top bits of a hash choose a partition, for a source of that
// size: 2^6 = 64 for a million lines (214 MB). At most 2^8, so that the 2 x 256 temporary
// files stay below every platform's open-file limit.
func partitionBits(size int64) int {
	return max(2, min(8, bits.Len64(uint64(size/partitionTarget))))
}

// Stats describes a build.
type Stats struct {
	Lines     int           // data lines read (header and blank lines excluded)
	Entries   int           // lines indexed
	Skipped   int           // lines skipped: wrong column count, no address, too long
	Malformed []LineError   `json:",omitempty"` // the first skipped lines, with their numbers
	Encoding  string        // "UTF-8", "Windows-1252" (read for Latin-1 too), or both, line by line
	Duration  time.Duration // time the build took
	Size      int64         // size of the index file in bytes
}

// LineError is a skipped line of the source: its number (the header is line 1) and why.
type LineError struct {
	Line   int
	Reason string
}

// HeaderError is returned when the header line lacks a column the index cannot do without.
type HeaderError struct {
	File    string
	Missing []string // header names, as the ANS writes them
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("directory: %s: the header line lacks the column(s) %q (columns are matched by name)", e.File, e.Missing)
}

// column names of the extraction, as the ANS writes them, and the record field each fills.
var columnFields = []struct {
	name  string
	field int
}{
	{"Type de BAL", fKind},
	{"Adresse BAL", fAddress},
	{"Type d'identifiant PP", fIDType},
	{"Identifiant PP", fPPID},
	{"Identification nationale PP", fNationalID},
	{"Civilité d'exercice", fCivility},
	{"Nom d'exercice", fFamilyName},
	{"Prénom d'exercice", fGivenName},
	{"Libellé profession", fProfession},
	{"Libellé savoir-faire", fSpecialty},
	{"Raison Sociale structure BAL", fStructure},
	{"Service de rattachement", fService},
	{"Code postal structure BAL", fPostcode},
	{"Département structure BAL", fDepartment},
}

const (
	colDemat = "Dématérialisation"
	colL6    = "L6LIGNEACHEMINEMENT structure BAL"
)

// build does the work of Build; the caller holds buildMu.
func build(ctx context.Context, sourceFile, indexDir string) (Stats, string, error) {
	start := time.Now()
	fp, err := fingerprint(sourceFile)
	if err != nil {
		return Stats{}, "", fmt.Errorf("directory: %w", err)
	}
	if err := os.MkdirAll(indexDir, 0o700); err != nil {
		return Stats{}, "", fmt.Errorf("directory: create %s: %w", indexDir, err)
	}
	work, err := os.MkdirTemp(indexDir, ".build-")
	if err != nil {
		return Stats{}, "", fmt.Errorf("directory: %w", err)
	}
	defer os.RemoveAll(work)
	builds.Add(1)

	prefix, name := indexName(sourceFile, fp)
	b := &builder{ctx: ctx, source: sourceFile, work: work}
	defer b.closeAll()
	if err := b.run(); err != nil {
		return Stats{}, "", err
	}
	if fp2, err := fingerprint(sourceFile); err != nil || fp2 != fp {
		return Stats{}, "", fmt.Errorf("directory: %s changed while it was being indexed; try again once it is complete", sourceFile)
	}
	final := filepath.Join(indexDir, name)
	if err := b.finish(fp, final, start); err != nil {
		return Stats{}, "", fmt.Errorf("directory: write %s: %w", final, err)
	}
	removeStale(indexDir, prefix, name)
	b.stats.Duration = time.Since(start)
	return b.stats, final, nil
}

// removeStale removes the indexes of older versions of the same source, and build folders a
// crash left behind (a day old: a build by another process may be running).
func removeStale(indexDir, prefix, keep string) {
	des, err := os.ReadDir(indexDir)
	if err != nil {
		return
	}
	for _, de := range des {
		n := de.Name()
		switch {
		case n != keep && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".idx"):
			// Fails on Windows while another process has it open: removed next time.
			os.Remove(filepath.Join(indexDir, n))
		case strings.HasPrefix(n, ".build-") || (strings.HasPrefix(n, "."+prefix) && strings.HasSuffix(n, ".tmp")):
			if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(indexDir, n))
			}
		}
	}
}

// spill is a temporary file written during the pass over the source and read back, whole,
// when the index is assembled.
type spill struct {
	f    *os.File
	w    *bufio.Writer
	n    int   // items written
	size int64 // bytes written
}

type builder struct {
	ctx    context.Context
	source string
	work   string

	stats Stats
	out   *os.File // the index under construction, in work
	ow    *bufio.Writer

	// Records are spread over recParts by the hash of their family name, and sorted by it when
	// the index is assembled: the entries of one name are contiguous, and ByName("MARTIN", "")
	// reads a few blocks rather than thousands of scattered records. Pairs (term hash, record
	// number) are spread over pairParts by the term hash.
	bits      int
	recParts  []spill
	pairParts []spill
	seq       uint32 // records written
	recBytes  uint64
	pairs     uint64

	scratch [12]byte
}

func (b *builder) closeAll() {
	if b.out != nil {
		b.out.Close()
		b.out = nil
	}
	for _, ps := range [][]spill{b.recParts, b.pairParts} {
		for i := range ps {
			if ps[i].f != nil {
				ps[i].f.Close()
				ps[i].f = nil
			}
		}
	}
}

func (b *builder) openSpills(prefix string) ([]spill, error) {
	out := make([]spill, 1<<b.bits)
	for i := range out {
		f, err := os.OpenFile(filepath.Join(b.work, prefix+strconv.Itoa(i)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return out, fmt.Errorf("directory: %w", err)
		}
		out[i] = spill{f: f, w: bufio.NewWriterSize(f, 16<<10)}
	}
	return out, nil
}

// readSpill reads a spill file whole into buf (grown as needed), closes and removes it.
func (b *builder) readSpill(sp *spill, buf []byte) ([]byte, error) {
	buf = grow(buf, int(sp.size))
	if _, err := sp.f.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && sp.size == 0) {
		return buf, err
	}
	name := sp.f.Name()
	sp.f.Close()
	sp.f = nil
	os.Remove(name)
	return buf, nil
}

// natID appends to dst the national identifier of a professional: "Identification nationale
// PP" when given, else the id type followed by the id (8 + RPPS), as the ANS builds it.
func natID[T ~string | ~[]byte](idType, ppid, national T, dst []byte) []byte {
	if len(national) > 0 {
		return append(dst, national...)
	}
	if len(ppid) == 0 || len(idType) == 0 {
		return dst
	}
	dst = append(dst, idType...)
	return append(dst, ppid...)
}

// townOf returns the town of an L6 line ("69003 LYON" -> "LYON", "69437 LYON CEDEX 03" ->
// "LYON"): the routing line minus its leading postcode and any CEDEX suffix.
func townOf(l6 []byte) []byte {
	if i := bytes.IndexByte(l6, ' '); i > 0 && isDigits(l6[:i]) {
		l6 = bytes.TrimSpace(l6[i+1:])
	}
	for _, cedex := range [][]byte{[]byte(" CEDEX"), []byte(" Cedex"), []byte(" cedex")} {
		if i := bytes.Index(l6, cedex); i > 0 {
			l6 = bytes.TrimSpace(l6[:i])
		}
	}
	return l6
}

func isDigits[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// searchFields are the fields whose words Search matches.
var searchFields = [...]int{fFamilyName, fGivenName, fTown, fPostcode, fDepartment, fProfession,
	fSpecialty, fStructure, fService, fPPID, fNationalID}

// stopWords are not indexed as search words (too common to narrow anything, and part of
// names: "LE GOFF"); a query word among them is still checked against the entry.
var stopWords = map[string]bool{"DE": true, "DU": true, "DES": true, "LA": true, "LE": true,
	"LES": true, "ET": true, "EN": true, "AU": true, "AUX": true, "SUR": true}

// forEachWord calls fn with each search word of a record's fields: the folded words of
// searchFields, plus the glued form of a multi-word family or given name ("LEGOFF"). With
// indexing set, one-letter words and stop words are left out. buf is scratch space; the words
// passed to fn are only valid during the call.
func forEachWord[T ~string | ~[]byte](buf []byte, fields *[numFields]T, indexing bool, fn func([]byte)) []byte {
	for _, f := range searchFields {
		buf = appendFolded(buf[:0], fields[f], ' ')
		multi := false
		for w := range bytes.SplitSeq(buf, []byte{' '}) {
			if len(w) != len(buf) {
				multi = true
			}
			if indexing && (len(w) < 2 || stopWords[string(w)]) {
				continue
			}
			fn(w)
		}
		if multi && (f == fFamilyName || f == fGivenName) {
			buf = appendFolded(buf[:0], fields[f], 0)
			fn(buf)
		}
	}
	return buf
}

// finish assembles the index: the records, sorted by family name, partition after partition;
// then the pairs, their record numbers turned into record offsets, sorted by hash; the bucket
// directory; the header. Then it syncs and renames the file to final.
func (b *builder) finish(fp [32]byte, final string, start time.Time) error {
	h := header{recOff: headerSize, pairs: b.pairs, fingerprint: fp}
	if b.pairs >= 1<<32 {
		return fmt.Errorf("%d terms: more than the index's 32-bit counts", b.pairs)
	}
	// newOff[seq] is the offset of record seq once sorted: the only table of the build that
	// grows with the file (4 bytes a line).
	newOff := make([]uint32, b.seq)
	// Buffers sized once for the largest partition: no garbage, so the heap stays near what
	// is live (a million lines: ~20 MB).
	var maxSize int64
	var maxRecs, maxPairs int
	for i := range b.recParts {
		maxSize = max(maxSize, b.recParts[i].size, b.pairParts[i].size)
		maxRecs = max(maxRecs, b.recParts[i].n)
		maxPairs = max(maxPairs, b.pairParts[i].n)
	}
	raw := make([]byte, 0, maxSize)
	keys, tmpK := make([]uint64, 0, max(maxRecs, maxPairs)), make([]uint64, 0, max(maxRecs, maxPairs))
	idx, tmpI, starts := make([]uint32, 0, maxRecs), make([]uint32, 0, maxRecs), make([]uint32, 0, maxRecs)
	var err error
	var recLen uint64
	for i := range b.recParts {
		sp := &b.recParts[i]
		if raw, err = b.readSpill(sp, raw); err != nil {
			return err
		}
		n := sp.n
		keys, idx, starts = grow(keys, n), grow(idx, n), grow(starts, n)
		p := 0
		for j := range n {
			starts[j] = uint32(p)
			// 24 bits of the family hash after the partition's: names that share them are
			// interleaved, which costs a lookup nothing but a longer read.
			keys[j] = binary.LittleEndian.Uint64(raw[p+4:]) << b.bits >> 40
			idx[j] = uint32(j)
			l, k := binary.Uvarint(raw[p+12:])
			p += 12 + k + int(l)
		}
		tmpK, tmpI = grow(tmpK, n), grow(tmpI, n)
		radixSort(keys, idx, tmpK, tmpI, 24) // stable: one name's records stay in source order
		for _, j := range idx {
			p := starts[j]
			seq := binary.LittleEndian.Uint32(raw[p:])
			l, k := binary.Uvarint(raw[p+12:])
			end := p + 12 + uint32(k) + uint32(l)
			newOff[seq] = uint32(recLen)
			b.ow.Write(raw[p+12 : end])
			recLen += uint64(end - p - 12)
		}
	}
	h.recLen = recLen
	h.tabOff = headerSize + recLen
	// One bucket per ~64 pairs, so that a lookup reads about 512 bytes of table.
	h.bits = uint32(max(8, min(24, bits.Len64(b.pairs/64))))
	dir := make([]uint32, 1<<h.bits+1)
	raw, keys, tmpK, idx, tmpI, starts = nil, nil, nil, nil, nil, nil
	// The pair partitions are sorted by rounds, two at a time (each sorter holds ~8 MB for a
	// million lines: more would trade memory for little), and written in order.
	sorters := make([]pairSorter, min(runtime.GOMAXPROCS(0), 2, len(b.pairParts)))
	var entry [pairSize]byte
	for round := 0; round < len(b.pairParts); round += len(sorters) {
		var wg sync.WaitGroup
		for w := range sorters {
			if round+w < len(b.pairParts) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sorters[w].sort(b, &b.pairParts[round+w], newOff, int(h.bits), maxSize, maxPairs)
				}()
			}
		}
		wg.Wait()
		for w := range sorters {
			ps := &sorters[w]
			if round+w >= len(b.pairParts) {
				break
			}
			if ps.err != nil {
				return ps.err
			}
			for j, k := range ps.keys {
				dir[k>>32+1]++
				binary.LittleEndian.PutUint32(entry[:4], uint32(k))
				binary.LittleEndian.PutUint32(entry[4:], ps.offs[j])
				b.ow.Write(entry[:])
			}
		}
	}
	for i := 1; i < len(dir); i++ {
		dir[i] += dir[i-1]
	}
	h.dirOff = h.tabOff + b.pairs*pairSize
	var w [4]byte
	for _, d := range dir {
		binary.LittleEndian.PutUint32(w[:], d)
		b.ow.Write(w[:])
	}
	if err := b.ow.Flush(); err != nil {
		return err
	}
	end := h.dirOff + uint64(len(dir))*4
	b.stats.Size = int64(end)
	h.stats = b.stats
	h.stats.Duration = time.Since(start) // all but the sync and the rename
	hb, err := h.marshal()
	if err != nil {
		return err
	}
	if _, err := b.out.WriteAt(hb, 0); err != nil {
		return err
	}
	if err := b.out.Sync(); err != nil {
		return err
	}
	if err := b.out.Close(); err != nil {
		b.out = nil
		return err
	}
	tmp := b.out.Name()
	b.out = nil
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have built the same index and have it open (Windows).
		if _, serr := os.Stat(final); serr == nil {
			return nil
		}
		return err
	}
	syncDir(filepath.Dir(final))
	return nil
}

// pairSorter sorts one partition of pairs at a time, with buffers of its own.
type pairSorter struct {
	raw        []byte
	keys, tmpK []uint64
	offs, tmpO []uint32
	err        error
}

// sort reads a partition of pairs (term hash, record number) and leaves in keys and offs its
// pairs as (top tableBits+32 bits of the hash, record offset), sorted by both.
func (ps *pairSorter) sort(b *builder, sp *spill, newOff []uint32, tableBits int, maxSize int64, maxPairs int) {
	if ps.raw == nil {
		ps.raw = make([]byte, 0, maxSize)
		ps.keys, ps.tmpK = make([]uint64, 0, maxPairs), make([]uint64, 0, maxPairs)
		ps.offs, ps.tmpO = make([]uint32, 0, maxPairs), make([]uint32, 0, maxPairs)
	}
	if ps.raw, ps.err = b.readSpill(sp, ps.raw); ps.err != nil {
		return
	}
	n := sp.n
	ps.keys, ps.offs = grow(ps.keys, n), grow(ps.offs, n)
	for j := range n {
		ps.keys[j] = binary.LittleEndian.Uint64(ps.raw[j*12:]) >> (32 - tableBits)
		ps.offs[j] = newOff[binary.LittleEndian.Uint32(ps.raw[j*12+8:])]
	}
	ps.tmpK, ps.tmpO = grow(ps.tmpK, n), grow(ps.tmpO, n)
	// By offset, then stably by hash. The top bits of the hash are the partition's, the same
	// for all.
	radixSort(ps.offs, ps.keys, ps.tmpO, ps.tmpK, 32)
	radixSort(ps.keys, ps.offs, ps.tmpK, ps.tmpO, tableBits+32-b.bits)
}

// syncDir makes a rename durable; Windows cannot open a folder for that, and needs not.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// radixSort sorts keys (and vals alongside) on their low keyBits bits, stably: LSD radix
// sort, 11 bits a pass, O(n) where a comparison sort of 15M pairs took over a second.
func radixSort[K ~uint32 | ~uint64, V any](keys []K, vals []V, tmpK []K, tmpV []V, keyBits int) {
	const digit = 11
	n := len(keys)
	if n < 2 {
		return
	}
	var count [1 << digit]int
	src, dst := keys, tmpK
	srcV, dstV := vals, tmpV
	for shift := 0; shift < keyBits; shift += digit {
		clear(count[:])
		for _, k := range src {
			count[(k>>shift)&(1<<digit-1)]++
		}
		if count[(src[0]>>shift)&(1<<digit-1)] == n {
			continue // every key has this digit
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i, k := range src {
			d := (k >> shift) & (1<<digit - 1)
			dst[count[d]] = k
			dstV[count[d]] = srcV[i]
			count[d]++
		}
		src, dst = dst, src
		srcV, dstV = dstV, srcV
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(vals, srcV)
	}
}
