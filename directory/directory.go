// Package directory is the index of the Annuaire Santé MSSanté extraction: who owns an
// address, the addresses of an RPPS number, of a name, and a free-text search for the review
// desk.
//
// The extraction (pipe-separated, header line first, UTF-8 or Latin-1, up to a million lines)
// is indexed once into one file beside the job store and read from there with ReadAt: memory
// holds a small bucket table, never the entries, so a million-line directory costs a few
// megabytes of RAM. The index is rebuilt when the source file changes. See format.go for the
// layout, build.go and pass.go for how it is written.
package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Entry is one line of the extraction: one mailbox and its owner.
type Entry struct {
	Kind           string // "Type de BAL": PER, ORG, APP
	Address        string // "Adresse BAL", lowercased
	IDType         string // "Type d'identifiant PP" (8 = RPPS)
	PPID           string // "Identifiant PP" (the RPPS, 11 digits, when IDType is 8)
	NationalID     string // "Identification nationale PP" (8+RPPS)
	Civility       string // "Civilité d'exercice" (DR, M, MME…)
	FamilyName     string // "Nom d'exercice"
	GivenName      string // "Prénom d'exercice"
	Profession     string // "Libellé profession"
	Specialty      string // "Libellé savoir-faire"
	Dematerialised bool   // "Dématérialisation" == "O": no paper copies wanted
	Structure      string // "Raison Sociale structure BAL"
	Service        string // "Service de rattachement"
	Postcode       string // "Code postal structure BAL"
	Town           string // town part of "L6LIGNEACHEMINEMENT structure BAL" ("69003 LYON" -> "LYON")
	Department     string // "Département structure BAL"
}

// Index is an open directory index. Its methods are safe for concurrent use. Lookups return
// one entry per address (a line repeating an address already returned is left out), in the
// order of the index: grouped by family name, and in source order within a name. They return
// nothing once the index is closed or when the file cannot be read.
type Index struct {
	f      *os.File
	h      header
	dir    []uint32 // bucket -> index of its first pair; len 2^bits + 1
	closed atomic.Bool
	path   string
}

// Open opens the index of sourceFile kept in indexDir, building it first when it is missing or
// when the source has changed since (size, modification time, or its first or last 64 KiB).
func Open(ctx context.Context, sourceFile, indexDir string) (*Index, error) {
	fp, err := fingerprint(sourceFile)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	_, name := indexName(sourceFile, fp)
	path := filepath.Join(indexDir, name)
	if ix, err := openIndex(path, fp); err == nil {
		return ix, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if ix, err := openIndex(path, fp); err == nil {
		return ix, nil // built by a concurrent Open
	}
	_, path, err = build(ctx, sourceFile, indexDir)
	if err != nil {
		return nil, err
	}
	fp, err = fingerprint(sourceFile)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	ix, err := openIndex(path, fp)
	if err != nil {
		return nil, fmt.Errorf("directory: open %s: %w", path, err)
	}
	return ix, nil
}

func openIndex(path string, fp [32]byte) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ix := &Index{f: f, path: path}
	if err := ix.load(fp); err != nil {
		f.Close()
		return nil, err
	}
	return ix, nil
}

func (ix *Index) load(fp [32]byte) error {
	hb := make([]byte, headerSize)
	if _, err := ix.f.ReadAt(hb, 0); err != nil {
		return errBadIndex
	}
	if err := ix.h.unmarshal(hb); err != nil {
		return err
	}
	if ix.h.fingerprint != fp {
		return errors.New("index of another version of the source")
	}
	st, err := ix.f.Stat()
	if err != nil {
		return err
	}
	nb := uint64(1)<<ix.h.bits + 1
	h := ix.h
	if h.recOff != headerSize || h.tabOff != h.recOff+h.recLen || h.dirOff != h.tabOff+h.pairs*pairSize ||
		uint64(st.Size()) != h.dirOff+nb*4 {
		return errBadIndex
	}
	raw := make([]byte, nb*4)
	if _, err := ix.f.ReadAt(raw, int64(h.dirOff)); err != nil {
		return errBadIndex
	}
	ix.dir = make([]uint32, nb)
	for i := range ix.dir {
		ix.dir[i] = binary.LittleEndian.Uint32(raw[i*4:])
	}
	if uint64(ix.dir[nb-1]) != h.pairs {
		return errBadIndex
	}
	return nil
}

// Close releases the file. Lookups after Close return nothing.
func (ix *Index) Close() error {
	if ix.closed.Swap(true) {
		return nil
	}
	return ix.f.Close()
}

