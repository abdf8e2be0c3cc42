package reading

import (
	"regexp"
	"strings"
)

// author is what the letter says about who wrote it: never a recipient.
type author struct {
	names []personName
	addrs map[string]bool
	rpps  map[string]bool
}

func newAuthor(own map[string]bool) *author {
	a := &author{addrs: map[string]bool{}, rpps: map[string]bool{}}
	for k := range own {
		a.addrs[k] = true
	}
	return a
}

// addText records the names, addresses and RPPS of a piece of author text (a letterhead line,
// a signature). bare: a line that is only a name counts as one (« Hélène ROUSSEL »).
func (a *author) addText(t ftext, bare bool) {
	for _, an := range anchorsOf(piece{t: newFText(fixSpacedAt(t.orig))}, false) {
		switch an.kind {
		case anchorName:
			a.names = append(a.names, an.name)
		case anchorAddr:
			a.addrs[strings.ToLower(normalizeAddress(an.addr))] = true
		case anchorRPPS:
			a.rpps[an.rpps] = true
		}
	}
	if bare {
		if n, ok := bareName(strings.TrimSpace(bulletRE.ReplaceAllString(t.orig, ""))); ok {
			a.names = append(a.names, n)
		}
	}
}

func (a *author) isName(n personName) bool {
	for _, x := range a.names {
		if samePerson(x, n) {
			return true
		}
	}
	return false
}

// hcluster is a block of lines at the top of the first page: the letterhead, the addressee,
// a reference, the date.
type hcluster struct {
	lines      []*tline
	x0, x1     float64
	bottom     float64
	h          float64
	letterhead bool // at the top of the page, or right under a block that is
	top        bool // starts at the top of the page
}

// maybeAddressee: a block at the very top that starts with a titled name and gives no
// sender's details (telephone, FINESS…) may be the addressee's: the letterhead can be a
// picture, a margin column, or the left cell of a two-cell header.
func (c *hcluster) maybeAddressee() bool {
	if !c.top || !startsWithDesignation(c.lines[0].t) {
		return false
	}
	for _, l := range c.lines {
		if senderDetailRE.MatchString(l.t.fold) {
			return false
		}
	}
	return true
}

// senderDetailRE: what a letterhead gives and an addressee block does not.
var senderDetailRE = regexp.MustCompile(`\bTEL\b|\bTELEPHONE\b|\bFAX\b|\bFINESS\b|\bSIRET\b|WWW\.|\b0[1-9](?:[ .]?[0-9]{2}){4}\b`)

// headClusters groups the lines of page 1 above the letter proper into blocks: lines aligned
// on the left (or right) edge, one under the other with no more than a line's gap.
func headClusters(d *letterDoc, skip map[*tline]bool) []*hcluster {
	if !d.layout || len(d.pages) == 0 {
		return nil
	}
	top := d.bodyTop()
	var clusters []*hcluster
	pageTop := -1e9
	for _, l := range d.pages[0] {
		if l.used || l.running || skip[l] || l.y1 <= top+0.5 || dateLineRE.MatchString(l.t.fold) || isOtherPersonLine(l.t) {
			continue
		}
		pageTop = max(pageTop, l.y1)
		var best *hcluster
		for _, c := range clusters {
			aligned := abs(l.x0-c.x0) <= 12 || abs(l.x1-c.x1) <= 6 && l.x0 > c.x0-60
			gap := c.bottom - l.y1
			if aligned && gap > -0.3*l.h() && gap <= 1.3*max(l.h(), c.h) {
				best = c
			}
		}
		if best == nil {
			best = &hcluster{x0: l.x0, x1: l.x1}
			clusters = append(clusters, best)
		}
		best.lines = append(best.lines, l)
		best.bottom, best.h, best.x1 = l.y0, l.h(), max(best.x1, l.x1)
	}
	// The letterhead: the blocks that start at the top of the page, and the blocks right
	// under them on the same left edge (a letterhead often has gaps between its parts).
	for _, c := range clusters {
		if c.lines[0].y1 >= pageTop-1.5*c.lines[0].h() {
			c.letterhead, c.top = true, true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, c := range clusters {
			if c.letterhead {
				continue
			}
			for _, l := range clusters {
				if l.letterhead && abs(l.x0-c.x0) <= 12 {
					gap := l.bottom - c.lines[0].y1
					if gap > -1 && gap <= 2.5*max(c.h, l.h) {
						c.letterhead, changed = true, true
						break
					}
				}
			}
		}
	}
	return clusters
}

// collectAuthor gathers the author's names, addresses and RPPS from the letterhead, the
// running headers and footers, the signature and the lines labelled as the author's.
func collectAuthor(d *letterDoc, clusters []*hcluster, own map[string]bool) *author {
	a := newAuthor(own)
	for _, c := range clusters {
		if c.letterhead && !c.maybeAddressee() {
			for _, l := range c.lines {
				a.addText(l.t, false)
			}
		}
	}
	signed := false
	for _, lines := range d.pages {
		for i, l := range lines {
			f := strings.TrimLeft(l.t.fold, " -•*·>")
			if l.running {
				a.addText(l.t, false)
				continue
			}
			if m := authorLabelRE.FindStringIndex(f); m != nil && !l.used {
				a.addText(newFText(l.t.origOf(m[1], len(l.t.fold))), true)
				signed = true
				continue
			}
			if closingRE.MatchString(f) {
				// The signature: the next lines below the closing formula.
				n := 0
				for _, m := range lines[i+1:] {
					if n >= 5 || (d.layout && l.y0-m.y1 > 140) {
						break
					}
					if _, _, _, ok := labelOf(m.t); ok {
						break
					}
					a.addText(m.t, true)
					n++
				}
				signed = true
			}
		}
	}
	if !signed {
		// No closing formula: the last line of the letter that is only a name.
		last := len(d.pages) - 1
		top := 1e9
		if last == 0 && d.layout {
			top = d.bodyTop() // not the addressee block
		}
		for i := len(d.pages[last]) - 1; i >= 0; i-- {
			l := d.pages[last][i]
			if l.used || l.running || l.y1 > top {
				continue
			}
			if ds := findDesignations(l.t); len(ds) == 1 && ds[0].start <= 1 && len(l.t.fold)-ds[0].end < 40 {
				a.names = append(a.names, ds[0].name)
				break
			}
		}
	}
	return a
}

// startsWithDesignation: the line begins with a titled name.
func startsWithDesignation(t ftext) bool {
	ds := findDesignations(t)
	return len(ds) > 0 && ds[0].start <= 1
}

// isOtherPersonLine: a line that names someone as something else than the addressee: the
// referring doctor (« Adressé par le Dr … »), the treating doctor, the author.
func isOtherPersonLine(t ftext) bool {
	f := strings.TrimLeft(t.fold, " -•*·>")
	return infoLabelRE.MatchString(f) || authorLabelRE.MatchString(f) || strings.HasPrefix(f, "ADRESSE PAR") ||
		strings.HasPrefix(f, "ADRESSEE PAR") || strings.HasPrefix(f, "MEDECIN TRAITANT")
}
