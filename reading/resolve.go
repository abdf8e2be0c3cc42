package reading

import (
	"fmt"
	"sort"
	"strings"
)

// Resolving what a letter names (an address, an RPPS number, « Dr Claire BENOIT ») to one
// MSSanté address, or saying why not. A name that several directory entries share is
// resolved only when the letter itself singles one out (town, postcode, specialty,
// structure); otherwise the document is held with the candidates in the reason.

// specialties maps words of letters (« cardiologue », « pédiatre ») to words of the
// directory's profession and specialty labels (« Cardiologie et maladies vasculaires »).
// Folded stems on both sides.
var specialties = []struct{ letter, directory string }{
	{"CARDIOLOG", "CARDIOLOG"}, {"PEDIATR", "PEDIATR"}, {"NEPHROLOG", "NEPHROLOG"}, {"NEUROLOG", "NEUROLOG"},
	{"PNEUMOLOG", "PNEUMO"}, {"GASTRO", "GASTRO"}, {"HEPATO", "HEPATO"}, {"DERMATOLOG", "DERMATO"},
	{"RHUMATOLOG", "RHUMATO"}, {"ENDOCRINOLOG", "ENDOCRINO"}, {"DIABETOLOG", "ENDOCRINO"},
	{"PSYCHIATR", "PSYCHIATR"}, {"RADIOLOG", "RADIO"}, {"OPHTALMOLOG", "OPHTALMO"}, {"ORL", "OTO-RHINO"},
	{"OTO-RHINO", "OTO-RHINO"}, {"GYNECOLOG", "GYNECO"}, {"OBSTETRI", "OBSTETR"}, {"ANESTHESI", "ANESTHESI"},
	{"ONCOLOG", "ONCOLOG"}, {"CANCEROLOG", "ONCOLOG"}, {"UROLOG", "UROLOG"}, {"HEMATOLOG", "HEMATOLOG"},
	{"GERIATR", "GERIATR"}, {"GENERALISTE", "MEDECINE GENERALE"}, {"MEDECINE GENERALE", "MEDECINE GENERALE"},
	{"INTERNISTE", "MEDECINE INTERNE"}, {"MEDECINE INTERNE", "MEDECINE INTERNE"}, {"PHARMACIEN", "PHARMACIEN"},
	{"INFIRMIER", "INFIRMIER"}, {"KINESITHERAPEUT", "KINESITHERAPEUT"}, {"SAGE-FEMME", "SAGE-FEMME"},
	{"DENTISTE", "DENTISTE"}, {"CHIRURGIEN", "CHIRURG"}, {"CHIRURGIE", "CHIRURG"}, {"ALLERGOLOG", "ALLERGO"},
	{"INFECTIOLOG", "INFECT"}, {"BIOLOGISTE", "BIOLOG"},
}

// Words of structure names too common to single anyone out.
var commonStructureWords = map[string]bool{"CABINET": true, "CENTRE": true, "MEDICAL": true, "MEDICALE": true,
	"HOSPITALIER": true, "HOSPITALIERE": true, "SERVICE": true, "MAISON": true, "SANTE": true, "CLINIQUE": true,
	"HOPITAL": true, "GROUPE": true, "POLE": true, "UNITE": true, "DES": true, "DU": true, "LA": true, "LE": true,
	"LES": true, "ET": true, "DE": true, "UNIVERSITAIRE": true, "REGIONAL": true, "PRIVE": true, "PRIVEE": true,
	"SCM": true, "SELARL": true, "SELAS": true, "SCP": true, "CHU": false}

// letterContext is what the text around a name says about the person.
type letterContext struct {
	fold      string
	words     map[string]bool
	postcodes []string
	towns     []string
	specs     []string // directory stems
}

