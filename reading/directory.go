package reading

import "strings"

// DirEntry is one mailbox of the Annuaire Santé MSSanté extraction, as the reader needs it.
// Its fields are those of directory.Entry, in the same order, so that one converts to the
// other with a plain conversion.
type DirEntry struct {
	Kind           string // PER, ORG, APP
	Address        string
	IDType         string
	PPID           string // RPPS (11 digits) for a professional
	NationalID     string // "8" + RPPS
	Civility       string
	FamilyName     string
	GivenName      string
	Profession     string
	Specialty      string
	Dematerialised bool
	Structure      string
	Service        string
	Postcode       string
	Town           string
	Department     string
}

// Directory is what the reader asks of the Annuaire Santé MSSanté. The directory package
// implements it (through an adapter); tests use a small one built from a sample extraction.
type Directory interface {
	// ByAddress returns the entry of an MSSanté address.
	ByAddress(addr string) (DirEntry, bool)
	// ByRPPS returns the entries (one per mailbox) of a professional: 11 digits, or "8"+RPPS.
	ByRPPS(id string) []DirEntry
	// ByName returns the entries whose family name (and given name, unless given is "")
	// match, case and accents aside.
	ByName(family, given string) []DirEntry
}

// Option configures a Reader.
type Option func(*Reader)

// WithDirectory lets the reader resolve the recipients a letter names (« Dr Jean MARTIN »,
// an RPPS number) to MSSanté addresses, and check the addresses it prints. Without it, a
// letter is sent only to addresses printed in it.
func WithDirectory(d Directory) Option {
	return func(r *Reader) { r.dir = d }
}

// WithOwnAddresses gives the addresses of the sending side: the boxes, the structure's own
// MSSanté addresses, the reply address. They are the author of a letter, never its
// recipients, wherever they are printed.
func WithOwnAddresses(addrs ...string) Option {
	return func(r *Reader) {
		if r.own == nil {
			r.own = map[string]bool{}
		}
		for _, a := range addrs {
			if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
				r.own[a] = true
			}
		}
	}
}

// entryName is how a directory entry is named in reasons: « Dr Claire BENOIT ».
func entryName(e DirEntry) string {
	var parts []string
	switch strings.ToUpper(e.Civility) {
	case "DR":
		parts = append(parts, "Dr")
	case "PR":
		parts = append(parts, "Pr")
	case "MME":
		parts = append(parts, "Mme")
	case "M":
		parts = append(parts, "M.")
	}
	if e.GivenName != "" {
		parts = append(parts, e.GivenName)
	}
	if e.FamilyName != "" {
		parts = append(parts, e.FamilyName)
	}
	if len(parts) == 0 || (len(parts) == 1 && e.FamilyName == "") {
		return firstNonEmpty(e.Structure, e.Address)
	}
	return strings.Join(parts, " ")
}

// entryWhere says where an entry practises: « Médecine Générale, Maison de santé des Pentes,
// 69001 LYON ».
func entryWhere(e DirEntry) string {
	var parts []string
	if s := firstNonEmpty(e.Specialty, e.Profession); s != "" {
		parts = append(parts, s)
	}
	if e.Structure != "" {
		parts = append(parts, e.Structure)
	}
	if loc := strings.TrimSpace(e.Postcode + " " + e.Town); loc != "" {
		parts = append(parts, loc)
	}
	return strings.Join(parts, ", ")
}
