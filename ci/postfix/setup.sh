#!/usr/bin/env bash
# Sets up a loopback "MSSanté operator" for the integration tests: a test PKI made with
# openssl, and Postfix configured the way an operator's submission service is (mutual TLS,
# TLS 1.2 or better, virtual mailboxes for a few *.mssante.fr domains, DSN), plus recipient
# rules that reject (5xx) or defer (4xx) on demand.
#
#   ci/postfix/setup.sh [DIR]        (root; default DIR: /tmp/mssbridge-ci)
#
# Runs on Debian 12 with postfix, openssl and swaks installed and no init system. Idempotent:
# run it again and it keeps the certificates it made, rewrites the configuration, and starts or
# reloads Postfix. It ends with a check by swaks (good certificate delivered; no certificate and
# a rogue certificate refused) and writes DIR/env, the variables the Go tests read.
#
# Recipients (any domain below, any local part):
#   reject*@…   550 5.1.1 at RCPT
#   defer*@…    450 4.2.0 at RCPT, until ci/postfix/flip-defer.sh ADDRESS lets that one through
#   slow*@…     delivered, but the 250 after DATA comes 1 s late (the message is queued before
#               the pause, so a client killed meanwhile has sent it without knowing: the case
#               that makes duplicates)
#   bounce*@…   accepted at RCPT (250), then bounced at delivery: a failure DSN goes back to the
#               sender (deliver-maildir.sh exits 67)
#   anything else is delivered to /var/mail/vhosts/DOMAIN/LOCAL/ (Maildir: new/ holds the mail).
# Other domains: *.mssante.fr ones are refused at RCPT (554: no such operator here), others
# (outside the trust space) are refused with 554 as well, and the log shows the attempt.
set -euo pipefail

DIR=${1:-/tmp/mssbridge-ci}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Ports are above 10000 so that nothing else on a developer's machine is in the way.
STARTTLS_PORT=10587
TLS_PORT=10465
DOMAINS="medecin.mssante.fr ch-exemple.mssante.fr chu-exemple.mssante.fr patient.mssante.fr"
BOX_ADDRESS=noreply-biologie@ch-exemple.mssante.fr
MAILDIR_ROOT=/var/mail/vhosts
POSTFIX_LOG=/var/log/postfix-mssbridge.log # must sit under maillog_file_prefixes (/var)
CONF=/etc/postfix/mssbridge # our own maps
VMAIL_UID=5000

say() { printf '== %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it configures and starts Postfix)"
for tool in openssl postfix postconf postmap swaks; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see .ci/run for the package list)"
done

mkdir -p "$DIR"
chmod 0755 "$DIR"
DIR=$(cd "$DIR" && pwd)

# ---------------------------------------------------------------------------------------------
# 1. The test PKI. RSA 2048 like the IGC-Santé software certificates. Kept across runs when it
# is still consistent (a test in flight keeps working while setup.sh runs again).
# ---------------------------------------------------------------------------------------------
pki_ok() {
  local f
  for f in ca.pem ca.key server.pem server.key client.pem client.key \
           rogue-ca.pem rogue-ca.key rogue-client.pem rogue-client.key; do
    [ -s "$DIR/$f" ] || return 1
  done
  openssl verify -CAfile "$DIR/ca.pem" -purpose sslserver "$DIR/server.pem" >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$DIR/ca.pem" -purpose sslclient "$DIR/client.pem" >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$DIR/rogue-ca.pem" -purpose sslclient "$DIR/rogue-client.pem" >/dev/null 2>&1 || return 1
  # still valid for a day at least
  openssl x509 -checkend 86400 -noout -in "$DIR/client.pem" >/dev/null 2>&1 || return 1
  openssl x509 -checkend 86400 -noout -in "$DIR/server.pem" >/dev/null 2>&1 || return 1
}

# make_ca NAME "SUBJECT"
make_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$DIR/$1.key" -out "$DIR/$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# make_leaf NAME CA "SUBJECT" EXTENSIONS...
make_leaf() {
  local name=$1 ca=$2 subj=$3 ext
  shift 3
  ext=$(mktemp)
  printf '%s\n' "$@" >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$DIR/$name.key" \
    -out "$DIR/$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -sha256 -days 825 -in "$DIR/$name.csr" \
    -CA "$DIR/$ca.pem" -CAkey "$DIR/$ca.key" -set_serial "0x$(openssl rand -hex 12)" \
    -extfile "$ext" -out "$DIR/$name.pem" 2>/dev/null
  rm -f "$ext" "$DIR/$name.csr"
}

