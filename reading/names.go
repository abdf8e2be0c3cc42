package reading

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// personName is a person as a letter names them: « Dr Jean MARTIN », « Docteur Martin »,
// « Mme DUPRÉ Jeanne Marie ».
type personName struct {
	raw    string // as printed, title included
	title  string // folded: DR, PR, M, MME, or "" when none
	family string // as printed; "" when the case does not say which word it is
	given  string
	// alts are the (family, given) readings to try when the case does not tell the family
	// name from the given names (« Jean Martin », « JEAN MARTIN »).
	alts [][2]string
}

// titleRE finds a title before a name, in folded text. The name itself is read from the
// original text (its case says which word is the family name).
var titleRE = regexp.MustCompile(`(?:^|[^A-Z0-9'])((?:MONSIEUR|MADAME) (?:LE|LA) (?:DOCTEURE?|PROFESSEURE?)|PROFESSEURE?|DOCTEURE?|DRE?\.?|PRE?\.?|MONSIEUR|MADAME|MADEMOISELLE|MME\.?|MLLE\.?|MR\.?|M\.) +`)

// normTitle folds a title to DR, PR, M or MME.
func normTitle(t string) string {
	t = strings.TrimSuffix(strings.TrimSpace(t), ".")
	switch {
	case strings.Contains(t, "DOCTEUR"), t == "DR", t == "DRE":
		return "DR"
	case strings.Contains(t, "PROFESSEUR"), t == "PR", t == "PRE":
		return "PR"
	case t == "MONSIEUR", t == "MR", t == "M":
		return "M"
	case t == "MADAME", t == "MADEMOISELLE", t == "MME", t == "MLLE":
		return "MME"
	}
	return ""
}

// isCareTitle: a title professionals are addressed with.
func isCareTitle(t string) bool { return t == "DR" || t == "PR" }

// Name particles that may be written in lower case inside a family name.
var particles = map[string]bool{"de": true, "du": true, "des": true, "d'": true, "le": true, "la": true,
	"van": true, "von": true, "der": true, "den": true, "di": true, "da": true, "del": true, "ben": true,
	"el": true, "al": true, "dos": true, "das": true}

// Words after a title that are not a name: « Docteur, », « Monsieur le Directeur ».
var notNameWords = map[string]bool{"ET": true, "OU": true,
	"CONFRERE": true, "CONSOEUR": true, "DIRECTEUR": true, "DIRECTRICE": true, "CHEF": true, "PRESIDENT": true,
	"MEDECIN": true, "PATIENT": true, "PATIENTE": true, "ENFANT": true, "NEE": true, "NE": true, "EPOUSE": true}

// readNameTokens reads the words of a name at the start of s (original text): capitalised
// words, capitals, initials (« J. »), particles before a capitalised word. It stops at
// punctuation, a digit, a lower-case word or a dash between spaces, and returns the words
// and how many bytes of s they span.
func readNameTokens(s string) ([]string, int) {
	var toks []string
	i, end := 0, 0
	for len(toks) < 6 {
		// Skip spaces.
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if unicode.IsLetter(r) || r == '\'' || r == '-' || r == '.' {
				j += size
				continue
			}
			break
		}
		if j == i {
			break
		}
		w := s[i:j]
		w = strings.TrimRight(w, "-")
		if w == "" {
			break
		}
		first, _ := utf8.DecodeRuneInString(w)
		lw := strings.ToLower(w)
		switch {
		case unicode.IsUpper(first):
			if strings.HasSuffix(w, ".") && !isInitial(w) {
				w = strings.TrimSuffix(w, ".") // the end of a sentence
			}
			if notNameWords[fold(strings.TrimSuffix(w, "."))] {
				return toks, end
			}
		case particles[lw] || strings.HasPrefix(lw, "d'") && len(lw) > 2:
			// A particle counts only before a capitalised word (« de LA TOUR », « d'Arc »).
			if strings.HasPrefix(lw, "d'") && len(lw) > 2 {
				r, _ := utf8.DecodeRuneInString(w[2:])
				if !unicode.IsUpper(r) {
					return toks, end
				}
				break
			}
			rest := strings.TrimLeft(s[j:], " ")
			r, _ := utf8.DecodeRuneInString(rest)
			if !unicode.IsUpper(r) {
				return toks, end
			}
		default:
			return toks, end
		}
		toks = append(toks, w)
		end = i + len(w)
		i = j
		// A dash between spaces, a comma… ends the name.
		if j < len(s) && s[j] != ' ' {
			break
		}
		if strings.HasPrefix(s[j:], " - ") || strings.HasPrefix(s[j:], " -") {
			break
		}
	}
	return toks, end
}

func isInitial(w string) bool {
	w = strings.TrimSuffix(w, ".")
	n := utf8.RuneCountInString(w)
	return n == 1 || (n == 3 && strings.Contains(w, "-")) // « J. », « J.-P. »
}

