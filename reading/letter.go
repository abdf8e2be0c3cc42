package reading

import (
	"regexp"
	"sort"
	"strings"

	"github.com/mssbridge/mssbridge/pdf"
)

// Reading the letter itself, the way a secretary does: who it is about (the patient's
// identity lines), who it is for (the addressee block at the top of the first page, the
// « Destinataire », « Copie à » lines) and who wrote it (the letterhead, the signature, the
// structure's own addresses), which must never be taken for a recipient.
//
// The layout is what PDFium gives: lines with their boxes in PDF points, y upwards. Nothing
// here depends on the page size: positions are compared between lines.

// tline is one line of the letter.
type tline struct {
	page           int // 1-based
	t              ftext
	x0, y0, x1, y1 float64
	hasBox         bool
	running        bool // repeated at the same place on several pages: a header or footer
	used           bool // taken by a recipient group
}

// h is the line's height, or a usual one when PDFium gave no box.
func (l *tline) h() float64 {
	if l.hasBox && l.y1 > l.y0 {
		return l.y1 - l.y0
	}
	return 10
}

func (l *tline) text() string { return l.t.orig }

// sameRow: two lines side by side (a table's cells, two columns).
func sameRow(a, b *tline) bool {
	if !a.hasBox || !b.hasBox || a.page != b.page {
		return false
	}
	overlap := min(a.y1, b.y1) - max(a.y0, b.y0)
	return overlap >= 0.5*min(a.h(), b.h())
}

// letterDoc is the letter's lines, page by page, each page top-down.
type letterDoc struct {
	pages  [][]*tline
	layout bool // the lines have boxes: positions can be used
}

// labelOnlyRE: a table cell holding only a label (« Prescripteur », « Date de naissance : »),
// whose value is the next cell on the row.
var labelOnlyRE = regexp.MustCompile(`^[A-Z][A-Z'°(). /-]{1,40}:?$`)

func newLetterDoc(pages []pdf.Page) *letterDoc {
	d := &letterDoc{pages: make([][]*tline, len(pages))}
	boxes, total := 0, 0
	for i, p := range pages {
		var lines []*tline
		for _, pl := range p.Lines {
			text := pl.Text
			if loc := textTagRE.FindStringIndex(text); loc != nil {
				text = text[:loc[0]] // tags are the software speaking, read elsewhere
			}
			text = collapseSpaces(capsWordRE.ReplaceAllString(text, "$1$2 $3"))
			if text == "" {
				continue
			}
			l := &tline{page: i + 1, t: newFText(text), x0: pl.X0, y0: pl.Y0, x1: pl.X1, y1: pl.Y1}
			l.hasBox = pl.X1 > pl.X0 && pl.Y1 > pl.Y0
			total++
			if l.hasBox {
				boxes++
			}
			lines = append(lines, l)
		}
		d.pages[i] = lines
	}
	d.layout = total > 0 && boxes*10 >= total*9
	if d.layout {
		for i := range d.pages {
			sort.SliceStable(d.pages[i], func(a, b int) bool {
				la, lb := d.pages[i][a], d.pages[i][b]
				if sameRow(la, lb) {
					return la.x0 < lb.x0
				}
				return la.y1 > lb.y1
			})
			d.pages[i] = mergeLabelCells(d.pages[i])
		}
		d.markRunning()
	}
	return d
}

