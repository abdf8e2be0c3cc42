#!/usr/bin/env bash
# Builds the Debian package: installer/deb/build.sh VERSION [ARCH]
#   -> dist/mssbridge_VERSION_ARCH.deb (ARCH: amd64 by default, or arm64)
# Contents: /usr/bin/mssbridge, /lib/systemd/system/mssbridge.service (the hardened unit for
# the package's folders), /etc/mssbridge/mssbridge.yaml and .yaml.example (conffiles: kept on
# remove, asked about on upgrade), /etc/logrotate.d/mssbridge; postinst makes the system user
# and its folders (0700). Needs go and dpkg-deb.
set -euo pipefail
umask 022

VERSION=${1:?usage: installer/deb/build.sh VERSION [ARCH]}
ARCH=${2:-amd64}
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build.sh: version $VERSION: must start with a digit (Debian)" >&2; exit 2; }
case $ARCH in amd64 | arm64) ;; *) echo "build.sh: arch $ARCH: amd64 or arm64" >&2; exit 2 ;; esac

cd "$(dirname "$0")/../.."
HERE=installer/deb
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
mkdir -p "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" "$ROOT/etc/mssbridge" \
	"$ROOT/etc/logrotate.d" "$ROOT/usr/share/doc/mssbridge"

GOOS=linux GOARCH=$ARCH CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
	-o "$ROOT/usr/bin/mssbridge" ./cmd/mssbridge
go run ./installer/unitgen -exec /usr/bin/mssbridge -config /etc/mssbridge/mssbridge.yaml -user mssbridge \
	-rw /var/lib/mssbridge,/var/spool/mssbridge,/var/log/mssbridge,/srv/dui \
	>"$ROOT/lib/systemd/system/mssbridge.service"
install -m 0644 config.example.yaml "$ROOT/etc/mssbridge/mssbridge.yaml.example"
install -m 0644 config.example.yaml "$ROOT/etc/mssbridge/mssbridge.yaml"
install -m 0644 "$HERE/logrotate" "$ROOT/etc/logrotate.d/mssbridge"
for f in postinst prerm postrm; do install -m 0755 "$HERE/$f" "$ROOT/DEBIAN/$f"; done
printf '%s\n' /etc/mssbridge/mssbridge.yaml /etc/mssbridge/mssbridge.yaml.example /etc/logrotate.d/mssbridge \
	>"$ROOT/DEBIAN/conffiles"
[ -f README.md ] && gzip -9n <README.md >"$ROOT/usr/share/doc/mssbridge/README.md.gz"
chmod 0755 "$ROOT/usr/bin/mssbridge"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" "$HERE/control.in" >"$ROOT/DEBIAN/control"

mkdir -p dist
OUT=dist/mssbridge_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$OUT" >/dev/null
echo "$OUT"
