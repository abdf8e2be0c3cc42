//go:build unix

package hostile

import "syscall"

func umask(m int) int { return syscall.Umask(m) }
