//go:build windows

package safefile

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// restrict makes the outermost folder MkdirAll created private; the folders below it
// inherit its DACL.
var restrict = makePrivate

// processUser is the SID of the account the process runs as: the service account for the
// service, the administrator for a command run by hand.
var processUser = sync.OnceValues(func() (string, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("account of the process: %w", err)
	}
	return tu.User.Sid.String(), nil
})

// MakePrivate gives dir a protected DACL granting full control to SYSTEM, Administrators
// and the process's account alone, inherited by everything inside (what is already there
// is updated by Windows). A folder that already has exactly that DACL is left untouched,
// so it is cheap to call at every start. Any other entry (an account an administrator
// added by hand) is removed: call it only on folders mssbridge owns, and only from the
// service (a command run by an administrator would put its own account in place of the
// service's).
func MakePrivate(dir string) error {
	user, err := processUser()
	if err != nil {
		return err
	}
	if protected, aces, err := readDACL(dir); err == nil && isPrivate(protected, aces, user) {
		return nil
	}
	if err := makePrivate(dir); err != nil {
		return fmt.Errorf("restrict access to %s: %w", dir, err)
	}
	return nil
}

func makePrivate(dir string) error {
	user, err := processUser()
	if err != nil {
		return err
	}
	sddl, err := privateSDDL(user)
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("security descriptor %s: %w", sddl, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("security descriptor %s: %w", sddl, err)
	}
	// PROTECTED cuts the inheritance from the parent; Windows propagates the new inheritable
	// entries to anything already inside.
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}

// readDACL returns whether path's DACL is protected from inheritance, and its entries.
func readDACL(path string) (protected bool, aces []ace, err error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return false, nil, fmt.Errorf("read access rights of %s: %w", path, err)
	}
	control, _, err := sd.Control()
	if err != nil {
		return false, nil, fmt.Errorf("read access rights of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return false, nil, fmt.Errorf("read access rights of %s: %w", path, err)
	}
	if dacl == nil {
		// A NULL DACL lets everyone in: report it as such.
		return control&windows.SE_DACL_PROTECTED != 0, []ace{{typ: aceAllowed, mask: fileAllAccess, sid: "S-1-1-0"}}, nil
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var e *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &e); err != nil {
			return false, nil, fmt.Errorf("read access rights of %s: entry %d: %w", path, i, err)
		}
		a := ace{typ: e.Header.AceType, flags: e.Header.AceFlags &^ windows.INHERITED_ACE, mask: uint32(e.Mask)}
		// Allowed and denied entries (plain or callback) put the SID right after the mask;
		// object entries do not, and never belong to a private folder.
		switch a.typ {
		case 0x00, 0x01, 0x09, 0x0A:
			a.sid = (*windows.SID)(unsafe.Pointer(&e.SidStart)).String()
		}
		aces = append(aces, a)
	}
	return control&windows.SE_DACL_PROTECTED != 0, aces, nil
}

// inheritRights gives a file just renamed into a folder the rights of that folder,
// dropping those it brought along (what "icacls FILE /reset" does). Where the process may
// not change the file's DACL (a file created by the clinical software, which the service
// may modify but whose rights it may not change), the file is rewritten in place: a new
// file inherits from its folder. The move itself has happened and is not undone: a
// failure here leaves the file with its old rights, never loses it.
func inheritRights(path string) {
	if resetDACL(path) != nil {
		_ = rewrite(path)
	}
}

// rewrite replaces path with a copy of itself, created in its folder.
func rewrite(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	// WriteFrom renames over path, which Windows refuses while path is open: the copy
	// closes it first.
	return WriteFrom(path, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		if cerr := in.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// resetDACL replaces path's DACL with an empty, unprotected one: what remains are the
// entries inherited from its folder.
func resetDACL(path string) error {
	sd, err := windows.SecurityDescriptorFromString("D:")
	if err != nil {
		return err
	}
	empty, _, err := sd.DACL()
	if err != nil {
		return err
	}
	if empty == nil {
		// A NULL DACL would let everyone in.
		return fmt.Errorf("empty DACL expected")
	}
	return windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.UNPROTECTED_DACL_SECURITY_INFORMATION, nil, nil, empty, nil)
}
