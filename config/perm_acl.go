package config

import (
	"fmt"
	"sort"
	"strings"
)

// The Windows side of CheckSecretFile, as rules on DACL entries, so that they can be tested
// on any system.

// everyUser names the SIDs that stand for "other users": groups every account, or every
// account of the domain, belongs to.
var everyUser = map[string]string{
	"S-1-1-0":      "Everyone",
	"S-1-5-32-545": `BUILTIN\Users`,
	"S-1-5-11":     "Authenticated Users",
	"S-1-5-32-546": `BUILTIN\Guests`,
	"S-1-5-7":      "Anonymous Logon",
	"S-1-5-4":      "Interactive",
	"S-1-5-2":      "Network",
}

// domainRIDs are the same for a domain's groups, S-1-5-21-<domain>-<rid>.
var domainRIDs = map[string]string{"513": "Domain Users", "514": "Domain Guests"}

const (
	aceAllowed         = 0x00 // ACCESS_ALLOWED_ACE_TYPE
	aceAllowedCallback = 0x09 // ACCESS_ALLOWED_CALLBACK_ACE_TYPE (a conditional grant is a grant)
	aceInheritOnly     = 0x08 // INHERIT_ONLY_ACE: for what is created below, not this file

	// Read the content, change it, or change who may (then read it).
	secretRights = 0x00000001 | // FILE_READ_DATA
		0x00000002 | // FILE_WRITE_DATA
		0x00000004 | // FILE_APPEND_DATA
		0x00040000 | // WRITE_DAC
		0x00080000 | // WRITE_OWNER
		0x80000000 | // GENERIC_READ
		0x40000000 | // GENERIC_WRITE
		0x10000000 // GENERIC_ALL
)

// fileACE is one DACL entry of a file, as read from Windows.
type fileACE struct {
	typ   uint8
	flags uint8
	mask  uint32
	sid   string
}

// openTo returns the names of the groups of every user that the entries let read or change
// the file, sorted. Deny entries are not weighed against grants: a key readable by Users
// except for some of them is still refused. A NULL DACL (nullDACL) lets everyone in.
func openTo(nullDACL bool, aces []fileACE) []string {
	if nullDACL {
		return []string{everyUser["S-1-1-0"]}
	}
	seen := map[string]bool{}
	for _, a := range aces {
		if (a.typ != aceAllowed && a.typ != aceAllowedCallback) || a.flags&aceInheritOnly != 0 || a.mask&secretRights == 0 {
			continue
		}
		if name := everyUserName(a.sid); name != "" {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func everyUserName(sid string) string {
	if name, ok := everyUser[sid]; ok {
		return name
	}
	if rest, ok := strings.CutPrefix(sid, "S-1-5-21-"); ok {
		parts := strings.Split(rest, "-")
		if len(parts) == 4 {
			return domainRIDs[parts[3]]
		}
	}
	return ""
}

// aclError is the refusal of a secret file open to groups, in the words of the Unix one.
func aclError(groups []string) error {
	return fmt.Errorf(`can be read or written by other users (%s): make it readable by the service account and administrators alone (icacls FILE /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F "SERVICE ACCOUNT:R")`, strings.Join(groups, ", "))
}
