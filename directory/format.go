package directory

// The index file, one per source fingerprint, named annuaire-PATH-FINGERPRINT.idx:
//
//	[0, 4096)            header: magic, version, section offsets, bucket bits, number of
//	                     pairs, source fingerprint, build statistics (JSON), CRC-32
//	[recOff, +recLen)    records grouped by family name (by 24 bits of its hash after the
//	                     partition's 2..8; source order within a name): uvarint length, flags
//	                     byte, then the 15 string fields of Entry, each as uvarint length +
//	                     UTF-8 bytes
//	[tabOff, +8*pairs)   the table: pairs (uint32 hash, uint32 record offset relative to
//	                     recOff), sorted by hash, then by record offset
//	[dirOff, +4*(B+1))   bucket directory: for each of the B = 2^bits buckets, the index of
//	                     its first pair in the table (little-endian uint32), then the total
//
// A term is a typed key (address, national id, family name key, family+given key, search
// word) hashed to 64 bits; its top `bits` bits choose the bucket and the next 32 are stored in
// the pair. Two terms may share a hash: every lookup reads the records it finds and checks
// them, so a collision costs a read, never a wrong answer. The bucket directory is the only
// part held in memory (4 bytes a bucket, about one bucket per 64 pairs).

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

const (
	magic       = "MSSBDIR\x01"
	version     = 1
	headerSize  = 4096
	pairSize    = 8
	maxRecBytes = 1<<32 - 1 // record offsets are uint32
)

// Term kinds, the first byte hashed with a term so that the same text in two roles gives
// two different hashes.
const (
	termAddress = 'A' // Adresse BAL, lowercased
	termNatID   = 'R' // national id: 8+RPPS (or the id type + id when no national id is given)
	termFamily  = 'F' // NameKey(family)
	termName    = 'N' // NameKey(family) + 0 + NameKey(given)
	termWord    = 'W' // a word of the searchable fields (see recordWords)
)

// hashTerm is FNV-1a over the kind and the term, then MurmurHash3's finaliser so that the
// top bits (bucket and partition) are well spread. It must never change without a version bump.
func hashTerm[T ~string | ~[]byte](kind byte, term T) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h ^= uint64(kind)
	h *= prime
	for i := 0; i < len(term); i++ {
		h ^= uint64(term[i])
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// header is the decoded first 4 KiB of an index file.
type header struct {
	bits        uint32
	recOff      uint64
	recLen      uint64
	dirOff      uint64
	tabOff      uint64
	pairs       uint64
	fingerprint [32]byte
	stats       Stats
}

func (h *header) marshal() ([]byte, error) {
	b := make([]byte, headerSize)
	copy(b, magic)
	le := binary.LittleEndian
	le.PutUint32(b[8:], version)
	le.PutUint32(b[12:], h.bits)
	le.PutUint64(b[16:], h.recOff)
	le.PutUint64(b[24:], h.recLen)
	le.PutUint64(b[32:], h.dirOff)
	le.PutUint64(b[40:], h.tabOff)
	le.PutUint64(b[48:], h.pairs)
	copy(b[56:88], h.fingerprint[:])
	js, err := json.Marshal(h.stats)
	if err != nil {
		return nil, err
	}
	if len(js) > headerSize-96 {
		return nil, fmt.Errorf("build statistics too long for the header (%d bytes)", len(js))
	}
	le.PutUint32(b[88:], uint32(len(js)))
	copy(b[92:], js)
	le.PutUint32(b[headerSize-4:], crc32.ChecksumIEEE(b[:headerSize-4]))
	return b, nil
}

var errBadIndex = errors.New("not a valid index file")

func (h *header) unmarshal(b []byte) error {
	le := binary.LittleEndian
	if len(b) != headerSize || string(b[:8]) != magic || le.Uint32(b[8:]) != version ||
		le.Uint32(b[headerSize-4:]) != crc32.ChecksumIEEE(b[:headerSize-4]) {
		return errBadIndex
	}
	h.bits = le.Uint32(b[12:])
	h.recOff = le.Uint64(b[16:])
	h.recLen = le.Uint64(b[24:])
	h.dirOff = le.Uint64(b[32:])
	h.tabOff = le.Uint64(b[40:])
	h.pairs = le.Uint64(b[48:])
	copy(h.fingerprint[:], b[56:88])
	n := le.Uint32(b[88:])
	if h.bits > 30 || n > headerSize-96 {
		return errBadIndex
	}
	if err := json.Unmarshal(b[92:92+n], &h.stats); err != nil {
		return errBadIndex
	}
	return nil
}

// fingerprint identifies a version of the source: its path, size, modification time, and a
// hash of its first and last 64 KiB (the header line is in the first). A file rewritten with
// the same size within the file system's mtime resolution and changes only in the middle
// would be missed: the extraction is republished whole, so that does not happen in practice.
func fingerprint(sourceFile string) ([32]byte, error) {
	var fp [32]byte
	abs, err := filepath.Abs(sourceFile)
	if err != nil {
		return fp, err
	}
	f, err := os.Open(sourceFile)
	if err != nil {
		return fp, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fp, err
	}
	if !st.Mode().IsRegular() {
		return fp, fmt.Errorf("%s is not a regular file", sourceFile)
	}
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], version)
	h.Write(b[:4])
	h.Write([]byte(abs))
	h.Write([]byte{0})
	binary.LittleEndian.PutUint64(b[:], uint64(st.Size()))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(st.ModTime().UnixNano()))
	h.Write(b[:])
	const edge = 64 << 10
	buf := make([]byte, edge)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fp, err
	}
	h.Write(buf[:n])
	if st.Size() > edge {
		n, err = f.ReadAt(buf, max(st.Size()-edge, edge))
		if err != nil && !errors.Is(err, io.EOF) {
			return fp, err
		}
		h.Write(buf[:n])
	}
	copy(fp[:], h.Sum(nil))
	return fp, nil
}

