package directory

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeName is the normalisation names are compared with: accents removed (ligatures
// spelt out: Œ -> OE, ß -> SS), upper case, and every run of anything that is not a letter or a
// digit — space, hyphen and dash variants, apostrophes, dots — turned into one space, trimmed.
// "Le-Goff", "le  goff" and "LE GOFF" all give "LE GOFF"; "N’Diaye" gives "N DIAYE".
//
// The directory matches names on NameKey, which is this form without its spaces, so that
// "NDIAYE" finds "N'DIAYE" and "LEGOFF" finds "LE GOFF". The spaced form is the one to look
// for in a normalised text, since it keeps word boundaries.
func NormalizeName(s string) string {
	return string(appendFolded(nil, s, ' '))
}

// NameKey is NormalizeName without spaces: two names match when their keys are equal.
func NameKey(s string) string {
	return string(appendFolded(nil, s, 0))
}

// appendFolded appends the folded form of s to dst. Words are separated by sep, or glued
// together when sep is 0. s may be a string or a []byte (UTF-8).
func appendFolded[T ~string | ~[]byte](dst []byte, s T, sep byte) []byte {
	pending := false // a separator is due before the next letter
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'a' && c <= 'z':
				c -= 'a' - 'A'
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			default:
				pending = true
				continue
			}
			if pending && sep != 0 && len(dst) > start {
				dst = append(dst, sep)
			}
			pending = false
			dst = append(dst, c)
			continue
		}
		r, size := decodeRune(s, i)
		i += size
		fold := foldRune(r)
		switch {
		case fold == "" && r >= 0x300 && r <= 0x36f:
			continue // a combining accent: dropped, the letter it sits on is already written
		case fold == "" && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if pending && sep != 0 && len(dst) > start {
				dst = append(dst, sep)
			}
			pending = false
			dst = utf8.AppendRune(dst, unicode.ToUpper(r))
		case fold == "":
			pending = true
		default:
			if pending && sep != 0 && len(dst) > start {
				dst = append(dst, sep)
			}
			pending = false
			dst = append(dst, fold...)
		}
	}
	return dst
}

// decodeRune decodes the UTF-8 sequence at s[i] (s[i] >= 0x80); a byte that does not start a
// valid sequence gives utf8.RuneError and a size of 1.
func decodeRune[T ~string | ~[]byte](s T, i int) (rune, int) {
	c := s[i]
	var n int
	var r rune
	switch {
	case c&0xe0 == 0xc0:
		n, r = 2, rune(c&0x1f)
	case c&0xf0 == 0xe0:
		n, r = 3, rune(c&0x0f)
	case c&0xf8 == 0xf0:
		n, r = 4, rune(c&0x07)
	default:
		return utf8.RuneError, 1
	}
	if i+n > len(s) {
		return utf8.RuneError, 1
	}
	for k := 1; k < n; k++ {
		b := s[i+k]
		if b&0xc0 != 0x80 {
			return utf8.RuneError, 1
		}
		r = r<<6 | rune(b&0x3f)
	}
	return r, n
}

// latin1Fold gives the unaccented upper-case letters of U+00C0..U+00FF; '*' marks the
// characters handled in foldRune (ligatures, signs).
const latin1Fold = "AAAAAA*CEEEEIIIIDNOOOOO*OUUUUY**" + "AAAAAA*CEEEEIIIIDNOOOOO*OUUUUY*Y"

// latinAFold gives the base letters of Latin Extended-A, U+0100..U+017F ('*': ĲĳŒœ).
const latinAFold = "AAAAAACCCCCCCCDDDDEEEEEEEEEEGGGGGGGGHHHHIIIIIIIIII**JJKKKLLLLLLLLLLNNNNNNNNNOOOOOO**RRRRRRSSSSSSSSTTTTTTUUUUUUUUUUUUWWYYYZZZZZZS"

// foldRune returns the ASCII upper-case spelling of a non-ASCII letter with an accent or a
// ligature, or "" when the rune is not one of them.
func foldRune(r rune) string {
	switch {
	case r >= 0xc0 && r <= 0xff:
		if c := latin1Fold[r-0xc0]; c != '*' {
			return latin1Fold[r-0xc0 : r-0xc0+1]
		}
		switch r {
		case 'Æ', 'æ':
			return "AE"
		case 'Þ', 'þ':
			return "TH"
		case 'ß':
			return "SS"
		}
		return "" // × ÷
	case r >= 0x100 && r <= 0x17f:
		if c := latinAFold[r-0x100]; c != '*' {
			return latinAFold[r-0x100 : r-0x100+1]
		}
		switch r {
		case 'Ĳ', 'ĳ':
			return "IJ"
		}
		return "OE"
	case r >= 0xfb00 && r <= 0xfb06: // typographic ligatures
		return [...]string{"FF", "FI", "FL", "FFI", "FFL", "ST", "ST"}[r-0xfb00]
	}
	return ""
}

// words returns the words of the folded form of s.
func words(s string) []string {
	return strings.Fields(NormalizeName(s))
}

// cp1252 gives the characters of Windows-1252 in 0x80..0x9f; the five bytes it leaves
// undefined keep their Latin-1 meaning (C1 controls), as decoders commonly do.
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8d, 'Ž', 0x8f,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9d, 'ž', 'Ÿ',
}

// appendWindows1252 appends to dst the UTF-8 form of b read as Windows-1252 (a superset of
// Latin-1 for the printable characters).
func appendWindows1252(dst, b []byte) []byte {
	for _, c := range b {
		switch {
		case c < 0x80:
			dst = append(dst, c)
		case c < 0xa0:
			dst = utf8.AppendRune(dst, cp1252[c-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

// encodeWindows1252 is the reverse, for the tests and the benchmark: characters Windows-1252
// lacks become '?'.
func encodeWindows1252(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 0x80 || (r >= 0xa0 && r <= 0xff):
			out = append(out, byte(r))
		default:
			c := byte('?')
			for i, x := range cp1252 {
				if x == r {
					c = byte(0x80 + i)
					break
				}
			}
			out = append(out, c)
		}
	}
	return out
}
