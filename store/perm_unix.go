//go:build !windows

package store

import (
	"fmt"
	"os"
)

// restrictFiles makes the database and its WAL companions readable by the service alone.
func restrictFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("restrict %s: %w", p, err)
		}
	}
	return nil
}