// mergeLabelCells joins a cell that holds only a known label to the next cell on its row,
// so that « Prescripteur | Dr Paul MERCIER » reads as one line.
func mergeLabelCells(lines []*tline) []*tline {
	out := lines[:0:0]
	skip := map[*tline]bool{}
	for _, l := range lines {
		if skip[l] {
			continue
		}
		if labelOnlyRE.MatchString(l.t.fold) && isKnownLabel(l.t.fold) {
			var next *tline
			for _, m := range lines {
				if m != l && !skip[m] && sameRow(l, m) && m.x0 > l.x1-1 && (next == nil || m.x0 < next.x0) {
					next = m
				}
			}
			if next != nil {
				sep := " : "
				if strings.HasSuffix(l.t.orig, ":") {
					sep = " "
				}
				merged := *l
				merged.t = newFText(l.t.orig + sep + next.t.orig)
				merged.x1, merged.y0, merged.y1 = next.x1, min(l.y0, next.y0), max(l.y1, next.y1)
				skip[next] = true
				out = append(out, &merged)
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

// isKnownLabel: a label of the patient's identity or of a recipient.
func isKnownLabel(f string) bool {
	f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), ":"))
	return insLabelRE.MatchString(f) || patientFieldLabelRE.MatchString(f+" :") || toLabelRE.MatchString(f+" :") || ccLabelRE.MatchString(f+" :") ||
		infoLabelRE.MatchString(f+" :") || authorLabelRE.MatchString(f+" :")
}

// capsWordRE: a name in capitals glued to the next word (« ARNAUDThéo »): some generators
// place words apart without a space character, and PDFium then joins them.
var capsWordRE = regexp.MustCompile(`(^|\s)(\p{Lu}{2,})(\p{Lu}\p{Ll})`)

// digitsRE: page numbers and dates change from page to page on a running header or footer.
var digitsRE = regexp.MustCompile(`[0-9]+`)

// markRunning marks the lines repeated at the same height on two pages or more.
func (d *letterDoc) markRunning() {
	if len(d.pages) < 2 {
		return
	}
	type seen struct {
		y     float64
		pages map[int]bool
		lines []*tline
	}
	byKey := map[string][]*seen{}
	for _, lines := range d.pages {
		for _, l := range lines {
			key := digitsRE.ReplaceAllString(l.t.fold, "#")
			var s *seen
			for _, c := range byKey[key] {
				if abs(c.y-l.y0) <= 4 {
					s = c
					break
				}
			}
			if s == nil {
				s = &seen{y: l.y0, pages: map[int]bool{}}
				byKey[key] = append(byKey[key], s)
			}
			s.pages[l.page] = true
			s.lines = append(s.lines, l)
		}
	}
	for _, list := range byKey {
		for _, s := range list {
			if len(s.pages) >= 2 {
				for _, l := range s.lines {
					l.running = true
				}
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// all returns every line, page by page.
func (d *letterDoc) all() []*tline {
	var out []*tline
	for _, p := range d.pages {
		out = append(out, p...)
	}
	return out
}

// Where the letter proper begins: the subject, the salutation, a document title. The
// addressee block is above it.
var (
	bodyMarkerRE = regexp.MustCompile(`^(?:OBJET\b|OBJ\.|CONCERNE\s*:|COMPTE[ -]RENDU\b|LETTRE DE LIAISON\b|LETTRE DE SORTIE\b|ORDONNANCE\b|CERTIFICAT\b|RESULTATS?\b|BILAN\b|EXAMEN\b|COURRIER DE\b|SYNTHESE\b|RAPPORT\b)`)
	salutationRE = regexp.MustCompile(`^(?:CHERE?S?|MON CHER|MA CHERE|BONJOUR|MADAME|MONSIEUR|DOCTEUR|MESDAMES|MESSIEURS|CONFRERE|CONSOEUR)\b[^,:]{0,40},$`)
	closingRE    = regexp.MustCompile(`CONFRATERNELL|CORDIALEMENT|SALUTATIONS|SENTIMENTS|BIEN A VOUS|AMICALEMENT|AMITIES|RESPECTUEUSEMENT|MEILLEURS? SOUVENIRS|VEUILLEZ AGREER|JE VOUS PRIE D'AGREER`)
)

func isBodyStart(l *tline) bool {
	f := strings.TrimLeft(l.t.fold, " -•*·>")
	return bodyMarkerRE.MatchString(f) || salutationRE.MatchString(f)
}

// bodyTop returns the top of the first line of the letter proper on page 1, or, when none is
// recognised, a line at 45 % of the page's text height from its top.
func (d *letterDoc) bodyTop() float64 {
	lines := d.pages[0]
	top, bottom := -1e9, 1e9
	for _, l := range lines {
		if l.running {
			continue
		}
		top, bottom = max(top, l.y1), min(bottom, l.y0)
	}
	for _, l := range lines {
		if !l.running && isBodyStart(l) {
			return l.y1
		}
	}
	return top - 0.45*max(top-bottom, 400)
}
