#!/usr/bin/env bash
# Sets up the receiving side of the loopback "MSSanté operator" for the integration tests:
# Dovecot serving the box's mailbox over IMAP, with mutual TLS like an operator's IMAP service.
#
#   ci/dovecot/setup.sh [DIR]        (root; default DIR: /tmp/mssbridge-ci)
#
# Runs after ci/postfix/setup.sh DIR, on Debian 12 with dovecot-imapd and openssl installed and
# no init system. It reuses that script's test PKI (DIR/ca.pem, server.pem/.key, client.pem/.key)
# and its vmail user and Maildir root. Idempotent: run it again and it keeps the box's password,
# rewrites the configuration, and starts or reloads Dovecot. It ends with checks (openssl
# s_client, Dovecot's LDA, swaks through Postfix) and writes DIR/dovecot.env, the variables the
# receive tests read; the file is removed first, so it exists only when every check passed.
#
# What it makes:
#   127.0.0.1:10993  IMAP, implicit TLS      TLS 1.2 or better; a client certificate from the
#   127.0.0.1:10143  IMAP, STARTTLS required  test CA is required (no CRL asked for)
#   login (a) AUTHENTICATE EXTERNAL: the certificate is the identity; its CN (the box address,
#             noreply-biologie@ch-exemple.mssante.fr) is the user; no password
#         (b) LOGIN or AUTHENTICATE PLAIN with the box's password (DIR/dovecot/imap-password),
#             still with the certificate: the user is the certificate's CN whatever is typed
#   mail      Maildir under the Maildir root of ci/postfix/setup.sh (/var/mail/vhosts/DOMAIN/LOCAL),
#             the very folders Postfix delivers into: whatever Postfix delivers to the box,
#             among them the DSNs for what the box sends, is in the box's INBOX; the tests
#             deliver with Dovecot's LDA (CI_DOVECOT_LDA) as well
#   log       /var/log/dovecot-mssbridge.log
set -euo pipefail

DIR=${1:-/tmp/mssbridge-ci}
TLS_PORT=10993
STARTTLS_PORT=10143
DOVECOT_LOG=/var/log/dovecot-mssbridge.log
LDA=/usr/lib/dovecot/dovecot-lda

say() { printf '== %s\n' "$*"; }
die() { printf 'dovecot/setup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it configures and starts Dovecot)"
for tool in dovecot doveadm doveconf openssl swaks; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see .ci/run for the package list)"
done
[ -x "$LDA" ] || die "$LDA is missing (package dovecot-core)"
[ -d "$DIR" ] || die "$DIR does not exist: run ci/postfix/setup.sh $DIR first"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR/dovecot.env" # written again at the end, once the checks pass

# What ci/postfix/setup.sh left: the PKI, the env file (Maildir root, box, ports), vmail.
for f in ca.pem server.pem server.key client.pem client.key rogue-client.pem rogue-client.key env; do
  [ -s "$DIR/$f" ] || die "$DIR/$f is missing: run ci/postfix/setup.sh $DIR first"
done
envget() { sed -n "s/^$1=//p" "$DIR/env" | tail -1 | sed 's/^"\(.*\)"$/\1/'; }
MAILDIR_ROOT=$(envget CI_MAILDIR_ROOT)
BOX_ADDRESS=$(envget CI_BOX_ADDRESS)
SMTP_PORT=$(envget CI_SMTP_STARTTLS_PORT)
POSTFIX_LOG=$(envget CI_POSTFIX_LOG)
[ -n "$MAILDIR_ROOT" ] && [ -n "$BOX_ADDRESS" ] && [ -n "$SMTP_PORT" ] || die "$DIR/env lacks CI_MAILDIR_ROOT, CI_BOX_ADDRESS or CI_SMTP_STARTTLS_PORT"
getent passwd vmail >/dev/null || die "no vmail user: run ci/postfix/setup.sh $DIR first"
VMAIL_UID=$(id -u vmail)
VMAIL_GID=$(id -g vmail)
getent passwd dovecot >/dev/null && getent passwd dovenull >/dev/null ||
  die "the dovecot and dovenull users are missing (package dovecot-core)"
