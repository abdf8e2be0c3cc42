//go:build !linux

package service

// PrepareAccount is Linux only: on Windows the account is given to the service manager
// (--user .\name or "NT AUTHORITY\LocalService", --password-file), on macOS launchd runs the
// service as root unless a user is named.
func PrepareAccount(Account) ([]string, error) { return nil, nil }