// Stats returns the statistics of the build that wrote this index.
func (ix *Index) Stats() Stats { return ix.h.stats }

// Path is the index file.
func (ix *Index) Path() string { return ix.path }

// ByAddress returns the entry of an MSSanté address (case-insensitive).
func (ix *Index) ByAddress(addr string) (Entry, bool) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return Entry{}, false
	}
	var found Entry
	ok := false
	ix.each(ix.postings(termAddress, addr), func(e Entry) bool {
		if e.Address == addr {
			found, ok = e, true
			return false
		}
		return true
	})
	return found, ok
}

// rppsKey returns the national id ("8" + RPPS) of an 11-digit RPPS or of a 12-character
// national id starting with 8, spaces ignored; "" for anything else.
func rppsKey(id string) string {
	id = strings.Join(strings.Fields(id), "")
	switch {
	case len(id) == 11 && isDigits(id):
		return "8" + id
	case len(id) == 12 && id[0] == '8' && isDigits(id):
		return id
	}
	return ""
}

// ByRPPS returns the entries of a professional: id is the 11-digit RPPS or the 12-character
// national id "8"+RPPS.
func (ix *Index) ByRPPS(id string) []Entry {
	key := rppsKey(id)
	if key == "" {
		return nil
	}
	var out uniqueEntries
	ix.each(ix.postings(termNatID, key), func(e Entry) bool {
		if string(natID(e.IDType, e.PPID, e.NationalID, nil)) == key {
			out.add(e)
		}
		return true
	})
	return out.list
}

// ByName returns the entries whose family name has the NameKey of family and whose given
// name matches given: "" matches any; otherwise the NameKeys must be equal ("Jean-Pierre" =
// "jean pierre", but "Jean" ≠ "Jean-Pierre"), or given is initials only ("J.", "J.-P.") and
// the entry's given name has as many words with those initials ("J." matches "Jean", not
// "Jean-Pierre").
func (ix *Index) ByName(family, given string) []Entry {
	fk := NameKey(family)
	if fk == "" {
		return nil
	}
	gw := words(given)
	initials := len(gw) > 0
	for _, w := range gw {
		if len(w) != 1 {
			initials = false
		}
	}
	var offs []uint32
	gk := strings.Join(gw, "")
	switch {
	case gk == "" || initials:
		offs = ix.postings(termFamily, fk)
	default:
		offs = ix.postings(termName, fk+"\x00"+gk)
	}
	out := uniqueEntries{list: make([]Entry, 0, len(offs))}
	var buf []byte
	sameFamily := "" // the last family name seen to have the key: entries come grouped by name
	ix.each(offs, func(e Entry) bool {
		if e.FamilyName != sameFamily || sameFamily == "" {
			buf = appendFolded(buf[:0], e.FamilyName, 0)
			if string(buf) != fk {
				return true
			}
			sameFamily = e.FamilyName
		}
		switch {
		case gk == "":
		case initials:
			ew := words(e.GivenName)
			if len(ew) != len(gw) {
				return true
			}
			for i := range ew {
				a, _ := utf8.DecodeRuneInString(ew[i])
				b, _ := utf8.DecodeRuneInString(gw[i])
				if a != b {
					return true
				}
			}
		default:
			buf = appendFolded(buf[:0], e.GivenName, 0)
			if string(buf) != gk {
				return true
			}
		}
		out.add(e)
		return true
	})
	if len(out.list) == 0 {
		return nil
	}
	return out.list
}

// uniqueEntries collects entries, one per address.
type uniqueEntries struct {
	list []Entry
	// Once the list is long enough for it to beat a scan: an open-addressing set of address
	// hashes (cheaper than a map of strings for the thousands of entries of a common name); a
	// hash already there is checked against the list.
	set []uint64
}

func (u *uniqueEntries) add(e Entry) {
	if u.set == nil && len(u.list) < 16 {
		for _, x := range u.list {
			if x.Address == e.Address {
				return
			}
		}
		u.list = append(u.list, e)
		return
	}
	if u.set == nil || 2*len(u.list) >= len(u.set) {
		u.set = make([]uint64, 1<<bits.Len(uint(4*max(len(u.list), cap(u.list)/2)+16)))
		for _, x := range u.list {
			u.insert(hashTerm(termAddress, x.Address))
		}
	}
	if h := hashTerm(termAddress, e.Address); !u.insert(h) {
		for _, x := range u.list {
			if x.Address == e.Address {
				return
			}
		}
	}
	u.list = append(u.list, e)
}

