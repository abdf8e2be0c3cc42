package reading

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/ins"
)

// A tag as found: the key after "MSS-", upper-cased, and the value after the colon.
type rawTag struct {
	key      string
	value    string
	hasColon bool
}

// Tag keys the contract defines.
const (
	keyTo      = "TO"
	keyCc      = "CC"
	keyPatient = "PATIENT"
	keyINS     = "INS"
	keyBox     = "BOX"
	keyTitle   = "TITLE"
	keySubject = "SUBJECT"
)

var knownKeys = map[string]bool{keyTo: true, keyCc: true, keyPatient: true, keyINS: true, keyBox: true, keyTitle: true, keySubject: true}

// In the text layer a tag starts with "#MSS-"; the key is any case and spaces around the
// colon are optional. The text is normalised first (a PostScript Latin-1 '-' is U+2212).
var textTagRE = regexp.MustCompile(`(?i)#\s?MSS\s?-\s?([A-Z0-9]+)[ \t]*(:?)`)

// In metadata the '#' may be left out, as keywords are often written "MSS-TO: …"; the tag
// must then start the field or follow a separator, so that "x.mss-to@…" is not one.
var metaTagRE = regexp.MustCompile(`(?i)(?:^|[\s;,])(?:#\s?)?MSS\s?-\s?([A-Z0-9]+)[ \t]*(:?)`)

// scanTags finds the tags in one line (or one metadata field). A value runs to the next tag
// or the end; separators left at its end (";", ",") are dropped.
func scanTags(s string, re *regexp.Regexp) []rawTag {
	locs := re.FindAllStringSubmatchIndex(s, -1)
	var tags []rawTag
	for i, loc := range locs {
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		value := strings.TrimSpace(s[loc[1]:end])
		value = strings.TrimSpace(strings.TrimRight(value, ";, \t"))
		tags = append(tags, rawTag{
			key:      strings.ToUpper(s[loc[2]:loc[3]]),
			value:    value,
			hasColon: loc[5] > loc[4],
		})
	}
	return tags
}

// found is what one source (tags, metadata or sidecar) says about a document.
type found struct {
	source Source

	to, cc []Recipient

	family, given, birth string // from #MSS-PATIENT or the sidecar's patient
	birthPlace           string // COG code, from #MSS-PATIENT's 5th field or the sidecar
	sex                  string // sidecar only
	ins                  string // normalised; from #MSS-INS, #MSS-PATIENT or the sidecar
	insKeyValid          bool

	title, subject, box, date string

	problems []string // French, one per malformed item
}

// tagParser turns raw tags into a found, with the label its reasons use.
type tagParser struct {
	f     *found
	label func(key string) string // "Balise #MSS-TO", …
	now   time.Time

	single map[string]string // single-valued keys seen, for repeats
	insBy  map[string]string // key that gave the INS, for #MSS-INS against #MSS-PATIENT
}

func newTagParser(src Source, now time.Time) *tagParser {
	label := func(key string) string { return "Balise #MSS-" + key }
	if src == SourceMetadata {
		label = func(key string) string { return "Balise #MSS-" + key + " des métadonnées du PDF" }
	}
	return &tagParser{f: &found{source: src}, label: label, now: now, single: map[string]string{}, insBy: map[string]string{}}
}

func (p *tagParser) problem(key, format string, args ...any) {
	p.f.addProblem(p.label(key) + " illisible : " + fmt.Sprintf(format, args...))
}

func (f *found) addProblem(msg string) {
	for _, m := range f.problems {
		if m == msg {
			return
		}
	}
	f.problems = append(f.problems, msg)
}

