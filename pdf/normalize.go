package pdf

import "strings"

// textReplacer maps the characters that PDF text layers carry in place of plain ones. A
// PostScript Latin-1 encoding, for instance, turns '-' into U+2212 MINUS SIGN, and fonts
// with ligatures give "ﬁ" for "fi". Accents are kept as they are.
var textReplacer = strings.NewReplacer(
	// Dashes and minus signs.
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-",
	"\u2212", "-", "\u00ad", "-", "\ufe63", "-", "\uff0d", "-",
	// Spaces: no-break, narrow no-break, thin, figure, en/em spaces, ideographic.
	"\u00a0", " ", "\u202f", " ", "\u2009", " ", "\u2007", " ", "\u2002", " ", "\u2003", " ",
	"\u2004", " ", "\u2005", " ", "\u2006", " ", "\u2008", " ", "\u200a", " ", "\u3000", " ",
	"\t", " ",
	// Zero-width characters that split words for no visible reason.
	"\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "",
	// Ligatures.
	"\ufb00", "ff", "\ufb01", "fi", "\ufb02", "fl", "\ufb03", "ffi", "\ufb04", "ffl",
	"\ufb05", "st", "\ufb06", "st",
	// Quotes and apostrophes: the letters print ’ where software wrote '.
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u2032", "'", "\u02bc", "'",
	"\u201c", "\"", "\u201d", "\"", "\u201e", "\"",
	// Fullwidth at sign and colon (seen in East-Asian fonts).
	"\uff20", "@", "\uff1a", ":",
	// Combining accents written after the letter, for the French letters (NFC for them).
	"e\u0301", "é", "e\u0300", "è", "e\u0302", "ê", "e\u0308", "ë", "a\u0300", "à", "a\u0302", "â",
	"i\u0302", "î", "i\u0308", "ï", "o\u0302", "ô", "u\u0300", "ù", "u\u0302", "û", "u\u0308", "ü",
	"c\u0327", "ç", "y\u0308", "ÿ",
	"E\u0301", "É", "E\u0300", "È", "E\u0302", "Ê", "E\u0308", "Ë", "A\u0300", "À", "A\u0302", "Â",
	"I\u0302", "Î", "I\u0308", "Ï", "O\u0302", "Ô", "U\u0300", "Ù", "U\u0302", "Û", "U\u0308", "Ü",
	"C\u0327", "Ç",
)

// NormalizeText maps dash, space, quote and ligature variants to their plain forms and
// composes the French accented letters written as letter + combining accent. Everything else,
// accents included, is left alone. It does not change line breaks.
func NormalizeText(s string) string {
	return textReplacer.Replace(s)
}
