package printer

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Plain text is what a "Generic / Text Only" driver (common on old Windows workstations) or a
// raw queue sends. It is turned into a PDF whose text layer is exact: the standard Courier
// font with WinAnsiEncoding needs no embedded font, so every reader maps it back to Unicode,
// and tags printed in the text (#MSS-TO: …) are read as written.

// Page geometry: A4 in points, 10 pt Courier (6 pt a character), 12 pt leading.
const (
	textPageWidth  = 595
	textPageHeight = 842
	textMargin     = 50
	textFontSize   = 10
	textLeading    = 12
	textLineChars  = (textPageWidth - 2*textMargin) / 6
	textPageLines  = (textPageHeight - 2*textMargin) / textLeading
	// A print of more than this is not a letter; it is refused rather than rendered.
	textMaxPages = 500
)

// LooksLikeText reports whether b is plain text (UTF-8, or a Latin-1/Windows-1252 legacy
// encoding): no control characters but tab, line ends and form feed, and no NUL.
func LooksLikeText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			return false
		}
		if c == 0x7f {
			return false
		}
	}
	return true
}

// TextToPDF renders plain text as a PDF: long lines wrapped, form feeds as page breaks.
func TextToPDF(text []byte) ([]byte, error) {
	s := decodeText(text)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	s = strings.ReplaceAll(s, "\t", "    ")
	var pages [][]string
	for _, chunk := range strings.Split(s, "\f") {
		var lines []string
		for _, l := range strings.Split(chunk, "\n") {
			r := []rune(l)
			for len(r) > textLineChars {
				lines = append(lines, string(r[:textLineChars]))
				r = r[textLineChars:]
			}
			lines = append(lines, string(r))
		}
		for len(lines) > 0 {
			n := min(len(lines), textPageLines)
			pages = append(pages, lines[:n])
			lines = lines[n:]
		}
		if len(pages) > textMaxPages {
			return nil, fmt.Errorf("text print of more than %d pages", textMaxPages)
		}
	}
	if len(pages) == 0 {
		pages = [][]string{{""}}
	}

	var out bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// 1 catalog, 2 pages, 3 font, then a content stream and a page per page.
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 5+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
	for _, lines := range pages {
		var cs bytes.Buffer
		fmt.Fprintf(&cs, "BT /F1 %d Tf %d TL %d %d Td\n", textFontSize, textLeading, textMargin, textPageHeight-textMargin)
		for _, l := range lines {
			cs.WriteString("(")
			cs.Write(pdfString(l))
			cs.WriteString(") '\n")
		}
		cs.WriteString("ET")
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", cs.Len(), cs.Bytes()))
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>",
			textPageWidth, textPageHeight, len(offsets)))
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return out.Bytes(), nil
}

// decodeText reads UTF-8, or else Windows-1252 (which Latin-1 text also is, as far as it goes).
func decodeText(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x80 && c < 0xa0 {
			if r, ok := cp1252High[c]; ok {
				sb.WriteRune(r)
				continue
			}
			sb.WriteRune('?')
			continue
		}
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// pdfString encodes a line in WinAnsiEncoding inside a PDF literal string.
func pdfString(s string) []byte {
	var b []byte
	for _, r := range s {
		var c byte
		switch {
		case r < 0x80:
			c = byte(r)
		case r >= 0xa0 && r <= 0xff:
			c = byte(r)
		default:
			c = '?'
			for k, v := range cp1252High {
				if v == r {
					c = k
					break
				}
			}
		}
		if c == '(' || c == ')' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

// cp1252High is Windows-1252 between 0x80 and 0x9f, where it differs from Latin-1 (the euro
// sign, typographic quotes and dashes, œ — all common in French letters).
var cp1252High = map[byte]rune{
	0x80: '€', 0x82: '‚', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x89: '‰', 0x8a: 'Š',
	0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•',
	0x96: '–', 0x97: '—', 0x99: '™', 0x9a: 'š', 0x9b: '›', 0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
}
