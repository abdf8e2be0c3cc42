package reading

import (
	"fmt"
	"strings"

	"github.com/mssbridge/mssbridge/pdf"
)

// letterFound is what the letter itself says.
type letterFound struct {
	patient letterPatient
	// Recipients and the reasons that come with reading them: used only when the software
	// gave no recipient (tags, metadata, sidecar win).
	to, cc            []Recipient
	recipientProblems []string
	title             string // « Objet : … »
}

// readLetter reads the patient and the recipients from the letter's text and layout.
func (r *Reader) readLetter(pages []pdf.Page) letterFound {
	var out letterFound
	if len(pages) == 0 {
		return out
	}
	d := newLetterDoc(pages)
	pt, patientLines := readPatient(d)
	out.patient = pt
	out.title = letterTitle(d)

	groups := recipientGroups(d)
	clusters := headClusters(d, patientLines)
	au := collectAuthor(d, clusters, r.own)
	patient := personName{family: pt.family, given: pt.given}
	patientUsed := personName{family: pt.used, given: pt.given}

	hasTo := false
	for _, g := range groups {
		hasTo = hasTo || g.role == RoleTo
	}
	if !hasTo {
		// The addressee block: a block of the page's head, not the letterhead, that names
		// one person or gives an address, and is neither the author nor the patient.
		var cands []*hcluster
		toPatient := ""
		for _, c := range clusters {
			if c.letterhead && !c.maybeAddressee() || len(c.lines) > 7 || !namesEarly(c) || continuesBelow(d, c) {
				continue
			}
			g := &rgroup{role: RoleTo, label: "bloc d'adresse", lines: c.lines, first: c.lines[0].t, block: true}
			persons, addrs, rpps := 0, 0, 0
			authorish, patientish := false, false
			var names []personName
			for _, p := range groupPieces(g) {
				for _, a := range anchorsOf(p, false) {
					switch a.kind {
					case anchorName:
						dup := false
						for _, n := range names {
							dup = dup || samePerson(n, a.name)
						}
						if !dup {
							names = append(names, a.name)
							persons++
						}
						authorish = authorish || au.isName(a.name)
						if pt.family != "" && (samePerson(a.name, patient) || pt.used != "" && samePerson(a.name, patientUsed)) && !isCareTitle(a.name.title) {
							patientish = true
						}
					case anchorAddr:
						addrs++
						authorish = authorish || au.addrs[strings.ToLower(normalizeAddress(a.addr))]
					case anchorRPPS:
						rpps++
						authorish = authorish || au.rpps[a.rpps]
					}
				}
			}
			if patientish && !authorish && persons == 1 {
				toPatient = c.lines[0].text()
			}
			if persons+addrs+rpps == 0 || persons > 1 || authorish || patientish {
				continue
			}
			cands = append(cands, c)
		}
		switch len(cands) {
		case 0:
			if toPatient != "" {
				out.recipientProblems = append(out.recipientProblems,
					fmt.Sprintf("Le courrier est adressé au patient (« %s ») : pas de destinataire professionnel", toPatient))
			}
		case 1:
			c := cands[0]
			groups = append([]*rgroup{{role: RoleTo, label: "bloc d'adresse", lines: c.lines, first: c.lines[0].t, block: true}}, groups...)
		default:
			var firsts []string
			for _, c := range cands {
				firsts = append(firsts, "« "+c.lines[0].text()+" »")
			}
			out.recipientProblems = append(out.recipientProblems,
				"Plusieurs blocs d'adresse en tête du courrier, impossible de savoir lequel est le destinataire : "+strings.Join(firsts, ", "))
		}
	}

	traitant := medecinTraitant(d)
	for _, g := range groups {
		for _, it := range groupItems(g) {
			rec, problem := r.resolveItem(it, au, traitant)
			if problem != "" {
				out.recipientProblems = append(out.recipientProblems, problem)
			}
			if rec == nil {
				continue
			}
			if rec.Role == RoleTo {
				out.to = append(out.to, *rec)
			} else {
				out.cc = append(out.cc, *rec)
			}
		}
	}
	return out
}

