//go:build !linux && !windows && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package account

import (
	"errors"
	"os"
)

func isTerminal(*os.File) bool { return false }

func noEcho(*os.File) (func(), error) { return nil, errors.New("no terminal support on this system") }
