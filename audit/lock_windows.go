//go:build windows

package audit

import (
	"os"

	"golang.org/x/sys/windows"
)

// Windows byte-range locks are mandatory: lock one byte far past any journal's end, so
// that readers (Verify, backups) and the appended lines are never inside the range.
const lockOffsetHigh = 0x7fffffff

// lockFile takes an exclusive LockFileEx lock on f, waiting for it, and returns its
// release. Locks belong to the handle, so two Journals in one process exclude each other.
func lockFile(f *os.File) (func(), error) {
	h := windows.Handle(f.Fd())
	ol := &windows.Overlapped{OffsetHigh: lockOffsetHigh}
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol); err != nil {
		return nil, err
	}
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, &windows.Overlapped{OffsetHigh: lockOffsetHigh})
	}, nil
}
