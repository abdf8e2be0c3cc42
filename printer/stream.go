package printer

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Format is what a print stream carries once its PJL envelope is taken off.
type Format int

const (
	// Unknown is anything that is neither PDF, PostScript nor plain text: PCL, raster, images,
	// garbage.
	Unknown Format = iota
	PDF
	PostScript
	// Text is plain text (UTF-8, Latin-1 or Windows-1252): what a "Text Only" driver, a raw
	// queue, or the CUPS queue that `printer install` makes sends for a text file.
	Text
)

func (f Format) String() string {
	switch f {
	case PDF:
		return "pdf"
	case PostScript:
		return "postscript"
	case Text:
		return "text"
	default:
		return "unknown"
	}
}

// Ext is the file extension a document of this format is handed over with.
func (f Format) Ext() string {
	switch f {
	case PDF:
		return ".pdf"
	case PostScript:
		return ".ps"
	case Text:
		return ".txt"
	default:
		return ".bin"
	}
}

// Stream is a print stream taken apart: the document and what the envelope said about it.
type Stream struct {
	Format  Format
	Body    []byte // the document without its envelope (the whole stream when Unknown)
	JobName string // PJL JOB NAME, or the PostScript %%Title
	User    string // PJL USERNAME, or the PostScript %%For
	// Language is what "@PJL ENTER LANGUAGE" announced, upper case ("PDF", "POSTSCRIPT",
	// "PCL"…), for the log when the document is not one we take.
	Language string
	// Empty is true when the stream held no document at all: a port probe (a spooler or a
	// scanner opening and closing the connection) or PJL commands alone.
	Empty bool
}

// uel is PJL's Universal Exit Language: it opens and closes every PJL envelope.
var uel = []byte("\x1b%-12345X")

// Bounds against hostile streams. A real PJL header is a few hundred bytes (CUPS's
// Generic-PDF driver: about 450; Windows drivers: a few kilobytes with their JOBATTR lines), so
// 256 KiB of PJL before the document is far beyond any driver and still cheap to scan.
const (
	maxHeader = 256 << 10
	// A PDF reader accepts junk before %PDF- within the first 1024 bytes (Acrobat's rule).
	pdfSlack = 1024
	// A trailer is "%%EOF" then a few envelope lines; more than 64 envelopes after the
	// document is not a trailer.
	maxTrailerSegments = 64
	// DSC comments are at the top of a PostScript file.
	maxDSCHeader = 16 << 10
	maxLabel     = 200 // runes kept of a job name or a user name
)

// Parse takes a raw print stream apart. It never fails: a stream it does not understand is
// Unknown, with Body holding the whole stream so that a person can look at it.
func Parse(data []byte) Stream {
	s := Stream{}
	doc := stripHeader(data, &s)
	body := bytes.TrimLeft(doc, "\x04\x00\t\r\n\f ") // Ctrl-D: PostScript drivers' job separator
	body = stripTrailer(body)
	if len(body) == 0 {
		s.Empty = true
		s.Body = nil
		return s
	}
	switch {
	case bytes.HasPrefix(body, []byte("%PDF-")):
		s.Format = PDF
	case bytes.HasPrefix(body, []byte("%!")):
		s.Format = PostScript
	default:
		// Some writers put a line or a byte-order mark before %PDF-; readers allow it.
		if i := bytes.Index(body[:min(len(body), pdfSlack)], []byte("%PDF-")); i >= 0 {
			body, s.Format = body[i:], PDF
		}
	}
	if s.Format == Unknown {
		// Text keeps its leading blank lines and indentation: they are its layout.
		if text := stripTrailer(bytes.TrimLeft(doc, "\x04\x00")); LooksLikeText(text) {
			s.Format, s.Body = Text, text
			return s
		}
		s.Body = data
		return s
	}
	s.Body = body
	if s.Format == PostScript {
		dsc(s.Body, &s)
	}
	return s
}