// insert adds h to the set and reports whether it was not there yet (0 stands for empty:
// a hash of 0 is stored as 1, which only costs a false "already there" and a scan).
func (u *uniqueEntries) insert(h uint64) bool {
	h = max(h, 1)
	mask := uint64(len(u.set) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch u.set[i] {
		case 0:
			u.set[i] = h
			return true
		case h:
			return false
		}
	}
}

// bucketRead is the number of pairs read at once when narrowing a bucket: 4 KiB.
const bucketRead = 512

// postings returns the record offsets of the pairs whose hash is the term's, in record order.
func (ix *Index) postings(kind byte, term string) []uint32 {
	return ix.pairOffsets(ix.find(kind, term))
}

// find returns the range of pair indexes [lo, hi) whose hash is the term's.
func (ix *Index) find(kind byte, term string) (lo, hi uint64) {
	if ix.closed.Load() {
		return 0, 0
	}
	h := hashTerm(kind, term)
	bits := ix.h.bits
	b := h >> (64 - bits)
	s := uint32(h << bits >> 32)
	blo, bhi := uint64(ix.dir[b]), uint64(ix.dir[b+1])
	if blo == bhi {
		return 0, 0
	}
	lo = ix.lowerBound(blo, bhi, s)
	if s == ^uint32(0) {
		return lo, bhi
	}
	return lo, ix.lowerBound(lo, bhi, s+1)
}

// lowerBound returns the first pair index in [lo, hi) whose stored hash is >= s (hi if none):
// a binary search by single reads while the range is large, then one read of the rest.
func (ix *Index) lowerBound(lo, hi uint64, s uint32) uint64 {
	var one [4]byte
	for hi-lo > bucketRead {
		mid := lo + (hi-lo)/2
		if _, err := ix.f.ReadAt(one[:], int64(ix.h.tabOff+mid*pairSize)); err != nil {
			return hi
		}
		if binary.LittleEndian.Uint32(one[:]) < s {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == hi {
		return lo
	}
	raw := make([]byte, (hi-lo)*pairSize)
	if _, err := ix.f.ReadAt(raw, int64(ix.h.tabOff+lo*pairSize)); err != nil {
		return hi
	}
	for i := uint64(0); i < hi-lo; i++ {
		if binary.LittleEndian.Uint32(raw[i*pairSize:]) >= s {
			return lo + i
		}
	}
	return hi
}

// groupSpan: records whose offsets lie within this many bytes of the first of a group are
// read with one ReadAt (records are ~150 bytes; a read of 16 KiB costs about two of 200).
const groupSpan = 16 << 10

// recordGuess is how much is read for a record whose length is not known yet; longer records
// take a second read.
const recordGuess = 512

// each decodes the records at offs (sorted) and calls fn with each, until fn returns false.
func (ix *Index) each(offs []uint32, fn func(Entry) bool) {
	var buf []byte
	for i := 0; i < len(offs); {
		j := i + 1
		for j < len(offs) && offs[j]-offs[i] < groupSpan {
			j++
		}
		start := uint64(offs[i])
		if start >= ix.h.recLen {
			return
		}
		end := min(uint64(offs[j-1])+recordGuess, ix.h.recLen)
		buf = grow(buf, int(end-start))
		n, err := ix.f.ReadAt(buf, int64(ix.h.recOff+start))
		if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
			return
		}
		for ; i < j; i++ {
			e, ok := ix.decodeAt(buf, start, uint64(offs[i]))
			if !ok {
				return
			}
			if !fn(e) {
				return
			}
		}
	}
}

// decodeAt decodes the record at offset off of the records section; buf holds the section
// from base on. A record that runs past buf is read again on its own.
func (ix *Index) decodeAt(buf []byte, base, off uint64) (Entry, bool) {
	if p := off - base; p < uint64(len(buf)) {
		n, k := binary.Uvarint(buf[p:])
		if k > 0 && p+uint64(k)+n <= uint64(len(buf)) {
			return decodeRecord(buf[p+uint64(k) : p+uint64(k)+n])
		}
	}
	var lb [binary.MaxVarintLen64]byte
	m, _ := ix.f.ReadAt(lb[:min(uint64(len(lb)), ix.h.recLen-off)], int64(ix.h.recOff+off))
	n, k := binary.Uvarint(lb[:m])
	if k <= 0 || off+uint64(k)+n > ix.h.recLen {
		return Entry{}, false
	}
	body := make([]byte, n)
	if _, err := ix.f.ReadAt(body, int64(ix.h.recOff+off)+int64(k)); err != nil {
		return Entry{}, false
	}
	return decodeRecord(body)
}
