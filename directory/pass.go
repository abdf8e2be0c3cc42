package directory

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"unicode/utf8"
)

// The pass over the source: a reader cuts it into blocks of whole lines, workers (one per
// CPU, up to 4) turn each block into records and term pairs, and the builder writes their output to
// the spills in the order of the blocks, numbering the records. Parsing, folding and hashing
// are most of a build's CPU time: this is where a second core helps.

const (
	// blockSize is the size of the blocks of lines handed to the workers.
	blockSize = 1 << 20
	// maxLine bounds a line; real lines are under 1 KiB.
	maxLine = blockSize
)

// block is a run of whole lines of the source and what a worker made of it.
type block struct {
	data  []byte // lines, each ending with '\n' but maybe the last one of the file
	first int    // number of the first line (the header is line 1)
	long  bool   // data is empty: line first is longer than maxLine, skipped
	done  chan struct{}

	recs      []byte // per record: cluster hash (8 bytes), uvarint length, record
	nrecs     int
	pairs     []byte // per pair: term hash (8 bytes), record index in the block (4 bytes)
	lines     int
	skipped   int
	malformed []LineError
	nUTF8     int
	nLatin1   int
}

// run makes the pass, filling the spills and b.stats.
//
// Encoding: a line that is valid UTF-8 is read as UTF-8, any other as Windows-1252 (which
// reads Latin-1 too). For a file in one encoding this is the same as deciding for the whole
// file — Latin-1 French text never forms valid UTF-8 sequences by chance (that takes "Ã"
// followed by a symbol such as "©") — and a file that mixes them, a Latin-1 line added by hand
// to a UTF-8 extraction, keeps its UTF-8 header and lines.
func (b *builder) run() error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	var err error
	if b.out, err = os.OpenFile(filepath.Join(b.work, "index"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	if _, err := b.out.Seek(headerSize, io.SeekStart); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	b.ow = bufio.NewWriterSize(b.out, 1<<20)
	src, err := os.Open(b.source)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	b.bits = partitionBits(st.Size())
	if b.recParts, err = b.openSpills("records"); err != nil {
		return err
	}
	if b.pairParts, err = b.openSpills("pairs"); err != nil {
		return err
	}
	r := bufio.NewReaderSize(src, 64<<10)

	// The header: the first line that is not blank.
	var cols columns
	var nUTF8, nLatin1 int
	lineNo := 0
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("directory: %s: the first line is not a header (longer than %d bytes)", b.source, r.Size())
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("directory: read %s: %w", b.source, err)
		}
		if len(line) == 0 && err != nil {
			return fmt.Errorf("directory: %s is empty (no header line)", b.source)
		}
		lineNo++
		line = bytes.TrimRight(line, "\r\n")
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return fmt.Errorf("directory: %s is empty (no header line)", b.source)
			}
			continue
		}
		switch ascii, valid := checkUTF8(line); {
		case ascii:
		case valid:
			nUTF8++
		default:
			nLatin1++
			line = appendWindows1252(nil, line)
		}
		if cols, err = parseHeader(b.source, line); err != nil {
			return err
		}
		break
	}

	// One worker per CPU, at most 4: each block in flight holds ~3 MB.
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	free := make(chan *block, 2*workers+1) // bounds the blocks in flight, and so the memory
	for range cap(free) {
		free <- &block{data: make([]byte, 0, blockSize)}
	}
	jobs := make(chan *block, workers)
	order := make(chan *block, cap(free))
	for range workers {
		go func() {
			p := &parser{cols: cols}
			for blk := range jobs {
				p.block(blk)
				close(blk.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		defer close(order)
		defer close(jobs)
		readErr <- b.cut(r, lineNo+1, free, jobs, order, stop)
	}()

	var werr error
	for blk := range order {
		<-blk.done
		if werr == nil {
			werr = b.ctx.Err()
		}
		if werr == nil {
			werr = b.write(blk)
		}
		if werr != nil {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}
		nUTF8 += blk.nUTF8
		nLatin1 += blk.nLatin1
		free <- blk
	}
	if err := <-readErr; err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	switch {
	case nLatin1 == 0:
		b.stats.Encoding = "UTF-8"
	case nUTF8 == 0:
		b.stats.Encoding = "Windows-1252"
	default:
		b.stats.Encoding = fmt.Sprintf("UTF-8 and Windows-1252 (%d lines)", nLatin1)
	}
	for _, ps := range [][]spill{b.recParts, b.pairParts} {
		for i := range ps {
			if err := ps[i].w.Flush(); err != nil {
				return fmt.Errorf("directory: %w", err)
			}
		}
	}
	return nil
}

// cut reads the source after its header into blocks of whole lines, numbered from first,
// and hands each to the workers (jobs) and, in order, to the builder (order).
func (b *builder) cut(r io.Reader, first int, free <-chan *block, jobs, order chan<- *block, stop <-chan struct{}) error {
	var carry []byte // the start of a line cut by the end of the previous read
	skipping := false
	eof := false
	for !eof {
		var blk *block
		select {
		case blk = <-free:
		case <-stop:
			return nil
		}
		blk.data = append(blk.data[:0], carry...)
		n, err := io.ReadFull(r, blk.data[len(blk.data):blockSize])
		blk.data = blk.data[:len(blk.data)+n]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			eof = true
		} else if err != nil {
			return fmt.Errorf("directory: read %s: %w", b.source, err)
		}
		if skipping { // the rest of a line too long to keep
			i := bytes.IndexByte(blk.data, '\n')
			if i < 0 {
				carry = carry[:0]
				blk.data = blk.data[:0]
				blk.first = first
				b.send(blk, jobs, order)
				continue
			}
			blk.data = blk.data[:copy(blk.data, blk.data[i+1:])]
			skipping = false
		}
		end := len(blk.data)
		if !eof {
			end = bytes.LastIndexByte(blk.data, '\n') + 1
		}
		if end == 0 && len(blk.data) == blockSize {
			// A line longer than a block: reported, and skipped up to its end.
			blk.data = blk.data[:0]
			blk.long = true
			blk.first = first
			first++
			carry = carry[:0]
			skipping = true
			b.send(blk, jobs, order)
			continue
		}
		carry = append(carry[:0], blk.data[end:]...)
		blk.data = blk.data[:end]
		blk.first = first
		first += bytes.Count(blk.data, []byte{'\n'})
		b.send(blk, jobs, order)
	}
	return nil
}

func (b *builder) send(blk *block, jobs, order chan<- *block) {
	blk.done = make(chan struct{})
	order <- blk
	jobs <- blk
}

// write numbers the records of a block and writes them and their pairs to the spills.
func (b *builder) write(blk *block) error {
	b.stats.Lines += blk.lines
	b.stats.Entries += blk.nrecs
	b.stats.Skipped += blk.skipped
	for _, m := range blk.malformed {
		if len(b.stats.Malformed) < maxReported {
			b.stats.Malformed = append(b.stats.Malformed, m)
		}
	}
	if uint64(b.seq)+uint64(blk.nrecs) >= 1<<32 {
		return fmt.Errorf("directory: %s: too many lines", b.source)
	}
	base := b.seq
	hdr := b.scratch[:12]
	for p := 0; p < len(blk.recs); {
		cluster := binary.LittleEndian.Uint64(blk.recs[p:])
		l, k := binary.Uvarint(blk.recs[p+8:])
		end := p + 8 + k + int(l)
		binary.LittleEndian.PutUint32(hdr, b.seq)
		binary.LittleEndian.PutUint64(hdr[4:], cluster)
		rp := &b.recParts[cluster>>(64-b.bits)]
		rp.w.Write(hdr)
		rp.w.Write(blk.recs[p+8 : end])
		rp.n++
		rp.size += int64(12 + end - p - 8)
		b.recBytes += uint64(end - p - 8)
		b.seq++
		p = end
	}
	if b.recBytes > maxRecBytes {
		return fmt.Errorf("directory: %s: too large (records beyond 4 GiB)", b.source)
	}
	pair := b.scratch[:12]
	for p := 0; p < len(blk.pairs); p += 12 {
		h := binary.LittleEndian.Uint64(blk.pairs[p:])
		binary.LittleEndian.PutUint64(pair, h)
		binary.LittleEndian.PutUint32(pair[8:], base+binary.LittleEndian.Uint32(blk.pairs[p+8:]))
		sp := &b.pairParts[h>>(64-b.bits)]
		sp.w.Write(pair)
		sp.n++
		sp.size += 12
	}
	b.pairs += uint64(len(blk.pairs) / 12)
	return nil
}

// checkUTF8 reports whether line is ASCII, and if not whether it is valid UTF-8.
func checkUTF8(line []byte) (ascii, valid bool) {
	for i, c := range line {
		if c >= utf8.RuneSelf {
			return false, utf8.Valid(line[i:])
		}
	}
	return true, true
}

// columns maps the header's columns to record fields.
type columns struct {
	n     int            // columns in the header
	col   [numFields]int // column of each record field, -1 when absent
	demat int            // "Dématérialisation", or -1
	l6    int            // "L6LIGNEACHEMINEMENT structure BAL", or -1
}

// headerKey is how header names are compared: accents, case, spaces and punctuation ignored.
func headerKey(s string) string { return NameKey(s) }

func parseHeader(source string, line []byte) (columns, error) {
	var c columns
	names := bytes.Split(line, []byte("|"))
	c.n = len(names)
	idx := make(map[string]int, len(names))
	for i, n := range names {
		k := headerKey(string(n))
		if _, dup := idx[k]; !dup {
			idx[k] = i
		}
	}
	find := func(name string) int {
		if i, ok := idx[headerKey(name)]; ok {
			return i
		}
		return -1
	}
	for i := range c.col {
		c.col[i] = -1
	}
	for _, cf := range columnFields {
		c.col[cf.field] = find(cf.name)
	}
	c.demat, c.l6 = find(colDemat), find(colL6)
	if c.col[fAddress] < 0 {
		return c, &HeaderError{File: source, Missing: []string{"Adresse BAL"}}
	}
	return c, nil
}

// parser is a worker's state: the column map and scratch space reused line after line.
type parser struct {
	cols   columns
	blk    *block
	split  [][]byte
	fields [numFields][]byte
	utf    []byte
	lower  []byte
	rec    []byte
	fam    []byte // NameKey of the family name, then + 0 + NameKey of the given name
	key    []byte
	hashes []uint64
}

// block parses the lines of blk into its records and pairs.
func (p *parser) block(blk *block) {
	p.blk = blk
	blk.recs, blk.pairs, blk.malformed = blk.recs[:0], blk.pairs[:0], blk.malformed[:0]
	blk.nrecs, blk.lines, blk.skipped, blk.nUTF8, blk.nLatin1 = 0, 0, 0, 0, 0
	if blk.long {
		blk.lines++
		p.skip(blk.first, fmt.Sprintf("line longer than %d bytes", maxLine))
		return
	}
	data := blk.data
	for n := blk.first; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		blk.lines++
		switch ascii, valid := checkUTF8(line); {
		case ascii:
		case valid:
			blk.nUTF8++
		default:
			blk.nLatin1++
			p.utf = appendWindows1252(p.utf[:0], line)
			line = p.utf
		}
		p.line(n, line)
	}
}

