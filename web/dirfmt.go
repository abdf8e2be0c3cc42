package web

import (
	"strings"

	"github.com/mssbridge/mssbridge/directory"
)

// entryName is how a directory entry is named: "Dr Paul MERCIER", or the structure for an
// organisation's box.
func entryName(e directory.Entry) string {
	civ := ""
	switch strings.ToUpper(e.Civility) {
	case "DR":
		civ = "Dr"
	case "PR":
		civ = "Pr"
	case "MME":
		civ = "Mme"
	case "M":
		civ = "M."
	}
	name := strings.TrimSpace(strings.Join(strings.Fields(civ+" "+e.GivenName+" "+e.FamilyName), " "))
	if e.FamilyName == "" {
		name = e.Structure
		if e.Service != "" {
			name += " — " + e.Service
		}
	}
	return name
}

// entryDetail is the profession, the specialty, the structure and the town.
func entryDetail(e directory.Entry) string {
	var parts []string
	if e.Profession != "" {
		parts = append(parts, e.Profession)
	}
	if e.Specialty != "" && !strings.EqualFold(e.Specialty, e.Profession) {
		parts = append(parts, e.Specialty)
	}
	if e.FamilyName != "" && e.Structure != "" {
		parts = append(parts, e.Structure)
	}
	town := strings.TrimSpace(e.Postcode + " " + e.Town)
	if town != "" {
		parts = append(parts, town)
	}
	if e.PPID != "" {
		parts = append(parts, "RPPS "+e.PPID)
	}
	return strings.Join(parts, " · ")
}