func newLetterContext(parts []string) letterContext {
	var clean []string
	for _, p := range parts {
		if strings.HasPrefix(p, "\x00") {
			continue
		}
		clean = append(clean, addrRE.ReplaceAllString(p, " "))
	}
	text := strings.Join(clean, " , ")
	t := newFText(text)
	c := letterContext{fold: t.fold, words: map[string]bool{}}
	for _, w := range strings.FieldsFunc(t.fold, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r >= 0x80)
	}) {
		c.words[w] = true
	}
	for _, m := range postcodeRE.FindAllStringSubmatchIndex(t.fold, -1) {
		c.postcodes = append(c.postcodes, t.fold[m[2]:m[3]])
		rest := strings.TrimSpace(t.fold[m[1]:])
		if town := leadingTown(rest); town != "" {
			c.towns = append(c.towns, town)
		}
	}
	for _, m := range townAfterARE.FindAllStringSubmatchIndex(t.fold, -1) {
		orig := t.origOf(m[2], m[3])
		if orig != "" && strings.ToUpper(orig[:1]) == orig[:1] && orig[:1] != strings.ToLower(orig[:1]) {
			c.towns = append(c.towns, t.fold[m[2]:m[3]])
		}
	}
	for _, s := range specialties {
		if containsStem(t.fold, s.letter) {
			c.specs = append(c.specs, s.directory)
		}
	}
	return c
}

// leadingTown reads the town after a postcode: capitals up to a comma or CEDEX.
func leadingTown(s string) string {
	var words []string
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, ",;.")
		if w == "" || w == "CEDEX" || !(w[0] >= 'A' && w[0] <= 'Z') {
			break
		}
		words = append(words, w)
		if len(words) == 3 {
			break
		}
	}
	return strings.Join(words, " ")
}

// containsStem: a word of s starts with stem.
func containsStem(s, stem string) bool {
	for i := 0; i+len(stem) <= len(s); i++ {
		if s[i:i+len(stem)] == stem && (i == 0 || !isFoldLetter(s[i-1])) {
			if len(stem) <= 3 && i+len(stem) < len(s) && isFoldLetter(s[i+len(stem)]) {
				continue // a short stem (ORL) must be a whole word
			}
			return true
		}
	}
	return false
}

func isFoldLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 0x80 }

