package reading

import (
	"fmt"
	"strings"
	"time"
)

// normalizeAddress trims an address as software writes it ("mailto:" prefix, angle brackets)
// and lower-cases its domain. It does not check it.
func normalizeAddress(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i+1] + strings.ToLower(s[i+1:])
	}
	return s
}

// checkAddress says what is wrong with a normalised address, or "" when it is a plain
// local@domain address: one @, no spaces, a dot-atom local part, ASCII domain labels.
// Internationalised domains are refused: MSSanté domains are ASCII.
func checkAddress(a string) string {
	switch {
	case a == "":
		return "adresse vide"
	case strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\u00a0' }):
		return "espace dans l'adresse"
	case strings.Count(a, "@") != 1:
		return "il faut un seul @"
	}
	local, domain, _ := strings.Cut(a, "@")
	if local == "" || len(local) > 64 {
		return "partie avant @ vide ou trop longue"
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "point mal placé avant @"
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isAtext(c) && c != '.' {
			if c >= 0x80 {
				return "caractère non ASCII avant @"
			}
			return fmt.Sprintf("caractère « %c » interdit avant @", c)
		}
	}
	if domain == "" || len(domain) > 253 {
		return "domaine vide ou trop long"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "domaine sans point"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "domaine mal formé"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "tiret mal placé dans le domaine"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				if c >= 0x80 {
					return "caractère non ASCII dans le domaine"
				}
				return fmt.Sprintf("caractère « %c » interdit dans le domaine", c)
			}
		}
	}
	return ""
}

// isAtext: RFC 5322 atext, ASCII only.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkBirthDate says what is wrong with a YYYY-MM-DD birth date, or "" when it is a real
// date, not in the future and not before 1870.
func checkBirthDate(s string, now time.Time) string {
	if msg := checkDate(s); msg != "" {
		return msg
	}
	d, _ := time.Parse(time.DateOnly, s)
	if d.After(now) {
		return fmt.Sprintf("date de naissance « %s » dans le futur", s)
	}
	if d.Year() < 1870 {
		return fmt.Sprintf("date de naissance « %s » impossible", s)
	}
	return ""
}

// checkDate says what is wrong with a YYYY-MM-DD date, or "" when it is a real date.
func checkDate(s string) string {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return fmt.Sprintf("date « %s » au mauvais format (attendu AAAA-MM-JJ)", s)
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Sprintf("date « %s » impossible", s)
	}
	return ""
}

// checkBoxID: a box id is a configuration id; letters, digits, '.', '_' and '-'.
func checkBoxID(s string) string {
	if s == "" {
		return "identifiant de boîte vide"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("identifiant de boîte « %s » invalide", s)
		}
	}
	return ""
}

// collapseSpaces trims s and turns every run of white space into one space.
func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
