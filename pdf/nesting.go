package pdf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// pdfcpu parses a whole file into Go objects before it says anything, and its memory follows
// the amount of syntax outside stream data: a 6 MB file of small integers, one a line, held
// 163 MB of live heap, a 16 MB one 338 MB, and a 10 MB file of a million nested arrays made it
// allocate 112 MB. Inspect scans the bytes first and leaves such a file to PDFium (which reads
// the text and the Info dictionary object by object): metadata is what pdfcpu is for, and no
// letter needs that much syntax to carry it.
const (
	// maxNesting: real documents nest a handful of levels (a page tree of thousands of pages
	// stays under ten).
	maxNesting = 256
	// maxTokens: measured, the shared samples have under 10,000 tokens outside their streams,
	// a 300-page report under 40,000, a 3,000-page one under 200,000; at about 55 bytes of
	// pdfcpu heap a token (163 MB for 3 million), 500,000 is under 30 MB.
	maxTokens = 500_000
)

// tooMuchSyntax reports why the PDF syntax read from r should not be handed to pdfcpu: arrays
// and dictionaries nested deeper than maxDepth, or more than maxTok tokens outside strings,
// comments and stream data. It is a scan of the bytes, not a parse; "" means neither.
func tooMuchSyntax(r io.Reader, maxDepth, maxTok int) (string, error) {
	br := bufio.NewReaderSize(r, 16<<10)
	depth, tokens := 0, 0
	var word []byte     // the current regular word, up to 16 bytes
	afterSlash := false // the current word is a name (/stream is not the keyword)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if isRegular(c) {
			if len(word) == 0 {
				tokens++
			}
			if len(word) < 16 {
				word = append(word, c)
			}
			continue
		}
		if string(word) == "stream" && !afterSlash {
			ended, err := skipStream(br)
			if err != nil {
				return "", err
			}
			if !ended {
				return "", nil // a truncated file: pdfcpu says so, at no great cost
			}
		}
		word, afterSlash = word[:0], false
		switch c {
		case '%':
			if err := skipComment(br); err != nil {
				return "", nil // a comment running to the end
			}
		case '/':
			tokens++
			afterSlash = true
		case '(':
			tokens++
			if err := skipString(br); err != nil {
				return "", nil
			}
		case '[':
			tokens++
			depth++
		case ']':
			depth = max(depth-1, 0)
		case '<':
			tokens++
			if n, _ := br.Peek(1); len(n) == 1 && n[0] == '<' {
				br.ReadByte()
				depth++
			}
		case '>':
			if n, _ := br.Peek(1); len(n) == 1 && n[0] == '>' {
				br.ReadByte()
				depth = max(depth-1, 0)
			}
		}
		switch {
		case depth > maxDepth:
			return fmt.Sprintf("objects nested more than %d levels deep", maxDepth), nil
		case tokens > maxTok:
			return fmt.Sprintf("more than %d tokens outside stream data", maxTok), nil
		}
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

// skipComment consumes a comment up to its end of line: CR, LF or both.
func skipComment(br *bufio.Reader) error {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		if c == '\n' || c == '\r' {
			return nil
		}
	}
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

// skipStream consumes stream data up to and including the next "endstream"; ended is false
// when the file ends first.
func skipStream(br *bufio.Reader) (ended bool, err error) {
	// The last len(endstream) bytes read, compared at each byte: "endstrendstream" and the
	// like cannot throw it off.
	var last [9]byte
	n := 0
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		copy(last[:], last[1:])
		last[8] = c
		if n++; n >= len(endstream) && bytes.Equal(last[:], endstream) {
			return true, nil
		}
	}
}