if pki_ok; then
  say "test PKI in $DIR is in place, kept"
else
  say "making the test PKI in $DIR"
  make_ca ca "/C=FR/O=mssbridge CI/OU=Operateur de test/CN=mssbridge CI test CA"
  make_leaf server ca "/C=FR/O=mssbridge CI/CN=localhost" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
  make_leaf client ca "/C=FR/O=CH Exemple/OU=Biologie/CN=$BOX_ADDRESS" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth" \
    "subjectAltName=email:$BOX_ADDRESS"
  make_ca rogue-ca "/C=FR/O=Rogue/CN=Rogue CA (not trusted by the operator)"
  make_leaf rogue-client rogue-ca "/C=FR/O=Rogue/CN=$BOX_ADDRESS" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth" \
    "subjectAltName=email:$BOX_ADDRESS"
  chmod 0600 "$DIR"/*.key
  chmod 0644 "$DIR"/*.pem
  pki_ok || die "the PKI just made does not verify"
fi

# ---------------------------------------------------------------------------------------------
# 2. Postfix. main.cf from Debian's template (the package leaves none with "No configuration").
# ---------------------------------------------------------------------------------------------
say "configuring Postfix"
getent group vmail >/dev/null || groupadd -g "$VMAIL_UID" vmail
getent passwd vmail >/dev/null || useradd -u "$VMAIL_UID" -g vmail -d "$MAILDIR_ROOT" -M -s /usr/sbin/nologin vmail
VMAIL_UID=$(id -u vmail)
mkdir -p "$MAILDIR_ROOT"
chown vmail:vmail "$MAILDIR_ROOT"
chmod 0755 "$MAILDIR_ROOT"

mkdir -p "$CONF"
cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
[ -f /etc/postfix/master.cf ] || cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf

# Any local part of our domains is a mailbox. The map only says "exists" (smtpd's recipient
# check); delivery is the pipe transport below, into ROOT/DOMAIN/LOCAL/ as a Maildir: virtual(8)
# refuses a regexp map's $1 substitutions, and we do not want to list the local parts.
cat >"$CONF/vmailbox.regexp" <<'EOF'
/^[^@]+@[^@]+$/	exists
EOF
install -m 0755 "$HERE/deliver-maildir.sh" "$CONF/deliver-maildir.sh"
# Installed beside the maps it edits, so the env file outlives the checkout that ran setup.sh.
install -m 0755 "$HERE/flip-defer.sh" "$CONF/flip-defer.sh"

# What the tests steer: rejects and deferrals at RCPT time (synchronous, logged as NOQUEUE).
cat >"$CONF/recipient_access.regexp" <<'EOF'
# mssbridge CI recipient rules (ci/postfix/setup.sh). The first match wins.
/^reject[^@]*@/	550 5.1.1 Recipient address unknown (mssbridge CI: reject*)
/^defer[^@]*@/	450 4.2.0 Mailbox temporarily unavailable (mssbridge CI: defer*)
EOF

# Outside our domains. *.mssante.fr elsewhere: no such operator here; anything else is outside
# the trust space. Both 554 so a bridge that sends there is caught, and the log records it.
cat >"$CONF/domains.regexp" <<EOF
$(for d in $DOMAINS; do printf '/@%s$/\tDUNNO\n' "${d//./\\.}"; done)
/@([a-z0-9-]+\\.)*mssante\\.fr\$/	554 5.1.2 No such MSSante operator here (mssbridge CI)
/./	554 5.7.1 Outside the MSSante trust space (mssbridge CI)
EOF

# Slow acceptance: a pause at end of data, after Postfix has the message, before it says 250.
cat >"$CONF/slow.regexp" <<'EOF'
/^slow[^@]*@/	sleep 1
EOF

# Deferring recipients let through by flip-defer.sh (hash: smtpd notices a new .db by itself;
# flip-defer.sh reloads as well). Kept across runs, emptied here so every run starts alike.
: >"$CONF/flips"
postmap "hash:$CONF/flips"

pc() { postconf -e "$@"; }
pc "myhostname = smtp.ci-operateur.mssante.test" \
   "mydomain = ci-operateur.mssante.test" \
   "myorigin = \$myhostname" \
   "mydestination =" \
   "local_recipient_maps =" \
   "alias_maps =" \
   "alias_database =" \
   "relayhost =" \
   "relay_domains =" \
   "mynetworks = 127.0.0.0/8" \
   "inet_interfaces = loopback-only" \
   "inet_protocols = ipv4" \
   "smtputf8_enable = no" \
   "compatibility_level = 3.6"
# Nothing leaves this machine: mail for any other transport bounces at once.
pc "default_transport = error:mssbridge CI sends nothing off this machine" \
   "relay_transport = error:mssbridge CI sends nothing off this machine"
# Virtual mailboxes.
pc "virtual_mailbox_domains = $DOMAINS" \
   "virtual_mailbox_base = $MAILDIR_ROOT" \
   "virtual_mailbox_maps = regexp:$CONF/vmailbox.regexp" \
   "virtual_transport = mssbridge-maildir" \
   "mssbridge-maildir_destination_recipient_limit = 1" \
   "virtual_mailbox_limit = 0" \
   "mailbox_size_limit = 0"
# Large documents: 100 MB (operators cap lower; the bridge's own cap is what the tests exercise).
pc "message_size_limit = 104857600"
# Logging to a file: postlogd (the postlog service of master.cf) writes it.
pc "maillog_file = $POSTFIX_LOG" \
   "maillog_file_prefixes = /var, /dev/stdout"
# TLS, server side. The CA file is what client certificates are verified against.
pc "smtpd_tls_cert_file = $DIR/server.pem" \
   "smtpd_tls_key_file = $DIR/server.key" \
   "smtpd_tls_CAfile = $DIR/ca.pem" \
   "smtpd_tls_CApath =" \
   "smtpd_tls_security_level = may" \
   "smtpd_tls_protocols = >=TLSv1.2" \
   "smtpd_tls_mandatory_protocols = >=TLSv1.2" \
   "smtpd_tls_loglevel = 1" \
   "smtpd_tls_received_header = yes" \
   "smtpd_tls_session_cache_database =" \
   "smtp_tls_security_level = none"
# Restrictions: relaying only for a verified client certificate; then the recipient rules.
pc "smtpd_relay_restrictions = permit_tls_all_clientcerts, reject" \
   "smtpd_recipient_restrictions = check_recipient_access hash:$CONF/flips, check_recipient_access regexp:$CONF/domains.regexp, check_recipient_access regexp:$CONF/recipient_access.regexp, permit" \
   "smtpd_end_of_data_restrictions = check_recipient_access regexp:$CONF/slow.regexp" \
   "smtpd_helo_required = yes" \
   "smtpd_delay_reject = yes"

# The two ports differ in one respect: STARTTLS (smtpd_tls_CAfile) names the acceptable CAs
# in its certificate request, implicit TLS (smtpd_tls_CApath) names none. A client holding
# only a certificate of another CA (Go's crypto/tls, for one) sends nothing to the first and
# its certificate to the second: Postfix then says "No client certificate presented" or
# "Client certificate not trusted", and the tests see both.
mkdir -p "$DIR/capath"
rm -f "$DIR/capath"/*
cp "$DIR/ca.pem" "$DIR/capath/ca.pem"
openssl rehash "$DIR/capath" >/dev/null 2>&1 || c_rehash "$DIR/capath" >/dev/null

# master.cf: no port 25; our two listeners; no chroot (Debian's chroot needs files its init
# script copies, and there is no init script running here).
postconf -MX smtp/inet 2>/dev/null || true
postconf -M "127.0.0.1:$STARTTLS_PORT/inet = 127.0.0.1:$STARTTLS_PORT inet n - n - - smtpd"
postconf -P "127.0.0.1:$STARTTLS_PORT/inet/syslog_name=postfix/submission" \
            "127.0.0.1:$STARTTLS_PORT/inet/smtpd_tls_security_level=encrypt" \
            "127.0.0.1:$STARTTLS_PORT/inet/smtpd_tls_ask_ccert=yes" \
            "127.0.0.1:$STARTTLS_PORT/inet/smtpd_tls_req_ccert=yes"
postconf -M "127.0.0.1:$TLS_PORT/inet = 127.0.0.1:$TLS_PORT inet n - n - - smtpd"
postconf -P "127.0.0.1:$TLS_PORT/inet/syslog_name=postfix/submissions" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_wrappermode=yes" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_CAfile=" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_CApath=$DIR/capath" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_security_level=encrypt" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_ask_ccert=yes" \
            "127.0.0.1:$TLS_PORT/inet/smtpd_tls_req_ccert=yes"
postconf -M "mssbridge-maildir/unix = mssbridge-maildir unix - n n - - pipe flags=DRO user=vmail argv=$CONF/deliver-maildir.sh $MAILDIR_ROOT \${recipient}"
postconf -F '*/*/chroot = n'
postconf -M | grep -q '^postlog' ||
  postconf -M "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd"

