package config

import (
	"fmt"
	"os"
	"runtime"
)

// CheckSecretFile refuses a private key or password file that other users could read: on
// Unix, any permission for group or others (the rule OpenSSH applies to private keys). The
// file must also be a regular file (a symbolic link is followed to its target). On Windows
// the mode bits say nothing about who may read a file: ACLs are the installer's business
// (it restricts them to the service account and administrators), and nil is returned.
//
// To call from the validator, beside the readability check of key_file and password_file
// (see SecretFile below).
func CheckSecretFile(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("can be read or written by other users (mode %04o): make it readable by the service account alone (chmod 600)", perm)
	}
	return nil
}

// SecretFile lets the validator check secret files through its Checks, so that tests can
// keep their fake file system: a Checks that also has this method is asked about key_file
// and password_file.
func (OSChecks) SecretFile(path string) error { return CheckSecretFile(path) }
