package reading

import (
	"regexp"

	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/pdf"
)

// A first, narrow reading of the letter: the INS printed after an "INS" label ("INS :",
// "N° INS", "Matricule INS"), in groups or in one piece. Reading names, dates and addresses
// from the letter is later work; the INS is read now because its key says whether it was
// read right.
var textINSRE = regexp.MustCompile(`\bINS\b[\s:°.]{0,6}([0-9][0-9AB ]{14,24})(?:[^0-9A-Za-z]|$)`)

// textINS is one INS found in the text layer.
type textINS struct {
	value    string // normalised
	keyValid bool
	err      error // not an INS: wrong length, month, …
}

// findTextINS returns the distinct labelled INS of the text layer, in reading order.
func findTextINS(pages []pdf.Page) []textINS {
	var out []textINS
	seen := map[string]bool{}
	for _, p := range pages {
		for _, l := range p.Lines {
			text := l.Text
			if loc := textTagRE.FindStringIndex(text); loc != nil {
				text = text[:loc[0]] // a tag runs to the end of its line: it is read as a tag
			}
			for _, m := range textINSRE.FindAllStringSubmatch(text, -1) {
				n, keyValid, err := ins.Check(m[1])
				if len(n) < ins.Length || seen[n] {
					continue // a shorter number after "INS" is something else
				}
				seen[n] = true
				out = append(out, textINS{value: n, keyValid: keyValid, err: err})
			}
		}
	}
	return out
}