// stripHeader removes a leading PJL envelope and reads its job name and user; it returns what
// follows the envelope (data itself when there is none).
func stripHeader(data []byte, s *Stream) []byte {
	rest := bytes.TrimLeft(data, "\x04\x00\t\r\n\f ")
	// A PCL reset (ESC E) often comes before the envelope.
	rest = bytes.TrimPrefix(rest, []byte("\x1bE"))
	if !bytes.HasPrefix(rest, uel) && !hasPJLPrefix(rest) {
		return data
	}
	limit := min(len(rest), maxHeader)
	pos := 0
	for pos < limit {
		// Envelopes may repeat: "ESC%-12345X@PJL" starts each one.
		for bytes.HasPrefix(rest[pos:], uel) {
			pos += len(uel)
		}
		line, next := nextLine(rest, pos)
		trimmed := bytes.TrimSpace(line)
		switch {
		case len(trimmed) == 0 && next > pos:
			pos = next // blank line between commands
			continue
		case !hasPJLPrefix(trimmed):
			return rest[pos:] // the document starts here
		}
		cmd := string(trimmed)
		pjlLine(cmd, s)
		pos = next
		if s.Language != "" && isEnter(cmd) {
			// PJL: the language's data starts right after the ENTER LANGUAGE line.
			return rest[pos:]
		}
		if next == len(rest) {
			break
		}
	}
	if pos >= len(rest) {
		return nil // PJL commands alone: nothing to print
	}
	// A header longer than any driver writes: give up on it, keep everything.
	return data
}

func hasPJLPrefix(b []byte) bool {
	return len(b) >= 4 && strings.EqualFold(string(b[:4]), "@PJL")
}

func isEnter(cmd string) bool {
	f := strings.Fields(asciiUpper(cmd))
	return len(f) >= 2 && f[1] == "ENTER"
}

// nextLine returns the line starting at pos (without its end) and where the next one starts.
func nextLine(b []byte, pos int) ([]byte, int) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return b[pos:], len(b)
	}
	line := b[pos : pos+i]
	return bytes.TrimSuffix(line, []byte("\r")), pos + i + 1
}

// pjlLine reads one PJL command for what we keep.
func pjlLine(cmd string, s *Stream) {
	words := strings.Fields(cmd)
	if len(words) < 2 {
		return
	}
	switch strings.ToUpper(words[1]) {
	case "JOB":
		if v, ok := pjlValue(cmd, "NAME"); ok && s.JobName == "" {
			s.JobName = label(v)
		}
	case "SET":
		if v, ok := pjlValue(cmd, "JOBNAME"); ok && s.JobName == "" {
			s.JobName = label(v)
		}
		if v, ok := pjlValue(cmd, "USERNAME"); ok && s.User == "" {
			s.User = label(v)
		}
	case "ENTER":
		if v, ok := pjlValue(cmd, "LANGUAGE"); ok {
			s.Language = strings.ToUpper(label(v))
			if s.Language == "" {
				s.Language = "?"
			}
		}
	}
}

// pjlValue finds KEY = value in a PJL command: value is a quoted string or one word. Keys are
// matched as whole words, case-insensitively.
func pjlValue(cmd, key string) ([]byte, bool) {
	up := asciiUpper(cmd) // same length as cmd, whatever bytes it holds
	from := 0
	for {
		i := strings.Index(up[from:], key)
		if i < 0 {
			return nil, false
		}
		i += from
		end := i + len(key)
		from = end
		if i > 0 && up[i-1] != ' ' && up[i-1] != '\t' {
			continue
		}
		rest := strings.TrimLeft(cmd[end:], " \t")
		if !strings.HasPrefix(rest, "=") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		if strings.HasPrefix(rest, `"`) {
			rest = rest[1:]
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				rest = rest[:j]
			}
			return []byte(rest), true
		}
		if j := strings.IndexAny(rest, " \t"); j >= 0 {
			rest = rest[:j]
		}
		return []byte(rest), true
	}
}

