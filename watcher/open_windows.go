//go:build windows

package watcher

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// openExclusive opens path for reading with share mode 0: Windows refuses it with a sharing
// violation while any other program (the clinical software, a copy over SMB) still holds the file
// open, which is the only reliable "writer has closed it" signal the OS offers. We hold the
// handle only for the few microseconds of the check, and only on a file that has been stable for
// the quiet window, so a writer that reopens it then would see a brief sharing violation at worst.
func openExclusive(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(longPath(path))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING,
		windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// longPath adds the \\?\ prefix that CreateFile needs for absolute paths near or past MAX_PATH
// (260) when the process is not long-path aware; the os package does the same internally.
// 248 is the limit for a directory part, the stricter of the two documented limits.
func longPath(path string) string {
	if len(path) < 248 || strings.HasPrefix(path, `\\?\`) || !filepath.IsAbs(path) {
		return path
	}
	path = filepath.Clean(path)
	if strings.HasPrefix(path, `\\`) {
		return `\\?\UNC\` + path[2:]
	}
	return `\\?\` + path
}