// containsWords: the words of phrase appear in a row in s.
func containsWords(s, phrase string) bool {
	phrase = strings.TrimSpace(phrase)
	if phrase == "" {
		return false
	}
	for i := strings.Index(s, phrase); i >= 0; {
		end := i + len(phrase)
		if (i == 0 || !isFoldLetter(s[i-1])) && (end == len(s) || !isFoldLetter(s[end])) {
			return true
		}
		j := strings.Index(s[i+1:], phrase)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// judge says whether an entry agrees with the context: contradicted (the letter says
// another town or specialty) and how many things single it out.
func (c letterContext) judge(e DirEntry) (contradiction string, score int) {
	hasLoc := e.Postcode != "" || e.Town != ""
	if hasLoc {
		locMatch := false
		for _, p := range c.postcodes {
			locMatch = locMatch || p == e.Postcode
		}
		if e.Town != "" && containsWords(c.fold, fold(e.Town)) {
			locMatch = true
		}
		switch {
		case locMatch:
			score++
		case len(c.postcodes) > 0 || len(c.towns) > 0:
			said := append(append([]string{}, c.postcodes...), c.towns...)
			contradiction = fmt.Sprintf("le courrier indique %s", strings.Join(dedupe(said), " "))
		}
	}
	if len(c.specs) > 0 {
		spec := fold(e.Specialty + " " + e.Profession)
		match := false
		for _, s := range c.specs {
			match = match || strings.Contains(spec, s)
		}
		if match {
			score++
		} else if contradiction == "" {
			contradiction = "le courrier indique une autre spécialité"
		}
	}
	if structureMatches(c, e.Structure) || structureMatches(c, e.Service) {
		score++
	}
	return contradiction, score
}

// structureMatches: the significant words of a structure's name are in the context.
func structureMatches(c letterContext, structure string) bool {
	var sig []string
	for _, w := range strings.Fields(fold(structure)) {
		w = strings.Trim(w, ",.-'()")
		if len(w) >= 3 && !commonStructureWords[w] {
			sig = append(sig, w)
		}
	}
	if len(sig) == 0 {
		return false
	}
	n := 0
	for _, w := range sig {
		if c.words[w] {
			n++
		}
	}
	return n == len(sig) || n >= 2
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// describeEntries lists candidates for a reason: « a@x (Pédiatrie, 13008 MARSEILLE) ; … ».
func describeEntries(es []DirEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s (%s)", e.Address, entryWhere(e)))
	}
	return strings.Join(parts, " ; ")
}

// choose picks the one entry the letter designates among cands, or says why it cannot.
// strict: the letter gives a given name, so a single entry with that full name is enough;
// with a family name alone, something in the letter must confirm it.
func choose(who string, cands []DirEntry, ctx letterContext, strict bool) (DirEntry, string) {
	type judged struct {
		e     DirEntry
		why   string
		score int
	}
	var all []judged
	for _, e := range cands {
		why, score := ctx.judge(e)
		all = append(all, judged{e, why, score})
	}
	var ok []judged
	for _, j := range all {
		if j.why == "" {
			ok = append(ok, j)
		}
	}
	if len(ok) == 0 {
		if len(all) == 1 {
			return DirEntry{}, fmt.Sprintf("« %s » : l'annuaire ne connaît que %s (%s) et %s", who, all[0].e.Address, entryWhere(all[0].e), all[0].why)
		}
		return DirEntry{}, fmt.Sprintf("« %s » : aucune des %d entrées de l'annuaire ne correspond à ce que dit le courrier : %s", who, len(all), describeEntries(cands))
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].score > ok[j].score })
	best := ok[0]
	unique := len(ok) == 1 || ok[1].score < best.score
	switch {
	case len(ok) == 1 && (strict || best.score > 0):
		return best.e, ""
	case len(ok) == 1:
		return DirEntry{}, fmt.Sprintf("« %s » : seul le nom de famille est donné et rien dans le courrier ne confirme %s (%s)", who, best.e.Address, entryWhere(best.e))
	case unique && best.score > 0:
		return best.e, ""
	}
	var es []DirEntry
	samePP := true
	for _, j := range ok {
		if j.score == best.score {
			es = append(es, j.e)
			samePP = samePP && j.e.PPID != "" && j.e.PPID == best.e.PPID
		}
	}
	if samePP {
		return DirEntry{}, fmt.Sprintf("« %s » a plusieurs adresses MSSanté dans l'annuaire et rien dans le courrier ne permet de choisir : %s", who, describeEntries(es))
	}
	return DirEntry{}, fmt.Sprintf("« %s » : plusieurs professionnels de ce nom dans l'annuaire et rien dans le courrier ne permet de choisir : %s", who, describeEntries(es))
}

// withAddress keeps the entries that have an address, once each.
func withAddress(es []DirEntry) []DirEntry {
	var out []DirEntry
	seen := map[string]bool{}
	for _, e := range es {
		a := strings.ToLower(e.Address)
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, e)
		}
	}
	return out
}

// lookupName returns the entries a name can be, every reading of it tried.
func lookupName(dir Directory, n personName) []DirEntry {
	var out []DirEntry
	for _, r := range n.readings() {
		given := r[1]
		if isInitial(given) {
			given = ""
		}
		for _, e := range dir.ByName(r[0], given) {
			if givenMatches(r[1], e.GivenName) {
				out = append(out, e)
			}
		}
	}
	return withAddress(out)
}

// professionMatches: the letter says what the entry's profession or specialty is.
func (c letterContext) professionMatches(e DirEntry) bool {
	spec := fold(e.Specialty + " " + e.Profession)
	for _, s := range c.specs {
		if strings.Contains(spec, s) {
			return true
		}
	}
	return false
}
