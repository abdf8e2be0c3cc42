//go:build !windows

package config

import (
	"fmt"
	"os"
)

func checkSecretAccess(_ string, fi os.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("can be read or written by other users (mode %04o): make it readable by the service account alone (chmod 600)", perm)
	}
	return nil
}