cn=$(openssl x509 -noout -subject -nameopt multiline -in "$DIR/client.pem" | sed -n 's/^ *commonName *= *//p')
[ "$cn" = "$BOX_ADDRESS" ] || die "client.pem's CN is \"$cn\", not the box $BOX_ADDRESS"

# ---------------------------------------------------------------------------------------------
# 1. Our folder: configuration, the box's password (kept across runs), Dovecot's run and state
# folders (ours, so that a Dovecot of the system, if any, is left alone).
# ---------------------------------------------------------------------------------------------
DV="$DIR/dovecot"
CONF="$DV/dovecot.conf"
mkdir -p "$DV/run" "$DV/state"
chmod 0755 "$DV"
if [ ! -s "$DV/imap-password" ]; then
  say "making the box's IMAP password ($DV/imap-password)"
  (umask 077 && openssl rand -hex 16 >"$DV/imap-password")
fi
chmod 0600 "$DV/imap-password"
PASSWORD=$(tr -d '\r\n' <"$DV/imap-password")
# passwd-file for LOGIN/PLAIN: user:{SHA512-CRYPT}hash. The auth process runs as dovecot.
printf '%s:{SHA512-CRYPT}%s\n' "$BOX_ADDRESS" "$(openssl passwd -6 "$PASSWORD")" >"$DV/passwd.new"
chown root:dovecot "$DV/passwd.new"
chmod 0640 "$DV/passwd.new"
mv "$DV/passwd.new" "$DV/passwd"

DH=""
[ -s /usr/share/dovecot/dh.pem ] && DH="ssl_dh = </usr/share/dovecot/dh.pem"

say "writing $CONF"
cat >"$CONF.new" <<EOF
# mssbridge CI: the operator's IMAP service (written by ci/dovecot/setup.sh; rewritten each run)
instance_name = mssbridge-ci
base_dir = $DV/run
state_dir = $DV/state
protocols = imap
listen = 127.0.0.1
log_path = $DOVECOT_LOG
auth_verbose = yes
auth_verbose_passwords = no

# TLS: required on every connection (implicit, or STARTTLS before any login), 1.2 or better,
# a client certificate from the test CA required and its CN taken as the user name.
ssl = required
ssl_cert = <$DIR/server.pem
ssl_key = <$DIR/server.key
ssl_ca = <$DIR/ca.pem
ssl_verify_client_cert = yes
# Without a CRL Dovecot calls every client certificate "not valid" unless told not to ask.
ssl_require_crl = no
ssl_min_protocol = TLSv1.2
ssl_cert_username_field = commonName
$DH
disable_plaintext_auth = yes
auth_ssl_require_client_cert = yes
auth_ssl_username_from_cert = yes
auth_mechanisms = external plain login

# (a) EXTERNAL: the verified certificate is the identity, no password (Dovecot's EXTERNAL checks
# an empty password, hence nopassword, and only for that mechanism).
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
# (b) LOGIN / PLAIN: the box's password, on top of the certificate.
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%Lu $DV/passwd
  mechanisms = plain login
}
# Any user the certificate names has a Maildir where Postfix delivers its mail.
userdb {
  driver = static
  args = uid=$VMAIL_UID gid=$VMAIL_GID home=$MAILDIR_ROOT/%Ld/%Ln allow_all_users=yes
}
first_valid_uid = $VMAIL_UID
first_valid_gid = $VMAIL_GID
mail_location = maildir:$MAILDIR_ROOT/%Ld/%Ln
namespace inbox {
  inbox = yes
  separator = /
}
mail_max_userip_connections = 100
postmaster_address = postmaster@ch-exemple.mssante.fr
# The tests' LDA may deliver into a folder of their own (-m NAME).
lda_mailbox_autocreate = yes

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $STARTTLS_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $TLS_PORT
    ssl = yes
  }
}
# The LDA and doveadm (root) ask the userdb through this socket.
service auth {
  unix_listener auth-userdb {
    mode = 0600
    user = root
  }
}
EOF
mv "$CONF.new" "$CONF"
touch "$DOVECOT_LOG"
doveconf -c "$CONF" -n >/dev/null || die "doveconf refuses $CONF"

