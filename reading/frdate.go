package reading

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Dates as French letters write them, matched on folded text: 12/03/1956, 12.03.1956,
// 12-03-1956, 12 mars 1956, 1er mars 1956, 12 MARS 1956, 1956-03-12. Two-digit years are
// not read: the century would be a guess.
var (
	numericDateRE = regexp.MustCompile(`\b([0-3]?[0-9]) ?[/.\-] ?([01]?[0-9]) ?[/.\-] ?((?:18|19|20)[0-9]{2})\b`)
	isoDateRE     = regexp.MustCompile(`\b((?:18|19|20)[0-9]{2})-([01][0-9])-([0-3][0-9])\b`)
	wordDateRE    = regexp.MustCompile(`\b(1ER|[0-3]?[0-9])(?:ER)? (JANVIER|JANV\.?|FEVRIER|FEVR?\.?|MARS|AVRIL|AVR\.?|MAI|JUIN|JUILLET|JUIL\.?|AOUT|SEPTEMBRE|SEPT?\.?|OCTOBRE|OCT\.?|NOVEMBRE|NOV\.?|DECEMBRE|DEC\.?) ((?:18|19|20)[0-9]{2})\b`)
)

var frMonths = map[string]int{
	"JANVIER": 1, "JANV": 1, "FEVRIER": 2, "FEVR": 2, "FEV": 2, "MARS": 3, "AVRIL": 4, "AVR": 4,
	"MAI": 5, "JUIN": 6, "JUILLET": 7, "JUIL": 7, "AOUT": 8, "SEPTEMBRE": 9, "SEPT": 9, "SEP": 9,
	"OCTOBRE": 10, "OCT": 10, "NOVEMBRE": 11, "NOV": 11, "DECEMBRE": 12, "DEC": 12,
}

// frDate is a date found in folded text: its value (YYYY-MM-DD, or "" when the day or month
// does not exist) and where it is.
type frDate struct {
	value      string
	raw        string // as matched, folded
	start, end int
}

// findDates returns the dates of a folded text in order of position.
func findDates(f string) []frDate {
	var out []frDate
	taken := make([]bool, len(f)+1)
	add := func(loc []int, y, m, d string) {
		for i := loc[0]; i < loc[1]; i++ {
			if taken[i] {
				return
			}
		}
		for i := loc[0]; i < loc[1]; i++ {
			taken[i] = true
		}
		out = append(out, frDate{value: makeDate(y, m, d), raw: f[loc[0]:loc[1]], start: loc[0], end: loc[1]})
	}
	for _, m := range isoDateRE.FindAllStringSubmatchIndex(f, -1) {
		add(m, f[m[2]:m[3]], f[m[4]:m[5]], f[m[6]:m[7]])
	}
	for _, m := range numericDateRE.FindAllStringSubmatchIndex(f, -1) {
		add(m, f[m[6]:m[7]], f[m[4]:m[5]], f[m[2]:m[3]])
	}
	for _, m := range wordDateRE.FindAllStringSubmatchIndex(f, -1) {
		day := f[m[2]:m[3]]
		if day == "1ER" {
			day = "1"
		}
		month := f[m[4]:m[5]]
		if month[len(month)-1] == '.' {
			month = month[:len(month)-1]
		}
		add(m, f[m[6]:m[7]], strconv.Itoa(frMonths[month]), day)
	}
	// Reading order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].start < out[j-1].start; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// makeDate returns YYYY-MM-DD, or "" when that day does not exist.
func makeDate(y, m, d string) string {
	yy, err1 := strconv.Atoi(y)
	mm, err2 := strconv.Atoi(m)
	dd, err3 := strconv.Atoi(d)
	if err1 != nil || err2 != nil || err3 != nil || mm < 1 || mm > 12 || dd < 1 {
		return ""
	}
	t := time.Date(yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if t.Day() != dd {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", yy, mm, dd)
}
