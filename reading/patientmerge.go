package reading

import (
	"fmt"
	"strconv"

	"github.com/mssbridge/mssbridge/ins"
	"time"
)

// mergeLetterPatient fills the patient's fields the software did not give from the letter,
// and holds the document when the letter names another patient than the software does, or
// describes two patients.
func (r *Reader) mergeLetterPatient(res *Result, letter *letterFound, familyFrom, birthFrom *found, now time.Time) {
	lp := letter.patient
	pt := &res.Patient
	for _, p := range lp.problems {
		res.hold(p)
	}
	if lp.birth != "" {
		switch msg := checkBirthDate(lp.birth, now); {
		case msg != "":
			res.hold("Date de naissance imprimée illisible : " + msg)
		case pt.BirthDate == "":
			pt.BirthDate = lp.birth
		case pt.BirthDate != lp.birth:
			res.hold(fmt.Sprintf("Les sources ne désignent pas le même patient : né(e) le %s (%s) et le %s (texte du courrier)",
				pt.BirthDate, sourceFrench(sourceOf(birthFrom)), lp.birth))
		}
	}
	if lp.family != "" {
		switch {
		case pt.FamilyName == "":
			pt.FamilyName = lp.family
		case nameKey(pt.FamilyName) != nameKey(lp.family) && (lp.used == "" || nameKey(pt.FamilyName) != nameKey(lp.used)):
			res.hold(fmt.Sprintf("Les sources ne désignent pas le même patient : %s (%s) et %s (texte du courrier)",
				pt.FamilyName, sourceFrench(sourceOf(familyFrom)), lp.family))
		}
	}
	if pt.GivenNames == "" {
		pt.GivenNames = lp.given
	}
	if pt.Sex == "" && lp.sexStrong {
		pt.Sex = lp.sex
	}
}

func sourceOf(f *found) Source {
	if f == nil {
		return SourceText
	}
	return f.source
}

// checkAgainstINS holds the document when the sex or the birth date contradicts the INS (its
// first digit, and the year and month it encodes). Provisional numbers (first digit other
// than 1 or 2) are not checked: they need not encode the birth.
func checkAgainstINS(res *Result) {
	pt := &res.Patient
	if pt.INS == "" || !pt.INSKeyValid || (pt.INS[0] != '1' && pt.INS[0] != '2') {
		return
	}
	if s := ins.SexFromINS(pt.INS); pt.Sex != "" && s != "" && pt.Sex != s {
		res.hold(fmt.Sprintf("Le sexe du patient (%s) ne correspond pas à l'INS %s (%s)", pt.Sex, pt.INS, map[string]string{"M": "homme", "F": "femme"}[s]))
	}
	if len(pt.BirthDate) != 10 {
		return
	}
	yy, mm, ok := ins.BirthYearMonthFromINS(pt.INS)
	if !ok {
		return
	}
	y, _ := strconv.Atoi(pt.BirthDate[:4])
	m, _ := strconv.Atoi(pt.BirthDate[5:7])
	if y%100 != yy || (mm != 0 && m != mm) {
		month := fmt.Sprintf("%02d/", mm)
		if mm == 0 {
			month = ""
		}
		res.hold(fmt.Sprintf("La date de naissance %s ne correspond pas à l'INS %s (né(e) en %s%02d selon l'INS)", pt.BirthDate, pt.INS, month, yy))
	}
}