# ---------------------------------------------------------------------------------------------
# 2. Start, or reload when ours is running.
# ---------------------------------------------------------------------------------------------
running() { [ -s "$DV/run/master.pid" ] && kill -0 "$(cat "$DV/run/master.pid")" 2>/dev/null; }
# Dovecot's daemons keep the standard output and error they were started with: started inside
# a pipe (.ci/run tees every step) they would hold it open, and the reader would wait for ever.
if running; then
  say "reloading Dovecot (pid $(cat "$DV/run/master.pid"))"
  dovecot -c "$CONF" reload </dev/null >"$DV/start.out" 2>&1 || { cat "$DV/start.out" >&2; die "dovecot reload failed"; }
else
  say "starting Dovecot"
  dovecot -c "$CONF" </dev/null >"$DV/start.out" 2>&1 || { cat "$DV/start.out" >&2; die "dovecot did not start"; }
fi
wait_port() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  tail -20 "$DOVECOT_LOG" >&2 || true
  die "Dovecot does not listen on 127.0.0.1:$1 (see $DOVECOT_LOG)"
}
wait_port "$TLS_PORT"
wait_port "$STARTTLS_PORT"

# ---------------------------------------------------------------------------------------------
# 3. Checks, for real.
# ---------------------------------------------------------------------------------------------
# imap MODE(tls|starttls) CERT KEY LINE...: one IMAP session through openssl s_client, one
# command line every 0.3 s; the transcript in $out.
imap() {
  local mode=$1 cert=$2 key=$3 port args line
  shift 3
  if [ "$mode" = tls ]; then port=$TLS_PORT; else port=$STARTTLS_PORT; fi
  args=(-quiet -ign_eof -connect "127.0.0.1:$port" -CAfile "$DIR/ca.pem" -verify_return_error
        -verify_hostname localhost)
  [ "$mode" = starttls ] && args+=(-starttls imap)
  [ -n "$cert" ] && args+=(-cert "$cert" -key "$key")
  out=$({ sleep 0.5; for line in "$@"; do printf '%s\r\n' "$line"; sleep 0.3; done; sleep 0.5; } |
        timeout 20 openssl s_client "${args[@]}" 2>&1) || true
}
failures=0
ok() { say "ok   $*"; }
fail() { say "FAIL $*"; echo "$out" | tail -15; failures=$((failures + 1)); }

imap tls "$DIR/client.pem" "$DIR/client.key" "a AUTHENTICATE EXTERNAL =" "b SELECT INBOX" "c LOGOUT"
if echo "$out" | grep -q '^a OK' && echo "$out" | grep -q '^b OK'; then
  ok "tls/$TLS_PORT: client certificate + AUTHENTICATE EXTERNAL -> logged in as $BOX_ADDRESS"
else fail "tls/$TLS_PORT: EXTERNAL with the client certificate"; fi

imap starttls "$DIR/client.pem" "$DIR/client.key" "a AUTHENTICATE EXTERNAL =" "b SELECT INBOX" "c LOGOUT"
if echo "$out" | grep -q '^a OK' && echo "$out" | grep -q '^b OK'; then
  ok "starttls/$STARTTLS_PORT: client certificate + AUTHENTICATE EXTERNAL -> logged in"
else fail "starttls/$STARTTLS_PORT: EXTERNAL with the client certificate"; fi

