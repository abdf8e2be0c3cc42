package safefile

import (
	"fmt"
	"regexp"
)

// On Windows the modes above mean nothing: a folder mssbridge creates is made private by
// its DACL instead. ProgramData and the root of a data volume let every user read (and, on
// a volume root, modify) what is created below them, so the DACL is protected (nothing
// inherited from the parent) and inherited by everything created inside (OI, CI): SYSTEM,
// BUILTIN\Administrators and the account the process runs as (the service account), full
// control each, and nobody else.

const (
	sidSystem = "S-1-5-18"
	sidAdmins = "S-1-5-32-544"

	// ACE fields as Windows stores them (winnt.h), kept here so the rules can be tested on
	// any system.
	aceAllowed        = 0x00 // ACCESS_ALLOWED_ACE_TYPE
	aceObjectInherit  = 0x01 // OBJECT_INHERIT_ACE
	aceContInherit    = 0x02 // CONTAINER_INHERIT_ACE
	aceInheritOnly    = 0x08 // INHERIT_ONLY_ACE
	fileAllAccess     = 0x001F01FF
	privateInheritAce = aceObjectInherit | aceContInherit
)

var sidSyntax = regexp.MustCompile(`^S-1(-[0-9]+)+$`)

// privateSDDL is the security descriptor (SDDL) of a private folder for the account whose
// SID is user. The account is checked, not trusted: it is pasted into SDDL.
func privateSDDL(user string) (string, error) {
	if !sidSyntax.MatchString(user) {
		return "", fmt.Errorf("not a SID: %q", user)
	}
	sddl := "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	// A service running as LocalSystem is already in the first entry.
	if user != sidSystem {
		sddl += "(A;OICI;FA;;;" + user + ")"
	}
	return sddl, nil
}

// ace is one entry of a DACL, as read back from Windows.
type ace struct {
	typ   uint8
	flags uint8 // inheritance flags; the INHERITED_ACE bit (0x10) is ignored
	mask  uint32
	sid   string
}

// isPrivate reports whether a folder's DACL is exactly the one privateSDDL(user) sets:
// protected, and full control inherited by all for SYSTEM, Administrators and user alone.
// Anything else (an entry for Users, a missing entry, a DACL that still inherits from its
// parent) is not private.
func isPrivate(protected bool, aces []ace, user string) bool {
	if !protected {
		return false
	}
	want := map[string]bool{sidSystem: false, sidAdmins: false, user: false}
	if len(aces) != len(want) {
		return false
	}
	for _, a := range aces {
		seen, ok := want[a.sid]
		if !ok || seen || a.typ != aceAllowed || a.mask != fileAllAccess ||
			a.flags&(privateInheritAce|aceInheritOnly) != privateInheritAce {
			return false
		}
		want[a.sid] = true
	}
	return true
}
