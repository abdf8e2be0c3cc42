// Package ins normalises and checks the INS (identité nationale de santé): the 13-character
// matricule (the NIR) followed by its 2-digit key, as printed on French clinical documents.
//
// The key is 97 − (NIR mod 97), computed with the Corsican départements 2A and 2B read as 19
// and 18. A matricule is checked for its shape (sex digit, month, département) before its key:
// a malformed value is an error, a well-formed value with the wrong key is reported as such,
// so that a caller can hold the document and say why.
package ins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Length is the length of a normalised INS: 13 characters of matricule and 2 of key.
const Length = 15

// Errors returned by Check and Key. They are wrapped with the detail; test them with errors.Is.
// Their text is French, as it ends up in reasons a secretary reads.
var (
	ErrLength = errors.New("l'INS doit compter 15 caractères")
	ErrSyntax = errors.New("l'INS contient des caractères non valides")
	ErrSex    = errors.New("le premier chiffre de l'INS doit être 1, 2, 3, 4, 7 ou 8")
	ErrMonth  = errors.New("le mois de naissance de l'INS n'existe pas")
)

// Normalize removes the separators people and software put in an INS (spaces of any kind,
// dots, hyphens and dashes) and upper-cases it, so that "2 85 04 2a …" becomes "28504 2A…"
// without the space. It does not check anything.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == ' ', r == '\t', r == '\n', r == '\r', r == '.', r == '-', r == '_',
			r == '\u00a0', r == '\u202f', r == '\u2009', r == '\u2007', r == '\u2002', r == '\u2003',
			r == '\u2212', r >= '\u2010' && r <= '\u2015':
			continue
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Check normalises s and checks it as a 15-character INS. It returns the normalised value,
// whether its key matches its matricule, and an error when the value is not an INS at all
// (length, characters, sex digit, month). keyValid is false whenever err is not nil.
func Check(s string) (normalized string, keyValid bool, err error) {
	n := Normalize(s)
	if len([]rune(n)) != Length {
		return n, false, fmt.Errorf("%w (%d lus)", ErrLength, len([]rune(n)))
	}
	if len(n) != Length { // 15 characters but not all ASCII
		return n, false, fmt.Errorf("%w : seuls des chiffres (et 2A/2B pour la Corse) sont permis", ErrSyntax)
	}
	key, err := Key(n[:13])
	if err != nil {
		return n, false, err
	}
	if !allDigits(n[13:]) {
		return n, false, fmt.Errorf("%w : la clé doit être de deux chiffres", ErrSyntax)
	}
	return n, n[13:] == key, nil
}

// Key returns the 2-digit key of a 13-character matricule (already normalised), or an error
// when the matricule is malformed.
func Key(nir string) (string, error) {
	if len(nir) != 13 {
		return "", fmt.Errorf("%w : le matricule doit compter 13 caractères", ErrLength)
	}
	digits := []byte(nir)
	switch {
	case nir[5:7] == "2A":
		digits[5], digits[6] = '1', '9'
	case nir[5:7] == "2B":
		digits[5], digits[6] = '1', '8'
	}
	if !allDigits(string(digits)) {
		return "", fmt.Errorf("%w : seuls des chiffres (et 2A/2B pour la Corse) sont permis", ErrSyntax)
	}
	switch nir[0] {
	case '1', '2', '3', '4', '7', '8':
	default:
		return "", ErrSex
	}
	if m, _ := strconv.Atoi(nir[3:5]); !validMonth(m) {
		return "", fmt.Errorf("%w (%s)", ErrMonth, nir[3:5])
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil { // cannot happen: 13 ASCII digits fit in a uint64
		return "", fmt.Errorf("%w : %v", ErrSyntax, err)
	}
	return fmt.Sprintf("%02d", 97-v%97), nil
}

// validMonth: 01–12 are months; 20–42 and 50 and above are written for unknown months
// (people whose civil registration did not give one).
func validMonth(m int) bool {
	return (m >= 1 && m <= 12) || (m >= 20 && m <= 42) || m >= 50
}

// SexFromINS returns "M" or "F" from the first digit of a normalised INS or matricule
// (1, 3, 7: male; 2, 4, 8: female), or "" when it cannot tell.
func SexFromINS(ins string) string {
	if ins == "" {
		return ""
	}
	switch ins[0] {
	case '1', '3', '7':
		return "M"
	case '2', '4', '8':
		return "F"
	}
	return ""
}

// BirthYearMonthFromINS returns the two digits of the birth year (0–99: the century is not
// in the INS) and the birth month (1–12, or 0 when the INS says the month is unknown) of a
// normalised INS or matricule. ok is false when the value is too short or malformed there.
func BirthYearMonthFromINS(ins string) (yy, month int, ok bool) {
	if len(ins) < 5 {
		return 0, 0, false
	}
	if !allDigits(ins[1:5]) {
		return 0, 0, false
	}
	y, _ := strconv.Atoi(ins[1:3])
	m, _ := strconv.Atoi(ins[3:5])
	if !validMonth(m) {
		return 0, 0, false
	}
	if m > 12 {
		m = 0
	}
	return y, m, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