imap starttls "$DIR/client.pem" "$DIR/client.key" "a LOGIN \"$BOX_ADDRESS\" \"$PASSWORD\"" "b SELECT INBOX" "c LOGOUT"
if echo "$out" | grep -q '^a OK' && echo "$out" | grep -q '^b OK'; then
  ok "starttls/$STARTTLS_PORT: client certificate + LOGIN with the password -> logged in"
else fail "starttls/$STARTTLS_PORT: LOGIN with the certificate and the password"; fi

imap tls "$DIR/client.pem" "$DIR/client.key" "a LOGIN \"$BOX_ADDRESS\" \"$PASSWORD\"" "c LOGOUT"
if echo "$out" | grep -q '^a OK'; then
  ok "tls/$TLS_PORT: client certificate + LOGIN with the password -> logged in"
else fail "tls/$TLS_PORT: LOGIN with the certificate and the password"; fi

imap tls "$DIR/client.pem" "$DIR/client.key" "a LOGIN \"$BOX_ADDRESS\" \"not-$PASSWORD\"" "c LOGOUT"
if echo "$out" | grep -q '^a NO'; then ok "wrong password -> refused ($(echo "$out" | grep '^a NO' | head -1 | tr -d '\r'))"
else fail "a wrong password was not refused"; fi

imap tls "" "" "a AUTHENTICATE EXTERNAL =" "b LOGIN \"$BOX_ADDRESS\" \"$PASSWORD\"" "c LOGOUT"
if ! echo "$out" | grep -q '^a OK' && ! echo "$out" | grep -q '^b OK'; then
  ok "no client certificate -> EXTERNAL and LOGIN refused"
else fail "logged in without a client certificate"; fi

imap tls "$DIR/rogue-client.pem" "$DIR/rogue-client.key" "a AUTHENTICATE EXTERNAL =" "b LOGIN \"$BOX_ADDRESS\" \"$PASSWORD\"" "c LOGOUT"
if ! echo "$out" | grep -q '^a OK' && ! echo "$out" | grep -q '^b OK'; then
  ok "certificate of another CA -> refused"
else fail "logged in with the rogue certificate"; fi

# Plain IMAP on the STARTTLS port: no login before STARTTLS. Dovecot counts a loopback
# connection as "secured" and so does not advertise LOGINDISABLED here, but without TLS there
# is no client certificate, and the certificate is required: the login fails all the same.
out=$({ exec 3<>"/dev/tcp/127.0.0.1/$STARTTLS_PORT"
        { sleep 0.5; printf 'a LOGIN "%s" "%s"\r\nb LOGOUT\r\n' "$BOX_ADDRESS" "$PASSWORD"; } >&3
        timeout 10 cat <&3; } 2>&1) || true
if echo "$out" | grep -q '^a NO' && ! echo "$out" | grep -q '^a OK'; then
  ok "LOGIN in clear before STARTTLS -> refused ($(echo "$out" | grep '^a NO' | head -1 | tr -d '\r'))"
else fail "login in clear was not refused"; fi

if out=$(timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_1 -CAfile "$DIR/ca.pem" </dev/null 2>&1) &&
   echo "$out" | grep -q 'Protocol *: TLSv1.1'; then
  fail "TLS 1.1 accepted"
else ok "TLS 1.1 refused"; fi

USER_Q=(-u "$BOX_ADDRESS")
stamp=$(date +%s)-$$
# The LDA, as the tests use it, into a folder of its own (a bridge running on INBOX ignores it).
probe_box="ci-setup-probe"
printf 'From: setup@ch-exemple.mssante.fr\r\nTo: %s\r\nSubject: lda probe %s\r\nMessage-ID: <lda-%s@ci.mssbridge.test>\r\n\r\nprobe\r\n' \
  "$BOX_ADDRESS" "$stamp" "$stamp" | "$LDA" -c "$CONF" -d "$BOX_ADDRESS" -m "$probe_box" ||
  { out="dovecot-lda exited $?"; fail "dovecot-lda"; }
