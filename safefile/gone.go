package safefile

import (
	"errors"
	"io/fs"
)

// IsGone reports whether err says that a path is not there any more, its folder's share or
// drive included: not found, and on Windows the network-path and device errors Go does not
// map to fs.ErrNotExist (a share whose server went away, a network drive disconnected).
func IsGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || isGoneOS(err)
}