// medecinTraitant returns the item a « Médecin traitant : Dr X » line names, for a « Copie au
// médecin traitant » that does not repeat the name.
func medecinTraitant(d *letterDoc) *ritem {
	for _, l := range d.all() {
		f := strings.TrimLeft(l.t.fold, " -•*·>")
		if !strings.HasPrefix(f, "MEDECIN TRAITANT") {
			continue
		}
		m := infoLabelRE.FindStringIndex(f)
		if m == nil {
			continue
		}
		lead := len(l.t.fold) - len(f)
		g := &rgroup{role: RoleCc, label: "Médecin traitant", lines: []*tline{l}, first: newFText(l.t.origOf(lead+m[1], len(l.t.fold)))}
		if items := groupItems(g); len(items) == 1 && (items[0].name != nil || items[0].addr != "" || items[0].rpps != "") {
			return items[0]
		}
	}
	return nil
}

// letterTitle: the « Objet : » of the letter.
func letterTitle(d *letterDoc) string {
	for _, l := range d.all() {
		f := l.t.fold
		if strings.HasPrefix(f, "OBJET") {
			rest := strings.TrimLeft(f[len("OBJET"):], " ")
			if strings.HasPrefix(rest, ":") {
				return collapseSpaces(strings.TrimPrefix(strings.TrimSpace(l.t.origOf(len(f)-len(rest)+1, len(f))), ":"))
			}
		}
	}
	return ""
}

// resolveItem turns one named recipient into a Recipient, or says why it cannot be sent to.
// A nil Recipient with no problem is a recipient left out on purpose: the author, the
// patient's own copy, the file's.
func (r *Reader) resolveItem(it *ritem, au *author, traitant *ritem) (*Recipient, string) {
	who := it.describe()
	for _, c := range it.ctx {
		if strings.HasPrefix(c, "\x00") {
			return nil, fmt.Sprintf("Le bloc d'adresse désigne plusieurs destinataires (%s) : à vérifier", strings.TrimPrefix(c, "\x00"))
		}
	}
	// The author is never a recipient.
	if it.addr != "" && au.addrs[strings.ToLower(normalizeAddress(it.addr))] {
		return nil, ""
	}
	if it.rpps != "" && au.rpps[it.rpps] {
		return nil, ""
	}
	if it.name != nil && au.isName(*it.name) {
		return nil, ""
	}

	if it.name == nil && it.addr == "" && it.rpps == "" {
		f := strings.TrimSpace(fold(it.text))
		switch {
		case f == "" || ignorableCopy.MatchString(f):
			return nil, ""
		case strings.Contains(f, "MEDECIN TRAITANT"):
			if traitant == nil {
				return nil, fmt.Sprintf("« %s : %s » : le courrier ne dit pas qui est le médecin traitant", it.label, collapseSpaces(it.text))
			}
			copy := *traitant
			copy.role, copy.label = it.role, it.label
			return r.resolveItem(&copy, au, nil)
		}
		return nil, fmt.Sprintf("« %s : %s » : ni adresse MSSanté ni professionnel reconnaissable", it.label, collapseSpaces(it.text))
	}

	ctx := newLetterContext(it.ctx)
	name := ""
	if it.name != nil {
		name = it.name.raw
	}

	if it.addr != "" {
		a := normalizeAddress(it.addr)
		if msg := checkAddress(a); msg != "" {
			return nil, fmt.Sprintf("Adresse « %s » illisible (%s)", it.addr, msg)
		}
		rec := &Recipient{Address: a, RPPS: it.rpps, Name: name, Role: it.role, Source: SourceText}
		if r.dir != nil {
			if e, ok := r.dir.ByAddress(a); ok {
				if it.name != nil && e.FamilyName != "" && !it.name.matchesEntry(e) {
					return nil, fmt.Sprintf("L'adresse %s est celle de %s dans l'annuaire, pas de « %s »", a, entryName(e), name)
				}
				if it.rpps != "" && e.PPID != "" && e.PPID != it.rpps {
					return nil, fmt.Sprintf("L'adresse %s est celle du RPPS %s dans l'annuaire, le courrier indique %s", a, e.PPID, it.rpps)
				}
				rec.RPPS = firstNonEmpty(rec.RPPS, e.PPID)
			}
		}
		return rec, ""
	}

	if r.dir == nil {
		return nil, fmt.Sprintf("« %s » : pas d'annuaire MSSanté configuré pour trouver son adresse", who)
	}
	if it.rpps != "" {
		entries := withAddress(r.dir.ByRPPS(it.rpps))
		if len(entries) == 0 {
			return nil, fmt.Sprintf("Le RPPS %s (%s) n'a pas d'adresse MSSanté dans l'annuaire", it.rpps, firstNonEmpty(name, it.label))
		}
		if it.name != nil {
			var same []DirEntry
			for _, e := range entries {
				if it.name.matchesEntry(e) {
					same = append(same, e)
				}
			}
			if len(same) == 0 {
				return nil, fmt.Sprintf("Le RPPS %s est celui de %s dans l'annuaire, pas de « %s »", it.rpps, entryName(entries[0]), name)
			}
			entries = same
		}
		e, problem := choose(firstNonEmpty(name, "RPPS "+it.rpps), entries, ctx, true)
		if problem != "" {
			return nil, problem
		}
		return &Recipient{Address: e.Address, RPPS: firstNonEmpty(e.PPID, it.rpps), Name: firstNonEmpty(name, entryName(e)), Role: it.role, Source: SourceDirectory}, ""
	}

	cands := lookupName(r.dir, *it.name)
	if len(cands) == 0 {
		return nil, fmt.Sprintf("« %s » : aucune adresse MSSanté à ce nom dans l'annuaire", name)
	}
	e, problem := choose(name, cands, ctx, it.name.hasGiven())
	if problem != "" {
		return nil, problem
	}
	if (it.name.title == "M" || it.name.title == "MME") && !ctx.professionMatches(e) {
		// « Monsieur Paul MERCIER » is how a patient or a relative is addressed; a doctor is
		// « Docteur ». Only the letter saying what he does makes him the professional.
		return nil, fmt.Sprintf("« %s » : l'annuaire connaît %s (%s), mais le courrier ne dit pas qu'il s'agit de ce professionnel",
			name, e.Address, entryWhere(e))
	}
	return &Recipient{Address: e.Address, RPPS: e.PPID, Name: name, Role: it.role, Source: SourceDirectory}, ""
}

