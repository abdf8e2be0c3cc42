//go:build !windows

package safefile

// restrict is nil where the modes (DirMode, FileMode) already keep other users out.
var restrict func(dir string) error

// MakePrivate gives an existing folder the DACL of the folders MkdirAll creates on
// Windows (see privateSDDL). Elsewhere the modes do that job and it does nothing.
func MakePrivate(dir string) error { return nil }

// inheritRights has nothing to do where the folder's mode keeps other users out.
func inheritRights(path string) {}
