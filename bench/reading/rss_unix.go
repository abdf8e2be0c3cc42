//go:build !windows

package main

import (
	"os"
	"syscall"
)

// maxRSSKB is a finished child's peak resident size (KiB on Linux).
func maxRSSKB(ps *os.ProcessState) int {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int(ru.Maxrss)
	}
	return 0
}
