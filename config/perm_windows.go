//go:build windows

package config

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

func checkSecretAccess(path string, _ os.FileInfo) error {
	null, aces, err := fileDACL(path)
	if err != nil {
		return err
	}
	if groups := openTo(null, aces); len(groups) > 0 {
		return aclError(groups)
	}
	return nil
}

// fileDACL reads the entries of path's DACL (following a symbolic link to its target, as
// opening the file would); null reports a NULL DACL, which grants everything to everyone.
func fileDACL(path string) (null bool, aces []fileACE, err error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return false, nil, fmt.Errorf("cannot read its access rights: %w", err)
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) {
		// No DACL at all: no access check, everyone gets in.
		return true, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("cannot read its access rights: %w", err)
	}
	if dacl == nil {
		return true, nil, nil
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var e *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &e); err != nil {
			return false, nil, fmt.Errorf("cannot read its access rights: entry %d: %w", i, err)
		}
		a := fileACE{typ: e.Header.AceType, flags: e.Header.AceFlags, mask: uint32(e.Mask)}
		// Allowed and denied entries (plain or callback) put the SID right after the mask;
		// object entries, which files do not use, are skipped by openTo.
		switch a.typ {
		case 0x00, 0x01, 0x09, 0x0A:
			a.sid = (*windows.SID)(unsafe.Pointer(&e.SidStart)).String()
		}
		aces = append(aces, a)
	}
	return false, aces, nil
}
