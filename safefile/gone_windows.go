package safefile

import (
	"errors"
	"syscall"
)

// Windows errors for a path whose share or device went away.
var goneErrnos = []syscall.Errno{
	21, // ERROR_NOT_READY: a removable or network drive not ready
	55, // ERROR_DEV_NOT_EXIST: the network resource is no longer available
	59, // ERROR_UNEXP_NET_ERR
	64, // ERROR_NETNAME_DELETED: the share's server went away
	67, // ERROR_BAD_NET_NAME: the share name is not found
}

func isGoneOS(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	for _, g := range goneErrnos {
		if errno == g {
			return true
		}
	}
	return false
}
