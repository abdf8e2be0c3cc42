package reading

import (
	"unicode"

	"github.com/mssbridge/mssbridge/pdf"
)

// A PDF whose fonts carry no Unicode map (a PostScript spool re-distilled with Type 3 or
// subset fonts) has a text layer, but of symbols: every extractor gives « ❈ ✁✂✄ ☎✆✝ ».
// Such a page is unreadable: nothing read from it can be trusted.

// minGarbageRunes: below this many visible characters a page says too little to judge.
const minGarbageRunes = 20

// garbagePages returns the numbers of the pages whose text is mostly not Latin letters,
// digits and punctuation.
func garbagePages(pages []pdf.Page) []int {
	var out []int
	for _, p := range pages {
		total, plain := 0, 0
		for _, r := range p.Text {
			if unicode.IsSpace(r) {
				continue
			}
			total++
			switch {
			case r < 0x80 && unicode.IsPrint(r),
				unicode.Is(unicode.Latin, r),
				unicode.IsDigit(r),
				unicode.IsPunct(r) && r < 0x2100, // ordinary punctuation, not dingbats
				r == '€' || r == '°' || r == 'µ' || r == '²' || r == '³':
				plain++
			}
		}
		if total >= minGarbageRunes && plain*10 < total*8 {
			out = append(out, p.Number)
		}
	}
	return out
}