// namesEarly: an addressee block names its addressee in its first lines (« Docteur Paul
// MERCIER », or a structure then the doctor); a list that starts with « Chef de service »
// and names people further down is not one.
func namesEarly(c *hcluster) bool {
	for i, l := range c.lines {
		if i == 3 {
			break
		}
		if len(findDesignations(l.t)) > 0 || addrRE.MatchString(l.t.orig) || rppsLabelRE.MatchString(l.t.fold) {
			return true
		}
	}
	return false
}

// continuesBelow: the block goes on, on the same left edge, below the start of the letter:
// a column in the margin (a list of the service's doctors), not an addressee block.
func continuesBelow(d *letterDoc, c *hcluster) bool {
	last := c.lines[len(c.lines)-1]
	for _, l := range d.pages[0] {
		if l.y1 < last.y0 && abs(l.x0-c.x0) <= 12 && last.y0-l.y1 <= 2.5*max(l.h(), last.h()) && !l.used &&
			!isBodyStart(l) && !dateLineRE.MatchString(l.t.fold) && !patientFieldLabelRE.MatchString(l.t.fold) {
			// Lines of the letter body are on the same edge only when the block is at the left;
			// a column goes on with short lines, a body with long ones.
			if l.x1-l.x0 < 0.6*(maxX1(d.pages[0])-c.x0) {
				return true
			}
		}
	}
	return false
}

func maxX1(lines []*tline) float64 {
	m := 0.0
	for _, l := range lines {
		m = max(m, l.x1)
	}
	return m
}
