//go:build !windows

package watcher

import "os"

// openExclusive opens path for reading. Unix systems have no mandatory locks, so a plain open
// proves only that the file exists and is readable; stability and the "%%EOF" marker carry the
// weight there.
func openExclusive(path string) (*os.File, error) {
	return os.Open(path)
}
