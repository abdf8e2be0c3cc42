//go:build !unix

package hostile

func umask(m int) int { return m }
