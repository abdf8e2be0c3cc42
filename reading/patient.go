package reading

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The patient as the letter prints them: labelled fields (« Nom de naissance : », « Prénom(s) : »,
// « Date de naissance : », « Sexe : »), a patient line (« Patiente : Mme DUPRÉ Jeanne Marie,
// née le 12/03/1956 », « M. FAURE Bernard, né le 17/08/1939 », « Enfant ARNAUD Théo »), and
// « Né(e) le … » anywhere. Everything is matched on folded text.

// patientFieldLabelRE finds the labels of the patient's identity in a line. Each needs its
// colon: « Nom » without one is a word of the letter.
var patientFieldLabelRE = regexp.MustCompile(`(?:^|[^A-Z'])(NOM DE NAISSANCE|NOM DE JEUNE FILLE|NOM D'USAGE|NOM UTILISE|NOM MARITAL|NOM D'EPOUSE|NOM ET PRENOMS?|NOM[ ,/-]+PRENOMS?(?: ?\(S\))?|NOM DU PATIENT|NOM DE LA PATIENTE|NOM PATIENT|NOM|PREMIER PRENOM|PRENOM USUEL|PRENOMS? ?(?:\(S\))?|LISTE DES PRENOMS|DATE DE NAISSANCE|DATE DE NAISS\.?|DATE NAISSANCE|DDN|D\.D\.N\.|SEXE|PATIENTE?|IDENTITE(?: DU PATIENT| DE LA PATIENTE)?|CONCERNE|ENFANT) *:`)

// An unlabelled patient line starts with a civility or « Enfant » and gives a birth date.
var patientLineRE = regexp.MustCompile(`^(?:MONSIEUR|MADAME|MADEMOISELLE|MME\.?|MLLE\.?|MR\.?|M\.|ENFANT|BEBE|NOUVEAU-NE|PATIENTE?) +`)

// Lines about someone else than the patient.
var otherPersonRE = regexp.MustCompile(`^(?:MERE|PERE|CONJOINTE?|EPOUX|EPOUSE|MARI|PARENTS?|TUTEUR|TUTRICE|PERSONNE (?:A PREVENIR|DE CONFIANCE)|REPRESENTANT|ACCOMPAGNANT|AIDANT|MEDECIN|DR\b|DOCTEUR|PR\b|PROFESSEUR|PRESCRIPTEUR|DESTINATAIRE|COPIE|ADRESSE)`)

// birthMarkerRE: « né le », « née le », « né(e) le », « Né(e) le : ».
var birthMarkerRE = regexp.MustCompile(`(?:^|[^A-Z])(NEE?|NE ?\(E\)|NE\(E\)) +LE *:? *`)

// civilityRE: the civility a patient line may start with.
var civilityRE = regexp.MustCompile(`^(MONSIEUR|MADAME|MADEMOISELLE|MME\.?|MLLE\.?|MR\.?|M\.) +`)

// patientCand is what one line says about the patient.
type patientCand struct {
	family, used, given, birth string
	sex                        string
	sexStrong                  bool // « Sexe : F », a civility; weak: « Patiente », « née »
	line                       string
}

func (c patientCand) describe() string {
	var parts []string
	if c.family != "" {
		parts = append(parts, c.family)
	}
	if c.given != "" {
		parts = append(parts, c.given)
	}
	if c.birth != "" {
		parts = append(parts, "né(e) le "+c.birth)
	}
	if len(parts) == 0 {
		return "« " + c.line + " »"
	}
	return strings.Join(parts, " ")
}

// letterPatient is the patient the letter describes.
type letterPatient struct {
	family, used, given, birth, sex string
	sexStrong                       bool
	problems                        []string
}

// readPatient reads the patient's identity from the letter.
func readPatient(d *letterDoc) (letterPatient, map[*tline]bool) {
	var cands []patientCand
	lines := map[*tline]bool{}
	for _, l := range d.all() {
		if c, ok := patientFromLine(l.t); ok {
			cands = append(cands, c)
			lines[l] = true
		}
	}
	var p letterPatient
	// Two lines describing two different people (names or birth dates) mean two patients
	// in one document: a print job that merged two letters, or a letter about two people.
	var conflicts []string
	for i, a := range cands {
		for _, b := range cands[:i] {
			if patientsDiffer(a, b) {
				conflicts = append(conflicts, fmt.Sprintf("%s et %s", b.describe(), a.describe()))
			}
		}
	}
	if len(conflicts) > 0 {
		p.problems = append(p.problems, "Le document semble concerner plusieurs patients : "+conflicts[0])
	}
	for _, c := range cands {
		p.family = firstNonEmpty(p.family, c.family)
		p.used = firstNonEmpty(p.used, c.used)
		p.given = firstNonEmpty(p.given, c.given)
		p.birth = firstNonEmpty(p.birth, c.birth)
		if c.sex != "" && (p.sex == "" || c.sexStrong && !p.sexStrong) {
			p.sex, p.sexStrong = c.sex, c.sexStrong
		}
	}
	// Two strong sexes that disagree are the same kind of contradiction.
	for i, a := range cands {
		for _, b := range cands[:i] {
			if a.sexStrong && b.sexStrong && a.sex != b.sex {
				p.problems = append(p.problems, fmt.Sprintf("Le sexe du patient diffère d'une ligne à l'autre : « %s » et « %s »", b.line, a.line))
			}
		}
	}
	return p, lines
}

// patientsDiffer: two descriptions that cannot be one person.
func patientsDiffer(a, b patientCand) bool {
	if a.birth != "" && b.birth != "" && a.birth != b.birth {
		return true
	}
	if a.family != "" && b.family != "" {
		na := []string{nameKey(a.family), nameKey(a.used)}
		nb := []string{nameKey(b.family), nameKey(b.used)}
		for _, x := range na {
			for _, y := range nb {
				if x != "" && x == y {
					return false
				}
			}
		}
		return true
	}
	return false
}

// patientFromLine reads what one line says about the patient.
func patientFromLine(t ftext) (patientCand, bool) {
	c := patientCand{line: t.orig}
	f := t.fold
	if otherPersonRE.MatchString(f) {
		return c, false
	}
	found := false
	locs := patientFieldLabelRE.FindAllStringSubmatchIndex(f, -1)
	for i, m := range locs {
		end := len(f)
		if i+1 < len(locs) {
			end = locs[i+1][2]
		}
		label := f[m[2]:m[3]]
		value := strings.TrimSpace(t.origOf(m[1], end))
		vf := fold(value)
		switch {
		case strings.HasPrefix(label, "NOM DE NAISSANCE"), strings.HasPrefix(label, "NOM DE JEUNE FILLE"):
			c.family = familyValue(value)
		case strings.HasPrefix(label, "NOM D'USAGE"), label == "NOM UTILISE", label == "NOM MARITAL", label == "NOM D'EPOUSE":
			c.used = familyValue(value)
		case label == "NOM":
			n := parsePatientName(value, true)
			c.family, c.used = firstNonEmpty(c.family, n.family), firstNonEmpty(c.used, n.used)
			c.given = firstNonEmpty(c.given, n.given)
		case strings.HasPrefix(label, "PRENOM"), strings.HasPrefix(label, "PREMIER PRENOM"), strings.HasPrefix(label, "LISTE DES PRENOMS"):
			c.given = givenValue(value)
		case strings.HasPrefix(label, "DATE"), label == "DDN", label == "D.D.N.":
			if ds := findDates(vf); len(ds) > 0 && ds[0].start <= 2 {
				c.birth = ds[0].value
			}
		case label == "SEXE":
			if s := sexWord(vf); s != "" {
				c.sex, c.sexStrong = s, true
			}
		default: // a whole identity: Patient(e), Nom et prénom, Identité, Concerne, Enfant
			n := parsePatientName(value, false)
			c.family, c.used, c.given = firstNonEmpty(c.family, n.family), firstNonEmpty(c.used, n.used), firstNonEmpty(c.given, n.given)
			if n.sex != "" {
				c.sex, c.sexStrong = n.sex, true
			} else if label == "PATIENTE" && c.sex == "" {
				c.sex = "F"
			}
		}
		found = true
	}
	prefixEnd := len(f)
	if len(locs) > 0 {
		prefixEnd = locs[0][2]
	}
	if c.family == "" && prefixEnd > 0 {
		// « M. FAURE Bernard, né le 17/08/1939 », « Enfant ARNAUD Théo, né le 30 juin 2015 ».
		if m := patientLineRE.FindStringIndex(f[:prefixEnd]); m != nil && birthMarkerRE.MatchString(f) {
			lead := strings.TrimSpace(f[:m[1]])
			value := t.origOf(0, prefixEnd)
			if lead == "ENFANT" || lead == "BEBE" || lead == "NOUVEAU-NE" || strings.HasPrefix(lead, "PATIENT") {
				value = t.origOf(m[1], prefixEnd)
			}
			n := parsePatientName(value, false)
			if n.family != "" {
				c.family, c.used, c.given = n.family, n.used, n.given
				if n.sex != "" {
					c.sex, c.sexStrong = n.sex, true
				} else if lead == "PATIENTE" {
					c.sex = "F"
				}
				found = true
			}
		}
	}
	// « né(e) le 12/03/1956 », with or without a name on the line.
	if bm := birthMarkerRE.FindStringSubmatchIndex(f); bm != nil {
		if ds := findDates(f[bm[1]:]); len(ds) > 0 && ds[0].start == 0 && ds[0].value != "" {
			if c.birth == "" {
				c.birth = ds[0].value
			}
			marker := strings.ReplaceAll(f[bm[2]:bm[3]], " ", "")
			if c.sex == "" {
				switch marker {
				case "NEE":
					c.sex = "F"
				case "NE":
					c.sex = "M"
				}
			}
			found = true
		}
	}
	// « Sexe : M » after a name without its own label.
	if c.sex == "" || !c.sexStrong {
		if m := sexInlineRE.FindStringSubmatch(f); m != nil {
			if s := sexWord(m[1]); s != "" {
				c.sex, c.sexStrong = s, true
			}
		}
	}
	return c, found
}

var sexInlineRE = regexp.MustCompile(`\bSEXE *:? *([A-Z]+)`)

// sexWord reads M or F from the value of « Sexe ».
func sexWord(vf string) string {
	w := strings.Fields(strings.Trim(vf, " .:"))
	if len(w) == 0 {
		return ""
	}
	switch strings.Trim(w[0], ".,;") {
	case "M", "MASCULIN", "HOMME", "H", "MASC":
		return "M"
	case "F", "FEMININ", "FEMME", "FEM":
		return "F"
	}
	return ""
}

// familyValue: a family name alone, up to the first comma.
func familyValue(v string) string {
	if i := strings.IndexAny(v, ",;("); i >= 0 {
		v = v[:i]
	}
	return collapseSpaces(v)
}

// givenValue: given names, up to the first comma or the next field.
func givenValue(v string) string {
	if i := strings.IndexAny(v, ",;("); i >= 0 {
		v = v[:i]
	}
	if bm := birthMarkerRE.FindStringIndex(fold(v)); bm != nil {
		v = newFText(v).origOf(0, bm[0])
	}
	return collapseSpaces(v)
}

type patientName struct{ family, used, given, sex string }

// parsePatientName reads « Mme DUPRÉ Jeanne Marie », « MARTIN née DUPONT Marie »,
// « Mme DUPONT épouse MARTIN », « N'DIAYE Awa ». Capitals are the family name; a name
// after « née » is the birth name (the other is the used name); after « épouse », the used
// name. familyOnly: the value is known to start with the family name (« Nom : Dupont »).
func parsePatientName(v string, familyOnly bool) patientName {
	var n patientName
	f := fold(v)
	if m := civilityRE.FindStringSubmatchIndex(f); m != nil {
		n.sex = map[string]string{"M": "M", "MME": "F"}[normTitle(f[m[2]:m[3]])]
		v = newFText(v).origOf(m[1], len(f))
	}
	// The name ends at a comma, a bracket, a digit, a dash between spaces or « né(e) le ».
	cut := len(v)
	for i, r := range v {
		if r == ',' || r == ';' || r == '(' || r == ':' || unicode.IsDigit(r) || strings.HasPrefix(v[i:], " - ") {
			cut = i
			break
		}
	}
	v = v[:cut]
	if bm := birthMarkerRE.FindStringIndex(fold(v)); bm != nil {
		v = newFText(v).origOf(0, bm[0])
	}
	words := strings.Fields(v)
	var main, birth, used, given []string
	state := &main
	for i := 0; i < len(words); i++ {
		w := words[i]
		fw := strings.Trim(fold(w), ".")
		switch fw {
		case "NEE", "NE":
			if i+1 < len(words) && fold(words[i+1]) != "LE" {
				state = &birth
				continue
			}
			i = len(words)
			continue
		case "EPOUSE", "EP", "VEUVE", "VVE", "DITE", "DIT", "EPSE":
			state = &used
			continue
		}
		first, _ := utf8.DecodeRuneInString(w)
		lw := strings.ToLower(w)
		switch {
		case isUpperWord(strings.Trim(w, ".")):
			*state = append(*state, w)
		case particles[lw] && i+1 < len(words) && isUpperWord(words[i+1]):
			*state = append(*state, w)
		case unicode.IsUpper(first):
			given = append(given, w)
		default:
			i = len(words)
		}
	}
	switch {
	case len(main) == 0 && len(birth) == 0 && len(used) == 0:
		// No capitals: only a label that says « Nom » tells which word is the family name.
		if familyOnly && len(given) > 0 {
			n.family = given[0]
			n.given = strings.Join(given[1:], " ")
		}
		return n
	case len(birth) > 0:
		n.family, n.used = strings.Join(birth, " "), strings.Join(main, " ")
	case len(used) > 0:
		n.family, n.used = strings.Join(main, " "), strings.Join(used, " ")
	default:
		n.family = strings.Join(main, " ")
	}
	n.given = strings.Join(given, " ")
	return n
}
