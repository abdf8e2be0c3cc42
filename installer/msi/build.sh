#!/usr/bin/env bash
# Builds the MSI: installer/msi/build.sh VERSION -> dist/mssbridge-VERSION-x64.msi
# From installer/mssbridge.wxs (WiX 3) with wixl (Debian: apt-get install wixl msitools), the
# Windows binary cross-built here and installer/msi/mssbridge.yaml as the example
# configuration. VERSION is the MSI's ProductVersion: three numbers (major.minor.build).
set -euo pipefail
umask 022

VERSION=${1:?usage: installer/msi/build.sh VERSION}
[[ $VERSION =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,5}$ ]] || { echo "build.sh: version $VERSION: an MSI needs major.minor.build (numbers)" >&2; exit 2; }
command -v wixl >/dev/null || { echo "build.sh: wixl not found (apt-get install wixl msitools)" >&2; exit 2; }

cd "$(dirname "$0")/../.."
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
	-o "$STAGE/mssbridge.exe" ./cmd/mssbridge
cp installer/msi/mssbridge.yaml "$STAGE/mssbridge.yaml"

mkdir -p dist
OUT=$PWD/dist/mssbridge-$VERSION-x64.msi
WXS=$PWD/installer/mssbridge.wxs
# wixl resolves File/@Source against the folder it runs in.
(cd "$STAGE" && wixl -a x64 -D Version="$VERSION" -o "$OUT" "$WXS")
echo "dist/mssbridge-$VERSION-x64.msi"
