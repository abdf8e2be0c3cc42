package pdf

import (
	"bufio"
	"bytes"
	"io"
)

// maxNesting is the deepest nesting of arrays and dictionaries Inspect hands to pdfcpu.
// pdfcpu parses nested objects recursively and without a bound: a 10 MB file of a million
// nested arrays made it allocate 112 MB. Real documents nest a handful of levels (a page
// tree of thousands of pages stays under ten); PDFium, which reads the text, has its own
// bound, so such a file is still read, only its metadata is not.
const maxNesting = 256

// tooDeep reports whether the PDF syntax read from r nests arrays and dictionaries deeper than
// limit anywhere outside strings, comments and stream data. It is a scan of the bytes, not a
// parse: what it cannot make sense of it skips.
func tooDeep(r io.Reader, limit int) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	depth := 0
	var prev byte // last byte outside strings and comments, for the "stream" keyword
	var word []byte
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if isRegular(c) {
			if len(word) < 16 {
				word = append(word, c)
			}
			prev = c
			continue
		}
		if string(word) == "stream" {
			if err := skipStream(br); err != nil {
				if err == io.EOF {
					return false, nil
				}
				return false, err
			}
		}
		word = word[:0]
		switch c {
		case '%':
			if _, err := br.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return false, nil // a comment running to the end
			}
		case '(':
			if err := skipString(br); err != nil {
				return false, nil
			}
		case '[':
			depth++
		case ']':
			depth = max(depth-1, 0)
		case '<':
			if n, _ := br.Peek(1); len(n) == 1 && n[0] == '<' && prev != '<' {
				br.ReadByte()
				depth++
				c = 0
			}
		case '>':
			if n, _ := br.Peek(1); len(n) == 1 && n[0] == '>' {
				br.ReadByte()
				depth = max(depth-1, 0)
				c = 0
			}
		}
		if depth > limit {
			return true, nil
		}
		prev = c
	}
}

// isRegular: a byte that is part of a name, number or keyword (PDF 32000-1 §7.2.2).
func isRegular(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ', '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return true
}

// skipString consumes a literal string after its opening parenthesis: balanced parentheses,
// backslash escapes.
func skipString(br *bufio.Reader) error {
	open := 1
	for open > 0 {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '\\':
			if _, err := br.ReadByte(); err != nil {
				return err
			}
		case '(':
			open++
		case ')':
			open--
		}
	}
	return nil
}

var endstream = []byte("endstream")

// skipStream consumes stream data up to and including the next "endstream".
func skipStream(br *bufio.Reader) error {
	matched := 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		switch {
		case c == endstream[matched]:
			matched++
			if matched == len(endstream) {
				return nil
			}
		case c == endstream[0]:
			matched = 1
		default:
			matched = 0
		}
	}
}

// tooDeepBytes is tooDeep for a document in memory.
func tooDeepBytes(b []byte, limit int) bool {
	deep, _ := tooDeep(bytes.NewReader(b), limit)
	return deep
}
