#!/usr/bin/env bash
# Lets one deferring recipient (defer*@…, which ci/postfix/setup.sh makes answer
# 450 4.2.0 at RCPT) through from now on: the next delivery attempt is accepted.
#
#   ci/postfix/flip-defer.sh ADDRESS...      (root)
#
# The address goes into the hash map checked before the defer rule, and Postfix reloads (it
# keeps its listening sockets: no connection is refused meanwhile). Every new SMTP connection
# gets the new answer; a session already open finishes with the tables its smtpd process
# opened, so a client that keeps one connection open across retries still sees 450.
set -euo pipefail
CONF=/etc/postfix/mssbridge
[ $# -ge 1 ] || { echo "usage: $0 ADDRESS..." >&2; exit 2; }
[ -d "$CONF" ] || { echo "$0: $CONF missing: run ci/postfix/setup.sh first" >&2; exit 1; }
for addr in "$@"; do
  case $addr in
    *@*) ;;
    *) echo "$0: not an address: $addr" >&2; exit 2 ;;
  esac
  addr=$(printf '%s' "$addr" | tr '[:upper:]' '[:lower:]')
  grep -qxF "$addr OK" "$CONF/flips" 2>/dev/null || printf '%s OK\n' "$addr" >>"$CONF/flips"
done
postmap "hash:$CONF/flips"
postfix reload >/dev/null 2>&1
echo "flipped: $* now accepted"
