package config

import (
	"fmt"
	"os"
)

// CheckSecretFile refuses a private key or password file that other users could read or
// change. On Unix that is any permission for group or others (the rule OpenSSH applies to
// private keys); on Windows, where modes say nothing, a DACL entry that lets a group of
// every user in (Everyone, Users, Authenticated Users, Guests…) read, write or change its
// rights. The file must also be a regular file (a symbolic link is followed to its target).
func CheckSecretFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	return checkSecretAccess(path, fi)
}

// SecretFile lets the validator check secret files through its Checks, so that tests can
// keep their fake file system: a Checks that also has this method is asked about key_file
// and password_file.
func (OSChecks) SecretFile(path string) error { return CheckSecretFile(path) }
