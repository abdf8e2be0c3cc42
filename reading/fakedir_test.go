package reading

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// fakeDirectory is a small directory read from an Annuaire Santé MSSanté extraction (pipe-
// separated, header first, columns by header name), for the tests, until the directory
// package is used.
type fakeDirectory struct {
	entries []DirEntry
}

func loadFakeDirectory(t testing.TB, path string) *fakeDirectory {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	var col map[string]int
	d := &fakeDirectory{}
	for sc.Scan() {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "|")
		if col == nil {
			col = map[string]int{}
			for i, h := range fields {
				col[h] = i
			}
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return strings.TrimSpace(fields[i])
			}
			return ""
		}
		town := get("L6LIGNEACHEMINEMENT structure BAL")
		pc := get("Code postal structure BAL")
		town = strings.TrimSpace(strings.TrimPrefix(town, pc))
		d.entries = append(d.entries, DirEntry{
			Kind: get("Type de BAL"), Address: get("Adresse BAL"), IDType: get("Type d'identifiant PP"),
			PPID: get("Identifiant PP"), NationalID: get("Identification nationale PP"),
			Civility: get("Civilité d'exercice"), FamilyName: get("Nom d'exercice"), GivenName: get("Prénom d'exercice"),
			Profession: get("Libellé profession"), Specialty: get("Libellé savoir-faire"),
			Dematerialised: get("Dématérialisation") == "O", Structure: get("Raison Sociale structure BAL"),
			Service: get("Service de rattachement"), Postcode: pc, Town: town, Department: get("Département structure BAL"),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *fakeDirectory) ByAddress(addr string) (DirEntry, bool) {
	for _, e := range d.entries {
		if strings.EqualFold(e.Address, addr) {
			return e, true
		}
	}
	return DirEntry{}, false
}

func (d *fakeDirectory) ByRPPS(id string) []DirEntry {
	id = strings.TrimSpace(id)
	var out []DirEntry
	for _, e := range d.entries {
		if e.PPID != "" && (e.PPID == id || e.NationalID == id || "8"+id == e.NationalID) {
			out = append(out, e)
		}
	}
	return out
}

func (d *fakeDirectory) ByName(family, given string) []DirEntry {
	var out []DirEntry
	for _, e := range d.entries {
		if nameKey(e.FamilyName) == nameKey(family) && (given == "" || nameKey(e.GivenName) == nameKey(given)) && e.FamilyName != "" {
			out = append(out, e)
		}
	}
	return out
}
