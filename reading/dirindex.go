package reading

import "github.com/mssbridge/mssbridge/directory"

// FromIndex lets the reader use an open directory index: WithDirectory(FromIndex(ix)).
func FromIndex(ix *directory.Index) Directory { return indexDirectory{ix} }

type indexDirectory struct{ ix *directory.Index }

func (d indexDirectory) ByAddress(addr string) (DirEntry, bool) {
	e, ok := d.ix.ByAddress(addr)
	return DirEntry(e), ok
}

func (d indexDirectory) ByRPPS(id string) []DirEntry { return convertEntries(d.ix.ByRPPS(id)) }

func (d indexDirectory) ByName(family, given string) []DirEntry {
	return convertEntries(d.ix.ByName(family, given))
}

func convertEntries(es []directory.Entry) []DirEntry {
	if len(es) == 0 {
		return nil
	}
	out := make([]DirEntry, len(es))
	for i, e := range es {
		out[i] = DirEntry(e)
	}
	return out
}