// asciiUpper upper-cases a-z only: strings.ToUpper would change the length of a string that
// is not valid UTF-8, and PJL keywords are ASCII.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// stripTrailer removes what follows the document: "ESC%-12345X@PJL … @PJL EOJ … ESC%-12345X",
// Ctrl-D and blank space. It walks back over envelope segments only, so bytes that look like a
// UEL inside the document (a compressed stream may hold anything) are never cut.
func stripTrailer(body []byte) []byte {
	end := len(body)
	for range maxTrailerSegments {
		trimmed := len(bytes.TrimRight(body[:end], "\x04\x00\t\r\n\f "))
		i := bytes.LastIndex(body[:trimmed], uel)
		if i < 0 || !isEnvelope(body[i+len(uel):trimmed]) {
			return body[:trimmed]
		}
		end = i
	}
	return body[:end]
}

// isEnvelope reports whether b (what follows a UEL) is PJL lines and blank space only.
func isEnvelope(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && !hasPJLPrefix(line) {
			return false
		}
	}
	return true
}

// dsc reads the PostScript header comments %%Title and %%For when the envelope gave no job
// name or user (Windows PostScript drivers write both).
func dsc(body []byte, s *Stream) {
	head := body[:min(len(body), maxDSCHeader)]
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		switch {
		case bytes.HasPrefix(line, []byte("%%EndComments")):
			return
		case bytes.HasPrefix(line, []byte("%%Title:")) && s.JobName == "":
			s.JobName = label(psString(line[len("%%Title:"):]))
		case bytes.HasPrefix(line, []byte("%%For:")) && s.User == "":
			s.User = label(psString(line[len("%%For:"):]))
		}
	}
}

// psString reads a DSC value: a PostScript string "(…)" with its escapes, or plain text.
func psString(v []byte) []byte {
	v = bytes.TrimSpace(v)
	if len(v) < 2 || v[0] != '(' {
		return v
	}
	var out []byte
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			switch e := v[i]; {
			case e >= '0' && e <= '7':
				n, k := 0, 0
				for ; k < 3 && i+k < len(v) && v[i+k] >= '0' && v[i+k] <= '7'; k++ {
					n = n*8 + int(v[i+k]-'0')
				}
				out = append(out, byte(n))
				i += k - 1
			case e == 'n', e == 'r', e == 't':
				out = append(out, ' ')
			default:
				out = append(out, e)
			}
		case c == '(':
			if depth > 0 {
				out = append(out, c)
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return out
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

// label makes a job name or user name safe to store and show: UTF-8 (Windows drivers write
// Latin-1 or Windows-1252), no control characters, trimmed, at most maxLabel runes.
func label(b []byte) string {
	var r []rune
	if utf8.Valid(b) {
		r = []rune(string(b))
	} else {
		r = make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c) // Latin-1: each byte is its code point
		}
	}
	out := make([]rune, 0, len(r))
	for _, c := range r {
		switch {
		case unicode.IsSpace(c):
			c = ' '
		case unicode.IsControl(c), c == utf8.RuneError, !unicode.IsPrint(c):
			continue
		}
		out = append(out, c)
		if len(out) == maxLabel {
			break
		}
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// FileName is the name a printed document is handed over with: the job name made into a file
// name ("Microsoft Word - CR Dupont.docx" -> "Microsoft Word - CR Dupont.pdf"), or
// "impression", with the extension of the format.
func FileName(jobName string, f Format) string {
	n := jobName
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.LastIndexByte(n, '.'); i > 0 && len(n)-i <= 6 && isAlnum(n[i+1:]) {
		n = n[:i]
	}
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`<>:"/\|?*`, r) {
			return '_'
		}
		return r
	}, n)
	n = strings.Trim(strings.Join(strings.Fields(n), " "), ". ")
	const maxBytes = 100
	for len(n) > maxBytes {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	n = strings.TrimRight(n, ". ")
	if n == "" {
		n = "impression"
	}
	return n + f.Ext()
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
