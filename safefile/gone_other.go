//go:build !windows

package safefile

func isGoneOS(error) bool { return false }