// indexName is the file name of the index of sourceFile with fingerprint fp: a prefix per
// source path, so that a build removes only the stale indexes of its own source.
func indexName(sourceFile string, fp [32]byte) (prefix, name string) {
	abs, _ := filepath.Abs(sourceFile)
	p := sha256.Sum256([]byte(abs))
	prefix = fmt.Sprintf("annuaire-%x-", p[:4])
	return prefix, fmt.Sprintf("%s%x.idx", prefix, fp[:8])
}

// Record fields, in their order on disk.
const (
	fKind = iota
	fAddress
	fIDType
	fPPID
	fNationalID
	fCivility
	fFamilyName
	fGivenName
	fProfession
	fSpecialty
	fStructure
	fService
	fPostcode
	fTown
	fDepartment
	numFields
)

const flagDematerialised = 1

// appendRecord appends the on-disk form of a record (without its length prefix).
func appendRecord(dst []byte, flags byte, fields *[numFields][]byte) []byte {
	dst = append(dst, flags)
	for _, f := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// decodeRecord decodes a record body into an Entry. The strings share one allocation.
func decodeRecord(body []byte) (Entry, bool) {
	var e Entry
	if len(body) < 1 {
		return e, false
	}
	s := string(body)
	e.Dematerialised = s[0]&flagDematerialised != 0
	p := 1
	var f [numFields]string
	for i := range f {
		n, k := binary.Uvarint(body[p:])
		if k <= 0 || uint64(len(body)-p-k) < n {
			return Entry{}, false
		}
		p += k
		f[i] = s[p : p+int(n)]
		p += int(n)
	}
	e.Kind, e.Address, e.IDType, e.PPID, e.NationalID = f[fKind], f[fAddress], f[fIDType], f[fPPID], f[fNationalID]
	e.Civility, e.FamilyName, e.GivenName = f[fCivility], f[fFamilyName], f[fGivenName]
	e.Profession, e.Specialty, e.Structure, e.Service = f[fProfession], f[fSpecialty], f[fStructure], f[fService]
	e.Postcode, e.Town, e.Department = f[fPostcode], f[fTown], f[fDepartment]
	return e, true
}
