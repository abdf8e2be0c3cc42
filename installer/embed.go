// Package installer holds what installs mssbridge as hospital software: the systemd unit
// (used by "mssbridge service install"), and later the MSI and Debian package sources.
package installer

import _ "embed"

// SystemdUnit is the unit template given to kardianos/service.
//
//go:embed mssbridge.service
var SystemdUnit string
