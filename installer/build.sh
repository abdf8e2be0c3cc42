#!/usr/bin/env bash
# Builds both packages: installer/build.sh VERSION
#   dist/mssbridge_VERSION_amd64.deb  (installer/deb/build.sh)
#   dist/mssbridge-VERSION-x64.msi    (installer/msi/build.sh; VERSION must be x.y.z)
# then checks what each holds (dpkg-deb --info/--contents, msiinfo tables/export): a package
# missing its binary, unit, service or configuration fails the build.
set -euo pipefail
VERSION=${1:?usage: installer/build.sh VERSION}
cd "$(dirname "$0")/.."

deb=$(bash installer/deb/build.sh "$VERSION")
msi=$(bash installer/msi/build.sh "$VERSION")

fail() { echo "installer/build.sh: $*" >&2; exit 1; }

contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/mssbridge ./lib/systemd/system/mssbridge.service ./etc/mssbridge/mssbridge.yaml \
	./etc/mssbridge/mssbridge.yaml.example ./etc/logrotate.d/mssbridge; do
	grep -q " $f\$" <<<"$contents" || fail "$deb lacks $f"
done
conffiles=$(dpkg-deb --info "$deb" conffiles)
grep -qx /etc/mssbridge/mssbridge.yaml <<<"$conffiles" || fail "$deb: mssbridge.yaml is not a conffile"
for s in postinst prerm postrm; do dpkg-deb --info "$deb" "$s" >/dev/null || fail "$deb lacks $s"; done
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/mssbridge.service)
for l in "Restart=on-failure" "ProtectSystem=strict" "NoNewPrivileges=yes" "User=mssbridge" "ReadWritePaths=-/var/lib/mssbridge"; do
	grep -qx "$l" <<<"$unit" || fail "$deb: the unit lacks $l"
done

tables=$(msiinfo tables "$msi")
for t in File ServiceInstall ServiceControl CustomAction Registry; do
	grep -qx "$t" <<<"$tables" || fail "$msi has no $t table"
done
msiinfo export "$msi" File | grep -q $'^mssbridge.exe\t' || fail "$msi lacks mssbridge.exe"
msiinfo export "$msi" File | grep -q $'^mssbridge.yaml.example\t' || fail "$msi lacks the example configuration"
msiinfo export "$msi" ServiceInstall | grep -q $'\tmssbridge\t' || fail "$msi does not install the service"
ca=$(msiinfo export "$msi" CustomAction)
for a in ServiceRecovery PrinterInstall PrinterUninstall CopyConfig; do
	grep -q "^$a"$'\t' <<<"$ca" || fail "$msi lacks the custom action $a"
done
echo "$deb: $(du -h "$deb" | cut -f1), checked"
echo "$msi: $(du -h "$msi" | cut -f1), checked"
