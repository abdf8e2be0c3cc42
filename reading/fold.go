package reading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The letter is matched on a folded copy of its text: upper case, accents removed, ligatures
// spelt out ("œ" is "OE"), so that « née », « NEE » and « Née » are one word and a label
// written « Date de naissance » or « DATE DE NAISSANCE » one label. Values (names, towns) are
// taken from the original text, accents kept: ftext maps every byte of the folded copy back
// to the original.

// foldTable maps the accented Latin letters French names use to their plain upper-case form.
var foldTable = map[rune]string{}

func init() {
	for _, group := range []struct{ from, to string }{
		{"ÀÁÂÃÄÅàáâãäåĀāĂăĄą", "A"}, {"Ææ", "AE"}, {"ÇçĆćĈĉĊċČč", "C"}, {"ĎďĐđ", "D"},
		{"ÈÉÊËèéêëĒēĔĕĖėĘęĚě", "E"}, {"ĜĝĞğĠġĢģ", "G"}, {"ĤĥĦħ", "H"}, {"ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", "I"},
		{"Ĵĵ", "J"}, {"Ķķ", "K"}, {"ĹĺĻļĽľĿŀŁł", "L"}, {"ÑñŃńŅņŇň", "N"},
		{"ÒÓÔÕÖØòóôõöøŌōŎŏŐő", "O"}, {"Œœ", "OE"}, {"ŔŕŖŗŘř", "R"}, {"ŚśŜŝŞşŠš", "S"}, {"ß", "SS"},
		{"ŢţŤťŦŧ", "T"}, {"ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", "U"}, {"Ŵŵ", "W"}, {"ÝýÿŶŷŸ", "Y"}, {"ŹźŻżŽž", "Z"},
	} {
		for _, r := range group.from {
			foldTable[r] = group.to
		}
	}
}

// foldRune returns the folded form of r.
func foldRune(r rune) string {
	if s, ok := foldTable[r]; ok {
		return s
	}
	if r < utf8.RuneSelf {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		return string(r)
	}
	return string(unicode.ToUpper(r))
}

// fold returns s upper-cased, without accents, ligatures spelt out.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteString(foldRune(r))
	}
	return b.String()
}

// nameKey compares names the way a person does: folded, and hyphens, apostrophes, dots and
// spaces do not matter (« N'Diaye » is « NDIAYE », « Le Goff » is « LEGOFF »).
func nameKey(s string) string {
	f := fold(s)
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ftext is a line of text and its folded copy, with the way back from one to the other.
type ftext struct {
	orig string
	fold string
	off  []int // off[i]: byte offset in orig of the rune that gave fold[i]; off[len(fold)] = len(orig)
}

func newFText(s string) ftext {
	t := ftext{orig: s}
	var b strings.Builder
	b.Grow(len(s))
	t.off = make([]int, 0, len(s)+1)
	for i, r := range s {
		f := foldRune(r)
		b.WriteString(f)
		for range len(f) {
			t.off = append(t.off, i)
		}
	}
	t.fold = b.String()
	t.off = append(t.off, len(s))
	return t
}

// orig returns the original text of the folded bytes [a, b).
func (t ftext) origOf(a, b int) string {
	if a < 0 {
		a = 0
	}
	if b > len(t.fold) {
		b = len(t.fold)
	}
	if a >= b {
		return ""
	}
	end := t.off[b]
	// b may fall inside a multi-byte expansion ("OE" of "œ"): end at that rune's end.
	if b < len(t.fold) && t.off[b] == t.off[b-1] {
		_, size := utf8.DecodeRuneInString(t.orig[t.off[b-1]:])
		end = t.off[b-1] + size
	}
	return t.orig[t.off[a]:end]
}

// isUpperWord: a word written in capitals (at least two letters, no lower-case letter), as
// clinical software prints family names.
func isUpperWord(w string) bool {
	letters := 0
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsLetter(r) {
			letters++
		}
	}
	return letters >= 2
}