// add interprets one tag.
func (p *tagParser) add(t rawTag) {
	f := p.f
	if !knownKeys[t.key] {
		f.addProblem(fmt.Sprintf("%s inconnue", p.label(t.key)))
		return
	}
	if !t.hasColon {
		p.problem(t.key, "« : » manquant après la clé")
		return
	}
	if t.value == "" {
		p.problem(t.key, "valeur vide")
		return
	}
	switch t.key {
	case keyTo, keyCc:
		role := RoleTo
		if t.key == keyCc {
			role = RoleCc
		}
		for _, item := range strings.FieldsFunc(t.value, func(r rune) bool { return r == ',' || r == ';' }) {
			a := normalizeAddress(item)
			if a == "" {
				continue
			}
			if msg := checkAddress(a); msg != "" {
				p.problem(t.key, "adresse « %s » invalide (%s)", strings.TrimSpace(item), msg)
				continue
			}
			f.addRecipient(Recipient{Address: a, Role: role, Source: f.source})
		}
	case keyPatient:
		if !p.once(t) {
			return
		}
		parts := strings.Split(t.value, "|")
		if len(parts) < 3 || len(parts) > 5 {
			p.problem(t.key, "attendu NOM|Prénoms|AAAA-MM-JJ, NOM|Prénoms|AAAA-MM-JJ|INS ou NOM|Prénoms|AAAA-MM-JJ|INS|lieu de naissance (code INSEE)")
			return
		}
		family, given, birth := collapseSpaces(parts[0]), collapseSpaces(parts[1]), strings.TrimSpace(parts[2])
		ok := true
		if family == "" {
			p.problem(t.key, "nom de famille vide")
			ok = false
		}
		if given == "" {
			p.problem(t.key, "prénoms vides")
			ok = false
		}
		if msg := checkBirthDate(birth, p.now); msg != "" {
			p.problem(t.key, "%s", msg)
			ok = false
		}
		if len(parts) >= 4 && strings.TrimSpace(parts[3]) != "" {
			if !p.setINS(t.key, parts[3]) {
				ok = false
			}
		}
		place := ""
		if len(parts) == 5 {
			place = strings.ToUpper(strings.TrimSpace(parts[4]))
			if place != "" && !ValidBirthPlace(place) {
				p.problem(t.key, "lieu de naissance « %s » : code INSEE de commune attendu (5 caractères, 2A/2B pour la Corse)", place)
				ok = false
			}
		}
		if ok {
			f.family, f.given, f.birth, f.birthPlace = family, given, birth, place
		}
	case keyINS:
		if p.once(t) {
			p.setINS(t.key, t.value)
		}
	case keyBox:
		if !p.once(t) {
			return
		}
		if msg := checkBoxID(t.value); msg != "" {
			p.problem(t.key, "%s", msg)
			return
		}
		f.box = t.value
	case keyTitle:
		if p.once(t) {
			f.title = collapseSpaces(t.value)
		}
	case keySubject:
		if p.once(t) {
			f.subject = collapseSpaces(t.value)
		}
	}
}

// once records a single-valued tag; a repeat with the same value is harmless, a repeat with
// another value is a problem (which one would the software mean?).
func (p *tagParser) once(t rawTag) bool {
	v := canonical(t.key, t.value)
	if prev, seen := p.single[t.key]; seen {
		if !strings.EqualFold(prev, v) {
			p.f.addProblem(fmt.Sprintf("%s répétée avec des valeurs différentes", p.label(t.key)))
		}
		return false
	}
	p.single[t.key] = v
	return true
}

// setINS checks an INS from a tag and records it. It reports false when the INS is malformed
// or its key is wrong: a malformed tag holds the document.
func (p *tagParser) setINS(key, value string) bool {
	n, keyValid, err := ins.Check(value)
	if err != nil {
		p.problem(key, "INS « %s » invalide (%s)", strings.TrimSpace(value), insErrorFrench(err))
		return false
	}
	if !keyValid {
		p.problem(key, "la clé de l'INS « %s » ne correspond pas", n)
		return false
	}
	if p.f.ins != "" && p.f.ins != n {
		by := p.insBy[p.f.ins]
		p.f.addProblem(fmt.Sprintf("%s et %s donnent deux INS différents", p.label(by), p.label(key)))
		return false
	}
	p.f.ins, p.f.insKeyValid = n, true
	p.insBy[n] = key
	return true
}

// addRecipient adds r unless its address is there already; "to" wins over "cc".
func (f *found) addRecipient(r Recipient) {
	list := &f.to
	if r.Role == RoleCc {
		list = &f.cc
	}
	for _, x := range f.to {
		if strings.EqualFold(x.Address, r.Address) {
			return
		}
	}
	for i, x := range f.cc {
		if strings.EqualFold(x.Address, r.Address) {
			if r.Role == RoleTo {
				f.cc = append(f.cc[:i], f.cc[i+1:]...)
				break
			}
			return
		}
	}
	*list = append(*list, r)
}

// insErrorFrench gives the ins package's message without its wrapping.
func insErrorFrench(err error) string {
	for _, e := range []error{ins.ErrLength, ins.ErrSex, ins.ErrMonth, ins.ErrSyntax} {
		if errors.Is(err, e) {
			return err.Error()
		}
	}
	return "format inconnu"
}

// canonical is a tag's value as compared with a repeat of the tag: an INS written with or
// without spaces is the same INS.
func canonical(key, value string) string {
	switch key {
	case keyINS:
		return ins.Normalize(value)
	case keyPatient:
		parts := strings.Split(value, "|")
		for i := range parts {
			parts[i] = collapseSpaces(parts[i])
		}
		if len(parts) == 4 {
			parts[3] = ins.Normalize(parts[3])
		}
		return strings.Join(parts, "|")
	}
	return collapseSpaces(value)
}

// ValidBirthPlace checks the shape of an INSEE commune code (COG): five characters, digits,
// with 2A or 2B for Corsica (99xxx codes a country of birth abroad).
func ValidBirthPlace(s string) bool {
	if len(s) != 5 {
		return false
	}
	head := s[:2]
	if head != "2A" && head != "2B" && (head[0] < '0' || head[0] > '9' || head[1] < '0' || head[1] > '9') {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
