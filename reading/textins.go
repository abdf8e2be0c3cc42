package reading

import (
	"regexp"

	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/pdf"
)

// The INS printed in the letter after an "INS" or "NIR" label ("INS :", "N° INS",
// "Matricule INS", "NIR :"), in groups or in one piece, on the label's line or in the table
// cell beside it. Its key says whether it was read right.
var textINSRE = regexp.MustCompile(`\b(?:INS|NIR)\b[\s:°.]{0,6}([0-9][0-9AB ]{14,24})(?:[^0-9A-Za-z]|$)`)

// insLabelRE: a table cell that holds only the INS's label.
var insLabelRE = regexp.MustCompile(`^(?:MATRICULE INS|N° INS|NO INS|INS|NIR|INS/NIR)$`)

// textINS is one INS found in the text layer.
type textINS struct {
	value    string // normalised
	keyValid bool
	err      error // not an INS: wrong length, month, …
}

// findTextINS returns the distinct labelled INS of the text layer, in reading order.
func findTextINS(pages []pdf.Page) []textINS {
	return findLetterINS(newLetterDoc(pages))
}

// findLetterINS is findTextINS on the letter's lines (tags cut off, table cells joined to
// their label).
func findLetterINS(d *letterDoc) []textINS {
	var out []textINS
	seen := map[string]bool{}
	for _, lines := range d.pages {
		for _, l := range lines {
			text := l.t.orig
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
