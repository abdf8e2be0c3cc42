package directory

import (
	"encoding/binary"
	"slices"
	"strings"
)

// DefaultSearchLimit is the number of entries Search returns when given a limit <= 0.
const DefaultSearchLimit = 50

// Search is the review desk's free-text search: every word of the query must match the entry,
// and at most limit entries are returned, in the order of the source. A query word matches a
// word of the entry's family name, given name, town, postcode, department, profession,
// specialty, structure, service or identifiers (RPPS and 8+RPPS), after NormalizeName: the
// whole word when some entry has it as a word ("martin" finds MARTIN, not MARTINEZ), as a
// prefix otherwise ("cardio" finds CARDIOLOGIE, "j" finds JEAN). A word with an '@' must be
// the entry's address. Multi-word names also match glued ("legoff").
//
// Whole words are looked up in the index, the rarest first; a query made only of prefixes
// reads the records in order until limit entries match — a full pass over the records when
// fewer do (a fraction of a second for a million lines).
func (ix *Index) Search(query string, limit int) []Entry {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	var addrs []string
	var toks []token
	for _, raw := range strings.Fields(query) {
		if strings.Contains(raw, "@") {
			addrs = append(addrs, strings.ToLower(raw))
			continue
		}
		for _, w := range words(raw) {
			if !slices.ContainsFunc(toks, func(t token) bool { return t.word == w }) {
				toks = append(toks, token{word: w})
			}
		}
	}
	if len(addrs) == 0 && len(toks) == 0 {
		return nil
	}
	var drivers []int
	for i := range toks {
		t := &toks[i]
		switch {
		case stopWords[t.word]:
			t.exact = true // not indexed: checked on the entry only
		case len(t.word) == 1:
			t.exact = false // an initial
		default:
			t.lo, t.hi = ix.find(termWord, t.word)
			t.exact = t.hi > t.lo
			if t.exact {
				drivers = append(drivers, i)
			}
		}
	}
	match := func(e Entry) bool {
		for _, a := range addrs {
			if e.Address != a {
				return false
			}
		}
		return matchTokens(&e, toks)
	}
	var out []Entry
	collect := func(e Entry) bool {
		if match(e) {
			out = appendUnique(out, e)
		}
		return len(out) < limit
	}
	switch {
	case len(addrs) > 0:
		ix.each(ix.postings(termAddress, addrs[0]), collect)
	case len(drivers) > 0:
		slices.SortFunc(drivers, func(a, b int) int {
			return int(toks[a].hi-toks[a].lo) - int(toks[b].hi-toks[b].lo)
		})
		cands := ix.pairOffsets(toks[drivers[0]].lo, toks[drivers[0]].hi)
		for _, d := range drivers[1:] {
			// Intersect while the next list is not much longer than the candidates; past
			// that, checking the candidates' records is cheaper than reading the list.
			if n := toks[d].hi - toks[d].lo; n > 16*uint64(len(cands)) {
				break
			}
			cands = intersect(cands, ix.pairOffsets(toks[d].lo, toks[d].hi))
		}
		ix.each(cands, collect)
	default:
		ix.scan(collect)
	}
	return out
}

type token struct {
	word   string
	exact  bool   // whole word; else prefix
	lo, hi uint64 // its pairs in the table, when indexed
}

// matchTokens reports whether every token matches a search word of e.
func matchTokens(e *Entry, toks []token) bool {
	if len(toks) == 0 {
		return true
	}
	fields := entryFields(e)
	var ws []string
	forEachWord(nil, &fields, false, func(w []byte) { ws = append(ws, string(w)) })
	for _, t := range toks {
		ok := false
		for _, w := range ws {
			if w == t.word || (!t.exact && strings.HasPrefix(w, t.word)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func entryFields(e *Entry) [numFields]string {
	var f [numFields]string
	f[fKind], f[fAddress], f[fIDType], f[fPPID], f[fNationalID] = e.Kind, e.Address, e.IDType, e.PPID, e.NationalID
	f[fCivility], f[fFamilyName], f[fGivenName] = e.Civility, e.FamilyName, e.GivenName
	f[fProfession], f[fSpecialty], f[fStructure], f[fService] = e.Profession, e.Specialty, e.Structure, e.Service
	f[fPostcode], f[fTown], f[fDepartment] = e.Postcode, e.Town, e.Department
	return f
}

// pairOffsets reads the record offsets of the pairs [lo, hi).
func (ix *Index) pairOffsets(lo, hi uint64) []uint32 {
	if lo >= hi {
		return nil
	}
	raw := make([]byte, (hi-lo)*pairSize)
	if _, err := ix.f.ReadAt(raw, int64(ix.h.tabOff+lo*pairSize)); err != nil {
		return nil
	}
	offs := make([]uint32, hi-lo)
	for i := range offs {
		offs[i] = binary.LittleEndian.Uint32(raw[i*pairSize+4:])
	}
	return offs
}

// intersect returns the offsets in both sorted lists (a may be overwritten).
func intersect(a, b []uint32) []uint32 {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// scan decodes every record in order, 1 MiB at a time, until fn returns false.
func (ix *Index) scan(fn func(Entry) bool) {
	if ix.closed.Load() {
		return
	}
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	for base := uint64(0); base < ix.h.recLen; {
		n := min(uint64(chunk), ix.h.recLen-base)
		if _, err := ix.f.ReadAt(buf[:n], int64(ix.h.recOff+base)); err != nil {
			return
		}
		p := uint64(0)
		for p < n {
			l, k := binary.Uvarint(buf[p:n])
			if k <= 0 || p+uint64(k)+l > n {
				break // runs past the chunk: the next one starts with it
			}
			e, ok := decodeRecord(buf[p+uint64(k) : p+uint64(k)+l])
			if !ok || !fn(e) {
				return
			}
			p += uint64(k) + l
		}
		if p == 0 {
			// A record larger than the chunk: decode it alone.
			e, ok := ix.decodeAt(nil, 0, base)
			if !ok || !fn(e) {
				return
			}
			l, k := binary.Uvarint(buf[:n])
			if k <= 0 {
				return
			}
			p = uint64(k) + l
		}
		base += p
	}
}
