#!/bin/sh
# Postfix pipe(8) delivery for the CI operator: the message on stdin goes to the Maildir
# ROOT/DOMAIN/LOCAL/ (tmp/, then renamed into new/, so a reader never sees half a file).
# setup.sh installs it as the transport of the virtual mailbox domains, because virtual(8)
# refuses $1-style substitutions from a regexp map, and we want one Maildir per local part
# without listing the local parts.
#
#   deliver-maildir.sh ROOT RECIPIENT        (run by Postfix as user vmail)
#
# Exit codes are sysexits(3), which pipe(8) turns into bounce (67) or retry (75). Local parts
# bounce* are always bounced (67): the CI's way to get a real failure DSN after acceptance.
set -u
root=$1
rcpt=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')
local_part=${rcpt%@*}
domain=${rcpt##*@}
case "$local_part/$domain" in
  */*/*|.*|*/.*|"/"*|*"/") echo "bad recipient $rcpt" >&2; exit 67 ;;
esac
[ "$local_part@$domain" = "$rcpt" ] || { echo "bad recipient $rcpt" >&2; exit 67; }
# bounce*: accepted at RCPT (the client gets its 250), refused here, after queueing: Postfix
# then bounces the message to its sender with a DSN (5.1.1, the text below as the diagnostic).
case "$local_part" in
  bounce*) echo "mailbox unavailable (mssbridge CI: bounce*)" >&2; exit 67 ;;
esac
box="$root/$domain/$local_part"
mkdir -p "$box/tmp" "$box/new" "$box/cur" || exit 75
name="$(date +%s).M$(date +%N)P$$.$(hostname 2>/dev/null || echo ci)"
cat >"$box/tmp/$name" || { rm -f "$box/tmp/$name"; exit 75; }
size=$(wc -c <"$box/tmp/$name" | tr -d ' ')
mv "$box/tmp/$name" "$box/new/$name,S=$size" || exit 75
exit 0