func (p *parser) skip(lineNo int, reason string) {
	p.blk.skipped++
	if len(p.blk.malformed) < maxReported {
		p.blk.malformed = append(p.blk.malformed, LineError{Line: lineNo, Reason: reason})
	}
}

// line parses one data line (UTF-8, without its line ending) into a record and its pairs.
func (p *parser) line(lineNo int, line []byte) {
	p.split = p.split[:0]
	for {
		i := bytes.IndexByte(line, '|')
		if i < 0 {
			p.split = append(p.split, line)
			break
		}
		p.split = append(p.split, line[:i])
		line = line[i+1:]
	}
	n := p.cols.n
	// A trailing '|' the header does not have is tolerated (seen in hand-made extractions).
	if len(p.split) == n+1 && len(p.split[n]) == 0 {
		p.split = p.split[:n]
	}
	if len(p.split) != n {
		p.skip(lineNo, fmt.Sprintf("%d columns, the header has %d", len(p.split), n))
		return
	}
	for i := range p.fields {
		if c := p.cols.col[i]; c >= 0 {
			p.fields[i] = bytes.TrimSpace(p.split[c])
		} else {
			p.fields[i] = nil
		}
	}
	// The address, lowercased (ASCII in place of a copy; others through bytes.ToLower).
	addr := p.fields[fAddress]
	if len(addr) == 0 {
		p.skip(lineNo, "empty Adresse BAL")
		return
	}
	p.lower = p.lower[:0]
	for _, c := range addr {
		if c >= utf8.RuneSelf {
			p.lower = bytes.ToLower(addr)
			break
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		p.lower = append(p.lower, c)
	}
	p.fields[fAddress] = p.lower
	p.fields[fTown] = nil
	if p.cols.l6 >= 0 {
		p.fields[fTown] = townOf(bytes.TrimSpace(p.split[p.cols.l6]))
	}
	var flags byte
	if p.cols.demat >= 0 {
		if d := bytes.TrimSpace(p.split[p.cols.demat]); len(d) == 1 && (d[0] == 'O' || d[0] == 'o') {
			flags |= flagDematerialised
		}
	}

	// The record, with the hash of its family name (of its address when it has none), which
	// decides where it goes in the index.
	blk := p.blk
	p.rec = appendRecord(p.rec[:0], flags, &p.fields)
	p.fam = appendFolded(p.fam[:0], p.fields[fFamilyName], 0)
	cluster := hashTerm(termFamily, p.fam)
	if len(p.fam) == 0 {
		cluster = hashTerm(termAddress, p.fields[fAddress])
	}
	blk.recs = binary.LittleEndian.AppendUint64(blk.recs, cluster)
	blk.recs = binary.AppendUvarint(blk.recs, uint64(len(p.rec)))
	blk.recs = append(blk.recs, p.rec...)
	local := uint32(blk.nrecs)
	blk.nrecs++

	// Its terms.
	p.hashes = p.hashes[:0]
	p.addTerm(termAddress, p.fields[fAddress])
	if id := natID(p.fields[fIDType], p.fields[fPPID], p.fields[fNationalID], p.key[:0]); len(id) > 0 {
		p.key = id
		p.addTerm(termNatID, id)
	}
	if len(p.fam) > 0 {
		p.addTerm(termFamily, p.fam)
		p.fam = append(p.fam, 0)
		p.fam = appendFolded(p.fam, p.fields[fGivenName], 0)
		p.addTerm(termName, p.fam)
	}
	p.key = forEachWord(p.key[:0], &p.fields, true, func(w []byte) { p.addTerm(termWord, w) })
	for _, h := range p.hashes {
		blk.pairs = binary.LittleEndian.AppendUint64(blk.pairs, h)
		blk.pairs = binary.LittleEndian.AppendUint32(blk.pairs, local)
	}
}

// addTerm records the hash of a term of the current record, once.
func (p *parser) addTerm(kind byte, term []byte) {
	h := hashTerm(kind, term)
	for _, x := range p.hashes {
		if x == h {
			return
		}
	}
	p.hashes = append(p.hashes, h)
}