touch "$POSTFIX_LOG"
postfix check || die "postfix check failed"
if postfix status >/dev/null 2>&1; then
  say "reloading Postfix"
  postfix reload
else
  say "starting Postfix"
  postfix start
fi

# Wait for both listeners (master forks them at once, but give it a moment).
wait_port() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  die "Postfix does not listen on 127.0.0.1:$1 (see $POSTFIX_LOG)"
}
wait_port "$STARTTLS_PORT"
wait_port "$TLS_PORT"

# ---------------------------------------------------------------------------------------------
# 3. The env file the Go tests read (KEY=value lines, also fine to `source`).
# ---------------------------------------------------------------------------------------------
cat >"$DIR/env" <<EOF
# Written by ci/postfix/setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)
CI_SMTP_HOST=127.0.0.1
CI_SMTP_STARTTLS_PORT=$STARTTLS_PORT
CI_SMTP_TLS_PORT=$TLS_PORT
CI_BOX_ADDRESS=$BOX_ADDRESS
CI_CA_FILE=$DIR/ca.pem
CI_CLIENT_CERT=$DIR/client.pem
CI_CLIENT_KEY=$DIR/client.key
CI_ROGUE_CA_FILE=$DIR/rogue-ca.pem
CI_ROGUE_CERT=$DIR/rogue-client.pem
CI_ROGUE_KEY=$DIR/rogue-client.key
CI_MAILDIR_ROOT=$MAILDIR_ROOT
# The box's own mailbox: DSNs (success and failure) for what the bridge sends come back here.
CI_BOX_MAILDIR=$MAILDIR_ROOT/${BOX_ADDRESS#*@}/${BOX_ADDRESS%@*}
CI_POSTFIX_LOG=$POSTFIX_LOG
CI_FLIP=$CONF/flip-defer.sh
CI_DOMAINS="$DOMAINS"
EOF

# ---------------------------------------------------------------------------------------------
# 4. Check it for real with swaks: delivered with the good certificate, refused without one and
# with the rogue one, on both ports.
# ---------------------------------------------------------------------------------------------
probe() { # probe PORT MODE(starttls|tls) CERT KEY TO  -> swaks output in $out, status in $rc
  local port=$1 mode=$2 cert=$3 key=$4 to=$5 args
  args=(--server 127.0.0.1 --port "$port" --from "$BOX_ADDRESS" --to "$to"
        --ehlo ci.mssbridge.test --tls-ca-path "$DIR/ca.pem" --tls-verify
        --header "Subject: mssbridge CI setup probe" --body "setup.sh probe" --timeout 20)
  if [ "$mode" = tls ]; then args+=(--tls-on-connect); else args+=(--tls); fi
  [ -n "$cert" ] && args+=(--tls-cert "$cert" --tls-key "$key")
  rc=0
  out=$(swaks "${args[@]}" 2>&1) || rc=$?
}

wait_maildir() { # wait_maildir DOMAIN LOCAL TOKEN
  local i f
  for i in $(seq 1 100); do
    for f in "$MAILDIR_ROOT/$1/$2/new"/*; do
      [ -f "$f" ] && grep -q "$3" "$f" && return 0
    done
    sleep 0.1
  done
  return 1
}

failures=0
check() { if "$@"; then :; else failures=$((failures + 1)); fi; }

stamp=$(date +%s)-$$
for pm in "$STARTTLS_PORT:starttls" "$TLS_PORT:tls"; do
  port=${pm%%:*} mode=${pm#*:}
  local_part="setup-probe-$mode-$stamp"
  probe "$port" "$mode" "$DIR/client.pem" "$DIR/client.key" "$local_part@medecin.mssante.fr"
  if [ "$rc" = 0 ] && echo "$out" | grep -q '250 2.0.0 Ok: queued' &&
     wait_maildir medecin.mssante.fr "$local_part" "$local_part"; then
    say "ok   $mode/$port: good client certificate -> delivered to $MAILDIR_ROOT/medecin.mssante.fr/$local_part/new/"
  else
    say "FAIL $mode/$port: good client certificate was not delivered"; echo "$out" | tail -20; failures=$((failures + 1))
  fi

  probe "$port" "$mode" "" "" "setup-nocert-$stamp@medecin.mssante.fr"
  if [ "$rc" != 0 ] && ! echo "$out" | grep -q 'Ok: queued'; then
    say "ok   $mode/$port: no client certificate -> refused ($(echo "$out" | grep -E '[45][0-9][0-9] [45]\.[0-9]' | head -1))"
  else
    say "FAIL $mode/$port: no client certificate was accepted"; echo "$out" | tail -20; failures=$((failures + 1))
  fi

  probe "$port" "$mode" "$DIR/rogue-client.pem" "$DIR/rogue-client.key" "setup-rogue-$stamp@medecin.mssante.fr"
  if [ "$rc" != 0 ] && ! echo "$out" | grep -q 'Ok: queued'; then
    say "ok   $mode/$port: rogue client certificate -> refused ($(echo "$out" | grep -E '[45][0-9][0-9] [45]\.[0-9]' | head -1))"
  else
    say "FAIL $mode/$port: rogue client certificate was accepted"; echo "$out" | tail -20; failures=$((failures + 1))
  fi
done

# The recipient rules, with the good certificate.
probe "$STARTTLS_PORT" starttls "$DIR/client.pem" "$DIR/client.key" "reject-setup-$stamp@medecin.mssante.fr"
if echo "$out" | grep -q '550 5.1.1'; then say "ok   reject*: 550 5.1.1"; else
  say "FAIL reject*: no 550 5.1.1"; echo "$out" | tail -20; failures=$((failures + 1)); fi
probe "$STARTTLS_PORT" starttls "$DIR/client.pem" "$DIR/client.key" "x-setup-$stamp@example.org"
if echo "$out" | grep -q '554 5.7.1'; then say "ok   outside the trust space: 554 5.7.1"; else
  say "FAIL outside the trust space: not refused"; echo "$out" | tail -20; failures=$((failures + 1)); fi
deferred="defer-setup-$stamp@medecin.mssante.fr"
probe "$STARTTLS_PORT" starttls "$DIR/client.pem" "$DIR/client.key" "$deferred"
if echo "$out" | grep -q '450 4.2.0'; then say "ok   defer*: 450 4.2.0"; else
  say "FAIL defer*: no 450 4.2.0"; echo "$out" | tail -20; failures=$((failures + 1)); fi
"$CONF/flip-defer.sh" "$deferred" >/dev/null
probe "$STARTTLS_PORT" starttls "$DIR/client.pem" "$DIR/client.key" "$deferred"
if [ "$rc" = 0 ] && wait_maildir medecin.mssante.fr "defer-setup-$stamp" "defer-setup-$stamp"; then
  say "ok   defer* after flip-defer.sh: delivered"
else
  say "FAIL defer* after flip-defer.sh: not delivered"; echo "$out" | tail -20; failures=$((failures + 1))
fi
# slow*: delivered, 250 after DATA at least a second late.
t0=$(date +%s%N)
probe "$STARTTLS_PORT" starttls "$DIR/client.pem" "$DIR/client.key" "slow-setup-$stamp@medecin.mssante.fr"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" = 0 ] && [ "$took" -ge 1000 ] && wait_maildir medecin.mssante.fr "slow-setup-$stamp" "slow-setup-$stamp"; then
  say "ok   slow*: delivered, session took ${took} ms"
else
  say "FAIL slow*: rc $rc, ${took} ms"; echo "$out" | tail -20; failures=$((failures + 1))
fi
# Leave the flips map empty, as a fresh run would.
: >"$CONF/flips"; postmap "hash:$CONF/flips"; postfix reload >/dev/null 2>&1

if [ "$failures" != 0 ]; then
  tail -30 "$POSTFIX_LOG" >&2 || true
  die "$failures check(s) failed"
fi
say "Postfix ready: starttls 127.0.0.1:$STARTTLS_PORT, tls 127.0.0.1:$TLS_PORT; env in $DIR/env; log $POSTFIX_LOG"
