package reading

import (
	"regexp"
	"sort"
	"strings"
)

// Who a letter is for. Recipients come only from places a secretary reads as such: a
// recipient label (« Destinataire : », « Adressé à », « À l'attention du », « Prescripteur : »
// for a to; « Copie à », « cc », « Double à » for a cc) and the addressee block at the top of
// the first page. An address, an RPPS or a name anywhere else (the letterhead, the
// signature, the footer, the body) is not a recipient. Every recipient read is then checked
// against the author: the structure's own addresses, the letterhead, the signature.

var (
	toLabelRE = regexp.MustCompile(`^(?:(DESTINATAIRES?(?: PRINCIPAL)?|ADRESSEE? AUX?|ADRESSEE? A|A L'ATTENTION(?: (?:DE LA|DE|DU|DES))?|A L ATTENTION(?: (?:DE LA|DE|DU|DES))?|ATTN\.?|PRESCRIPTEUR|MEDECIN PRESCRIPTEUR|PRESCRIT PAR|MEDECIN DEMANDEUR|DEMANDEUR|EXAMEN DEMANDE PAR|DEMANDE PAR|ENVOYEE? AUX?|ENVOYEE? A|TRANSMISE? AUX?|TRANSMISE? A|RESULTATS TRANSMIS AUX?|RESULTATS TRANSMIS A|CORRESPONDANT)\b *:?|(A|AU|POUR) *:) *`)
	ccLabelRE = regexp.MustCompile(`^(?:(COPIES?(?: (?:A LA|A|AU|AUX|POUR))?|CC|C/C|DOUBLES?(?: (?:A|AU|AUX))?|AVEC COPIES? (?:A|AU|AUX)|EN COPIE|AMPLIATIONS?)\b|(C\.C\.))\.? *:? *`)
	// infoLabelRE: labels that name someone who is not, by that label, a recipient.
	infoLabelRE = regexp.MustCompile(`^(MEDECIN TRAITANT|MEDECIN REFERENT|ADRESSEE? PAR|MEDECIN ADRESSEUR|ORIGINE)\b *:?`)
	// authorLabelRE: labels that name the author.
	authorLabelRE = regexp.MustCompile(`^(?:(SIGNE(?: PAR)?|SIGNATURE|VALIDEE? PAR|VALIDATION|BIOLOGISTE(?: RESPONSABLE)?|LE BIOLOGISTE|MEDECIN RESPONSABLE|MEDECIN SIGNATAIRE|REDIGEE? PAR|DICTEE? PAR|COMPTE RENDU REDIGE PAR|AUTEUR|SIGNATAIRE|OPERATEUR|CHIRURGIEN|RADIOLOGUE|INTERPRETE PAR|EXPEDITEUR|EMETTEUR|DE LA PART DU?)\b *:?|(DE) *:) *`)
	// genericLabelRE: any « Words : » at the start of a line ends a group of lines.
	genericLabelRE = regexp.MustCompile(`^[A-Z][A-Z0-9'/ .()°-]{0,30}:`)
	// dateLineRE: « Lyon, le 12 mars 2026 », « Le 12/03/2026 »: neither letterhead nor addressee.
	dateLineRE = regexp.MustCompile(`^(?:[A-Z][A-Z' -]{1,40}, )?LE [0-9]`)
	bulletRE   = regexp.MustCompile(`^[\s\-•*·>–]+`)

	// Addresses as letters print them. The local part and domain are checked afterwards.
	addrRE        = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?`)
	addrSpacedRE  = regexp.MustCompile(`([A-Za-z0-9._-]) ?@ ([A-Za-z0-9])|([A-Za-z0-9._-]) @ ?([A-Za-z0-9])`)
	rppsLabelRE   = regexp.MustCompile(`RPPS *(?:N ?°|NO\.?|N\.|NUMERO)? *[:.]? *(8?[0-9](?: ?[0-9]){10})\b`)
	rppsBareRE    = regexp.MustCompile(`(?:^|[^0-9])(8?1[0-9]{10})(?:[^0-9]|$)`)
	postcodeRE    = regexp.MustCompile(`\b([0-9]{5})\b`)
	townAfterARE  = regexp.MustCompile(`(?:^|[ ,])(?:A|AU|SUR) ([A-Z][A-Z'-]+(?: (?:SUR|SUR-|EN|LES|LE|LA|DE|DU)? ?[A-Z][A-Z'-]+)?)`)
	ignorableCopy = regexp.MustCompile(`^(?:LE |LA |AU |A LA |AUX )?(?:PATIENTE?|DOSSIER|ARCHIVES?|FAMILLE|INTERESSEE?|PARENTS|ORIGINAL)\b`)
)

// rgroup is a recipient label and its lines, or the addressee block.
type rgroup struct {
	role  Role
	label string // as printed, for reasons: « Copie à »
	lines []*tline
	first ftext // the first line's value (after the label)
	block bool  // the unlabelled addressee block
}

// ritem is one recipient as a group names it.
type ritem struct {
	role    Role
	label   string
	block   bool
	name    *personName
	addr    string
	rpps    string
	ctx     []string // the text around it: structure, street, town, specialty
	text    string   // the item's own text, for reasons
	started int      // piece index where it started
}

func (it *ritem) describe() string {
	switch {
	case it.name != nil:
		return it.name.raw
	case it.addr != "":
		return it.addr
	case it.rpps != "":
		return "RPPS " + it.rpps
	}
	return it.text
}

// labelOf returns the role a line's label gives, the label as printed and where the value
// starts (folded offset), or ok false.
func labelOf(t ftext) (role Role, label string, value int, ok bool) {
	f := t.fold
	lead := 0
	if m := bulletRE.FindStringIndex(f); m != nil {
		lead = m[1]
	}
	f = f[lead:]
	if m := ccLabelRE.FindStringIndex(f); m != nil {
		return RoleCc, strings.TrimRight(t.origOf(lead, lead+m[1]), " :"), lead + m[1], true
	}
	if m := toLabelRE.FindStringIndex(f); m != nil {
		return RoleTo, strings.TrimRight(t.origOf(lead, lead+m[1]), " :"), lead + m[1], true
	}
	return "", "", 0, false
}

// stopsGroup: a line that cannot continue a group of recipient lines.
func stopsGroup(l *tline) bool {
	f := strings.TrimLeft(l.t.fold, " -•*·>")
	if _, _, _, ok := labelOf(l.t); ok {
		return true
	}
	return l.running || genericLabelRE.MatchString(f) || isBodyStart(l) || closingRE.MatchString(f) ||
		patientFieldLabelRE.MatchString(f) || dateLineRE.MatchString(f)
}

// recipientGroups finds the labelled groups, page by page, and marks their lines used.
func recipientGroups(d *letterDoc) []*rgroup {
	var groups []*rgroup
	for _, lines := range d.pages {
		for i, l := range lines {
			if l.used || l.running {
				continue
			}
			role, label, value, ok := labelOf(l.t)
			if !ok {
				continue
			}
			g := &rgroup{role: role, label: label, lines: []*tline{l}, first: newFText(l.t.origOf(value, len(l.t.fold)))}
			l.used = true
			// Lines below that go with it: the rest of an address, a list of copies.
			if d.layout {
				prev := l
				for _, m := range lines[i+1:] {
					if len(g.lines) > 8 {
						break
					}
					if m.used || sameRow(m, prev) || sameRow(m, l) {
						continue
					}
					// A list of copies may be spaced out; other lines must follow closely.
					gap := prev.y0 - m.y1
					limit := 1.3 * max(m.h(), prev.h())
					if looksListItem(m.t) {
						limit = 2.4 * max(m.h(), prev.h())
					}
					if gap > limit || m.x0 < l.x0-10 || m.x0 > l.x0+220 || stopsGroup(m) || !(looksListItem(m.t) || looksAddressLine(m.t)) {
						break
					}
					g.lines = append(g.lines, m)
					m.used = true
					prev = m
				}
			}
			groups = append(groups, g)
		}
	}
	return groups
}

// piece is a stretch of a group's text: a line, or part of one between semicolons.
type piece struct {
	t         ftext
	lineStart bool // first piece of a line
}

func groupPieces(g *rgroup) []piece {
	var out []piece
	add := func(t ftext) {
		for i, part := range strings.Split(t.orig, ";") {
			part = strings.TrimSpace(bulletRE.ReplaceAllString(part, ""))
			if part != "" {
				out = append(out, piece{t: newFText(fixSpacedAt(part)), lineStart: i == 0})
			}
		}
	}
	add(g.first)
	for _, l := range g.lines[1:] {
		add(l.t)
	}
	return joinBrokenAddresses(out)
}

// fixSpacedAt joins « jean.martin @ medecin.mssante.fr ».
func fixSpacedAt(s string) string {
	if !strings.Contains(s, " @") && !strings.Contains(s, "@ ") {
		return s
	}
	return addrSpacedRE.ReplaceAllString(s, "$1$3@$2$4")
}

// joinBrokenAddresses mends an address cut at the end of a line (« secretariat.neuro@chu- »
// then « exemple.mssante.fr »).
func joinBrokenAddresses(ps []piece) []piece {
	for i := 0; i+1 < len(ps); i++ {
		s := ps[i].t.orig
		if !(strings.HasSuffix(s, "@") || strings.HasSuffix(s, "-") || strings.HasSuffix(s, ".")) {
			continue
		}
		words := strings.Fields(s)
		lastWord := words[len(words)-1]
		if !strings.Contains(lastWord, "@") {
			continue
		}
		next := strings.Fields(ps[i+1].t.orig)
		if len(next) == 0 || !addrRE.MatchString("x@"+next[0]) {
			continue
		}
		ps[i].t = newFText(s + next[0])
		rest := strings.TrimSpace(strings.TrimPrefix(ps[i+1].t.orig, next[0]))
		if rest == "" {
			ps = append(ps[:i+1], ps[i+2:]...)
		} else {
			ps[i+1].t = newFText(rest)
		}
	}
	return ps
}

// anchor is a thing in a piece that names one recipient.
type anchor struct {
	pos  int // original byte offset
	kind byte
	name personName
	addr string
	rpps string
}

const (
	anchorName = 'n'
	anchorAddr = 'a'
	anchorRPPS = 'r'
)

// anchorsOf finds the names, addresses and RPPS numbers of a piece.
func anchorsOf(p piece, labelled bool) []anchor {
	var out []anchor
	t := p.t
	for _, m := range addrRE.FindAllStringIndex(t.orig, -1) {
		a := strings.Trim(t.orig[m[0]:m[1]], ".-")
		out = append(out, anchor{pos: m[0], kind: anchorAddr, addr: a})
	}
	inAddr := func(pos int) bool {
		for _, a := range out {
			if a.kind == anchorAddr && pos >= a.pos && pos < a.pos+len(a.addr) {
				return true
			}
		}
		return false
	}
	rppsSeen := map[string]bool{}
	for _, m := range rppsLabelRE.FindAllStringSubmatchIndex(t.fold, -1) {
		r := strings.ReplaceAll(t.fold[m[2]:m[3]], " ", "")
		r = strings.TrimPrefix(r, "8")
		if len(r) == 11 && !rppsSeen[r] {
			rppsSeen[r] = true
			out = append(out, anchor{pos: t.off[m[0]], kind: anchorRPPS, rpps: r})
		}
	}
	for _, m := range rppsBareRE.FindAllStringSubmatchIndex(t.orig, -1) {
		r := t.orig[m[2]:m[3]]
		if len(r) == 12 {
			r = r[1:]
		}
		if !rppsSeen[r] && !inAddr(m[2]) {
			rppsSeen[r] = true
			out = append(out, anchor{pos: m[2], kind: anchorRPPS, rpps: r})
		}
	}
	for _, d := range findDesignations(t) {
		pos := t.off[d.start]
		if inAddr(pos) {
			continue
		}
		out = append(out, anchor{pos: pos, kind: anchorName, name: d.name})
	}
	if labelled && p.lineStart {
		hasName := false
		for _, a := range out {
			hasName = hasName || a.kind == anchorName
		}
		if !hasName {
			if n, ok := bareName(t.orig); ok {
				out = append(out, anchor{pos: 0, kind: anchorName, name: n})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// groupItems turns a group into the recipients it names. In a labelled group each name or
// address starts a recipient, with what follows it (a structure, a town) as its context; a
// line starting with a name or an address starts a new one. The addressee block is one
// recipient: its name, its address, and its other lines as context.
func groupItems(g *rgroup) []*ritem {
	var items []*ritem
	var cur *ritem
	newItem := func(pi int, text string) *ritem {
		it := &ritem{role: g.role, label: g.label, block: g.block, started: pi, text: text}
		items = append(items, it)
		return it
	}
	for pi, p := range groupPieces(g) {
		anchors := anchorsOf(p, !g.block)
		if len(anchors) == 0 {
			if cur != nil {
				cur.ctx = append(cur.ctx, p.t.orig)
			} else {
				cur = newItem(pi, p.t.orig) // text only: resolved later or reported
				cur.ctx = append(cur.ctx, p.t.orig)
			}
			continue
		}
		// A piece before its first anchor: context of the current item.
		if anchors[0].pos > 0 && cur != nil {
			cur.ctx = append(cur.ctx, p.t.orig[:anchors[0].pos])
		}
		// A line under a label that does not start with a name or an address (« Maison de
		// santé des Pentes, Dr … ») adds nobody: it is context.
		if !g.block && pi > 0 && cur != nil && p.lineStart && strings.TrimSpace(p.t.orig[:anchors[0].pos]) != "" {
			cur.ctx = append(cur.ctx, p.t.orig)
			continue
		}
		for ai, a := range anchors {
			end := len(p.t.orig)
			if ai+1 < len(anchors) {
				end = anchors[ai+1].pos
			}
			seg := p.t.orig[a.pos:end]
			startsLine := ai == 0 && strings.TrimSpace(p.t.orig[:a.pos]) == ""
			switch {
			case cur == nil:
				cur = newItem(pi, seg)
			case g.block:
				// one recipient per block
			case cur.name == nil && cur.addr == "" && cur.rpps == "":
				// a text-only item: this is its recipient
			case a.kind == anchorName && cur.name == nil && cur.started == pi:
			case a.kind == anchorAddr && cur.addr == "" && !(startsLine && pi != cur.started):
			case a.kind == anchorRPPS && cur.rpps == "" && !(startsLine && pi != cur.started):
			default:
				cur = newItem(pi, seg)
			}
			switch a.kind {
			case anchorName:
				if cur.name == nil {
					n := a.name
					cur.name = &n
				} else if g.block && !samePerson(*cur.name, a.name) {
					cur.ctx = append(cur.ctx, "\x00two names")
				}
			case anchorAddr:
				if cur.addr == "" {
					cur.addr = a.addr
				} else if !strings.EqualFold(cur.addr, a.addr) {
					if g.block {
						cur.ctx = append(cur.ctx, "\x00two addresses")
					} else {
						cur = newItem(pi, seg)
						cur.addr = a.addr
					}
				}
			case anchorRPPS:
				if cur.rpps == "" {
					cur.rpps = a.rpps
				} else if cur.rpps != a.rpps {
					cur.ctx = append(cur.ctx, "\x00two rpps")
				}
			}
			cur.ctx = append(cur.ctx, seg)
		}
	}
	return items
}

// looksListItem: a line that starts with a bullet, a titled name or an address.
func looksListItem(t ftext) bool {
	if bulletRE.MatchString(t.fold) || startsWithDesignation(t) {
		return true
	}
	m := addrRE.FindStringIndex(t.orig)
	return m != nil && m[0] == 0
}

// Lines that belong to a recipient's address: a street, a postcode and town, a structure, a
// specialty; short, and not a sentence of the letter.
var (
	streetRE    = regexp.MustCompile(`\b(?:RUE|AVENUE|AV\.|BOULEVARD|BD|PLACE|CHEMIN|ALLEE|QUAI|COURS|ROUTE|IMPASSE|MONTEE|SQUARE|BP|CS)\b`)
	structureRE = regexp.MustCompile(`\b(?:CABINET|CENTRE|HOPITAL|CHU|CHR|CH|CLINIQUE|SERVICE|MAISON|LABORATOIRE|POLE|UNITE|SECRETARIAT|GROUPE|INSTITUT|PHARMACIE|EHPAD|RESIDENCE)\b`)
)

func looksAddressLine(t ftext) bool {
	f := t.fold
	words := strings.Fields(f)
	if len(words) > 10 || strings.HasSuffix(strings.TrimSpace(f), ".") && len(words) > 4 {
		return false
	}
	if postcodeRE.MatchString(f) || streetRE.MatchString(f) || structureRE.MatchString(f) || rppsLabelRE.MatchString(f) {
		return true
	}
	for _, s := range specialties {
		if containsStem(f, s.letter) {
			return true
		}
	}
	return len(words) <= 4 // a town, a building, « Bâtiment B »
}
