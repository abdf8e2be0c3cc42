// Package installer holds what installs mssbridge as hospital software: the systemd unit
// (rendered by "mssbridge service install" and by the Debian package build), the Debian
// package and MSI build scripts (deb/, msi/, build.sh) and the WiX source (mssbridge.wxs).
package installer

import _ "embed"

// SystemdUnit is the unit template; RenderSystemdUnit fills it.
//
//go:embed mssbridge.service
var SystemdUnit string