if doveadm -c "$CONF" search "${USER_Q[@]}" mailbox "$probe_box" header Message-ID "<lda-$stamp@ci.mssbridge.test>" | grep -q .; then
  ok "dovecot-lda -d $BOX_ADDRESS: delivered (seen by doveadm search)"
else out=""; fail "the LDA's probe is not in $probe_box"; fi
doveadm -c "$CONF" mailbox delete "${USER_Q[@]}" -s "$probe_box" >/dev/null 2>&1 || true

# Postfix -> the box: a message to the box, and a bounce (a DSN) for a message the box sent to
# bounce*@. Both must be in the box's INBOX. The probes are expunged afterwards.
wait_search() { # wait_search SEARCH-ARGS... (30 s at most)
  local i
  for i in $(seq 1 150); do
    doveadm -c "$CONF" search "${USER_Q[@]}" mailbox INBOX "$@" 2>/dev/null | grep -q . && return 0
    sleep 0.2
  done
  return 1
}
swaks_probe() { # swaks_probe TO SUBJECT
  out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --tls --tls-ca-path "$DIR/ca.pem" --tls-verify \
    --tls-cert "$DIR/client.pem" --tls-key "$DIR/client.key" --ehlo ci.mssbridge.test \
    --from "$BOX_ADDRESS" --to "$1" --header "Subject: $2" --body "dovecot/setup.sh probe" --timeout 20 2>&1) || true
}
swaks_probe "$BOX_ADDRESS" "postfix to dovecot probe $stamp"
if echo "$out" | grep -q 'Ok: queued' && wait_search header Subject "postfix to dovecot probe $stamp"; then
  ok "Postfix -> $BOX_ADDRESS: in the box's INBOX over IMAP"
else fail "mail sent through Postfix to the box did not reach its INBOX"; fi
swaks_probe "bounce-setup-$stamp@medecin.mssante.fr" "bounce probe $stamp"
if echo "$out" | grep -q 'Ok: queued' && wait_search text "bounce probe $stamp" header Content-Type "report-type=delivery-status"; then
  ok "bounce*: accepted, then bounced; the DSN is in the box's INBOX"
else fail "no failure DSN in the box's INBOX for bounce-setup-$stamp@ (Postfix log: $POSTFIX_LOG)"; fi
for s in "postfix to dovecot probe $stamp" "bounce probe $stamp"; do
  doveadm -c "$CONF" expunge "${USER_Q[@]}" mailbox INBOX text "$s" >/dev/null 2>&1 || true
done

if [ "$failures" != 0 ]; then
  tail -30 "$DOVECOT_LOG" >&2 || true
  die "$failures check(s) failed"
fi

# ---------------------------------------------------------------------------------------------
# 4. The env file of the receive tests (KEY=value, also fine to `source`).
# ---------------------------------------------------------------------------------------------
cat >"$DIR/dovecot.env.new" <<EOF
# Written by ci/dovecot/setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)
CI_IMAP_HOST=127.0.0.1
CI_IMAP_TLS_PORT=$TLS_PORT
CI_IMAP_STARTTLS_PORT=$STARTTLS_PORT
# The box: EXTERNAL with CI_CLIENT_CERT, or LOGIN as this user with the password in the file.
CI_IMAP_USER=$BOX_ADDRESS
CI_IMAP_PASSWORD_FILE=$DV/imap-password
CI_IMAP_MAILDIR=$MAILDIR_ROOT/${BOX_ADDRESS#*@}/${BOX_ADDRESS%@*}
CI_DOVECOT_CONF=$CONF
CI_DOVECOT_LDA=$LDA
CI_DOVECOT_LOG=$DOVECOT_LOG
EOF
mv "$DIR/dovecot.env.new" "$DIR/dovecot.env"
say "Dovecot ready: tls 127.0.0.1:$TLS_PORT, starttls 127.0.0.1:$STARTTLS_PORT; env in $DIR/dovecot.env; log $DOVECOT_LOG"
