package watcher

import (
	"path/filepath"
	"strings"
)

// ignoredSuffixes are the endings of files that some program is still writing and will rename
// when done (browsers, copy tools, Office): they are never documents in their own right.
var ignoredSuffixes = []string{".tmp", ".part", ".crdownload", ".partial"}

// ignoredNames are files the operating system itself drops into folders.
var ignoredNames = []string{"thumbs.db", "desktop.ini"}

// Ignored reports whether a file name is never a document to capture: hidden files (".x", which
// covers macOS "._x", ".DS_Store" and LibreOffice ".~lock.x#"), Office lock files ("~$x"),
// files still being written under a temporary name (*.tmp, *.part, *.crdownload, *.partial) and
// Windows' Thumbs.db and desktop.ini. Case is ignored. name may be a bare name or a path; only its
// last element counts. Directories are not named here: the watcher skips them by type.
//
// It is exported so that every capture path (folders, the print listener) applies the same rule.
func Ignored(name string) bool {
	base := filepath.Base(name)
	if base == "" || base == "." || base == ".." || base == string(filepath.Separator) {
		return true
	}
	if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "~$") {
		return true
	}
	lower := strings.ToLower(base)
	for _, s := range ignoredSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	for _, n := range ignoredNames {
		if lower == n {
			return true
		}
	}
	return false
}
