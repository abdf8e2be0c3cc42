package watcher

import (
	"bytes"
	"io"
	"time"
)

// tailSize is how much of a PDF's end is searched for "%%EOF". The marker is normally followed
// only by a line end, but print paths append their own bytes: a PJL job trailer
// ("ESC%-12345X@PJL EOJ ...") is a few dozen bytes, a few hundred at most. 1 KiB is also the
// window the PDF Reference (implementation notes, "File trailer") says Acrobat searches, so a
// file Acrobat opens is a file we accept.
const tailSize = 1024

var eofMarker = []byte("%%EOF")

// hasEOF reports whether the last tailSize bytes of a PDF, given as tail, hold the end marker.
func hasEOF(tail []byte) bool {
	if len(tail) > tailSize {
		tail = tail[len(tail)-tailSize:]
	}
	return bytes.Contains(tail, eofMarker)
}

// inspection is what opening a stable file found.
type inspection struct {
	size    int64
	modTime time.Time
	eof     bool // only looked for when asked
}

// inspect opens path the way the OS lets us prove nobody is writing it (exclusively on Windows,
// see openExclusive), checks that it is still the file that was observed, and reads the end of
// it when wantTail is set. The file is closed before inspect returns, so a claim can move it.
func inspect(path string, wantTail bool) (inspection, error) {
	f, err := openExclusive(path)
	if err != nil {
		return inspection{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return inspection{}, err
	}
	in := inspection{size: fi.Size(), modTime: fi.ModTime()}
	if !wantTail || in.size == 0 {
		return in, nil
	}
	n := int64(tailSize)
	if in.size < n {
		n = in.size
	}
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, in.size-n)
	if err != nil && err != io.EOF {
		return inspection{}, err
	}
	in.eof = hasEOF(buf[:m])
	return in, nil
}