// nameFromTokens decides which words are the family name. Capitals mark it (« Jean MARTIN »,
// « MARTIN Jean », « Yann LE GOFF »); with one word it is the family name; otherwise every
// split is a reading to try.
func nameFromTokens(title, raw string, toks []string) personName {
	p := personName{raw: raw, title: title}
	var fam, giv []string
	upper := 0
	for _, t := range toks {
		if isUpperWord(t) {
			upper++
		}
	}
	switch {
	case len(toks) == 1:
		p.family = toks[0]
	case upper > 0 && upper < len(toks):
		for i, t := range toks {
			lw := strings.ToLower(t)
			isParticle := particles[lw] && i+1 < len(toks) && isUpperWord(toks[i+1])
			if isUpperWord(t) || isParticle {
				fam = append(fam, t)
			} else {
				giv = append(giv, t)
			}
		}
		p.family, p.given = strings.Join(fam, " "), strings.Join(giv, " ")
	default:
		for k := 1; k < len(toks); k++ {
			a, b := strings.Join(toks[:k], " "), strings.Join(toks[k:], " ")
			p.alts = append(p.alts, [2]string{b, a}, [2]string{a, b})
		}
	}
	return p
}

// readings returns the (family, given) pairs to look up.
func (p personName) readings() [][2]string {
	if p.family != "" {
		return [][2]string{{p.family, p.given}}
	}
	return p.alts
}

// hasGiven: the letter gives a given name (or the case leaves a two-word reading).
func (p personName) hasGiven() bool {
	return p.given != "" || len(p.alts) > 0
}

// matchesEntry says whether the name can be the directory entry's.
func (p personName) matchesEntry(e DirEntry) bool {
	for _, r := range p.readings() {
		if nameKey(r[0]) == nameKey(e.FamilyName) && givenMatches(r[1], e.GivenName) {
			return true
		}
	}
	return false
}

// samePerson says whether two names (as letters print them) can be the same person: same
// family name, and given names equal or one of them unknown or an initial of the other.
func samePerson(a, b personName) bool {
	for _, ra := range a.readings() {
		for _, rb := range b.readings() {
			if nameKey(ra[0]) == nameKey(rb[0]) && givenMatches(ra[1], rb[1]) {
				return true
			}
		}
	}
	return false
}

// givenMatches: given names equal (first given name enough), or one unknown, or an initial.
func givenMatches(a, b string) bool {
	if a == "" || b == "" {
		return true
	}
	ka, kb := nameKey(a), nameKey(b)
	if ka == kb {
		return true
	}
	fa, fb := strings.Fields(fold(a)), strings.Fields(fold(b))
	if len(fa) > 0 && len(fb) > 0 && nameKey(fa[0]) == nameKey(fb[0]) {
		return true
	}
	ia, ib := isInitial(a), isInitial(b)
	if ia || ib {
		return ka != "" && kb != "" && ka[0] == kb[0]
	}
	return false
}

// designation is a name found in a line: the person and where it is in the folded text.
type designation struct {
	name       personName
	start, end int // folded byte offsets, title included
}

// findDesignations returns the titled names of a line: « Dr Jean MARTIN », « Docteur
// Martin », « Mme DUPRÉ Jeanne ». A title followed by no name (« Docteur, ») gives nothing.
func findDesignations(t ftext) []designation {
	var out []designation
	for _, m := range titleRE.FindAllStringSubmatchIndex(t.fold, -1) {
		titleStart, after := m[2], m[1]
		if len(out) > 0 && titleStart < out[len(out)-1].end {
			continue
		}
		rest := t.origOf(after, len(t.fold))
		toks, n := readNameTokens(rest)
		if len(toks) == 0 {
			continue
		}
		// Back from the original offsets to folded ones.
		origEnd := t.off[after] + n
		end := after
		for end < len(t.fold) && t.off[end] < origEnd {
			end++
		}
		raw := collapseSpaces(t.origOf(titleStart, end))
		out = append(out, designation{name: nameFromTokens(normTitle(t.fold[m[2]:m[3]]), raw, toks), start: titleStart, end: end})
	}
	return out
}

// bareName reads a name with no title at the start of s (« MERCIER Paul », « Paul MERCIER »):
// two to four words, one of them in capitals at least.
func bareName(s string) (personName, bool) {
	toks, n := readNameTokens(s)
	if len(toks) < 2 || len(toks) > 4 {
		return personName{}, false
	}
	upper := 0
	for _, t := range toks {
		if isUpperWord(t) {
			upper++
		}
		if notNameWords[fold(t)] {
			return personName{}, false
		}
	}
	if upper == 0 || upper == len(toks) {
		return personName{}, false
	}
	return nameFromTokens("", collapseSpaces(s[:n]), toks), true
}
