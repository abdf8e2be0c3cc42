package xdm

import (
	"strings"
)

// XDS carries people, structures, identifiers and addresses in HL7 v2.5 data types (XCN,
// XON, CX, XTN, XPN) whose components are separated by ^, sub-components by &, and whose
// intendedRecipient joins XON|XCN|XTN with |. Text put in a component is escaped with the
// HL7 v2 escape sequences (\F\ \S\ \T\ \R\ \E\) so that a name holding one of these
// characters neither breaks nor shifts the fields.

var hl7Escaper = strings.NewReplacer(`\`, `\E\`, `|`, `\F\`, `^`, `\S\`, `&`, `\T\`, `~`, `\R\`)
var hl7Unescaper = strings.NewReplacer(`\E\`, `\`, `\F\`, `|`, `\S\`, `^`, `\T\`, `&`, `\R\`, `~`)

func esc(s string) string   { return hl7Escaper.Replace(s) }
func unesc(s string) string { return hl7Unescaper.Replace(s) }

// components joins c with ^, dropping the trailing empty ones. The values must already be
// escaped.
func components(c ...string) string {
	n := len(c)
	for n > 0 && c[n-1] == "" {
		n--
	}
	return strings.Join(c[:n], "^")
}

// component returns the i-th (1-based) ^-separated component of v, still escaped.
func component(v string, i int) string {
	parts := strings.Split(v, "^")
	if i < 1 || i > len(parts) {
		return ""
	}
	return parts[i-1]
}

// subcomponent returns the i-th (1-based) &-separated sub-component of c.
func subcomponent(c string, i int) string {
	parts := strings.Split(c, "&")
	if i < 1 || i > len(parts) {
		return ""
	}
	return parts[i-1]
}

func isoAuthority(oid string) string { return "&" + oid + "&ISO" }

// cx is a patient identifier: INS^^^&OID&ISO^NH.
func cx(id, oid string) string {
	return components(esc(id), "", "", isoAuthority(oid), idTypeINS)
}

// parseCX returns the identifier and the OID of its assigning authority.
func parseCX(v string) (id, oid string) {
	return unesc(component(v, 1)), subcomponent(component(v, 4), 2)
}

// xcnPS is a professional: 8RPPS^FAMILY^Given^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS
// (ANS AuthorPerson model: components 1, 2, 3, 9, 10 and 13).
func xcnPS(rpps, family, given string) string {
	id, authority, nameType, idType := "", "", "", ""
	if rpps != "" {
		id, authority, idType = prefixRPPS+rpps, isoAuthority(OIDPSIdNat), idTypePS
	}
	if family != "" || given != "" {
		nameType = "D"
	}
	return components(esc(id), esc(family), esc(given), "", "", "", "", "", authority, nameType, "", "", idType)
}

// parseXCNPS reverses xcnPS; an identifier that is not 8+RPPS under OIDPSIdNat is ignored.
func parseXCNPS(v string) (rpps, family, given string) {
	id := unesc(component(v, 1))
	if subcomponent(component(v, 9), 2) == OIDPSIdNat && strings.HasPrefix(id, prefixRPPS) && len(id) == 12 {
		rpps = id[1:]
	}
	return rpps, unesc(component(v, 2)), unesc(component(v, 3))
}

// xonStruct is a structure: Name^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1FINESS (ANS
// AuthorInstitution model: components 1, 6, 7 and 10). Without an identifier, the name alone.
func xonStruct(name, structID string) string {
	if structID == "" {
		return components(esc(name))
	}
	return components(esc(name), "", "", "", "", isoAuthority(OIDStructIdNat), idTypeStructure, "", "", esc(structID))
}

func parseXON(v string) (name, authority, id string) {
	return unesc(component(v, 1)), subcomponent(component(v, 6), 2), unesc(component(v, 10))
}

// xtnEmail is an e-mail address: ^^Internet^address (IHE ITI TF-3 §4.2.3.1.7, XTN).
func xtnEmail(addr string) string { return components("", "", "Internet", esc(addr)) }

func parseXTNEmail(v string) string {
	if component(v, 3) != "Internet" {
		return ""
	}
	return unesc(component(v, 4))
}

// intendedRecipient is XON|XCN|XTN, each part possibly empty (IHE ITI TF-3 §4.2.3.3.8).
func intendedRecipient(r Recipient) string {
	xon := ""
	if r.Organization != "" {
		xon = xonStruct(r.Organization, "")
	}
	return xon + "|" + xcnPS(r.RPPS, r.FamilyName, r.GivenName) + "|" + xtnEmail(r.Address)
}

func parseIntendedRecipient(v string) Recipient {
	parts := strings.SplitN(v, "|", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	var r Recipient
	r.Organization, _, _ = parseXON(parts[0])
	r.RPPS, r.FamilyName, r.GivenName = parseXCNPS(parts[1])
	r.Address = parseXTNEmail(parts[2])
	return r
}

// ce is a coded value as ANS writes authorSpecialty and authorRole: code^display^system.
func ce(c Code) string { return components(esc(c.Code), esc(c.Display), esc(c.System)) }

func parseCE(v string) Code {
	return Code{Code: unesc(component(v, 1)), Display: unesc(component(v, 2)), System: unesc(component(v, 3))}
}
