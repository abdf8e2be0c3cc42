#!/usr/bin/env bash
# Benchmark of mssbridge's spine (folder -> claim -> read -> route -> SMTP), run by .ci/run after
# the integration tests. Against the real Postfix of ci/postfix/setup.sh when its env file exists,
# else against the in-process loopback operator. Prints one report; exits 1 only when a document
# is lost, held, failed or not delivered (timings are never judged), 2 on a setup problem.
#
#   bench/run.sh [spine flags...]        e.g. bench/run.sh -runs 1 -latency 10
#
# Environment: CI_ENV (env file; default $CI_DIR/env, CI_DIR defaulting to /tmp/mssbridge-ci),
# BENCH_PEER (postfix|operator) to force a peer. Finishes in under 5 minutes: the spine stops its
# latency series early, and says so, when its 4-minute budget runs out.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

ENV_FILE=${CI_ENV:-${CI_DIR:-/tmp/mssbridge-ci}/env}
PEER=${BENCH_PEER:-}
if [ -z "$PEER" ]; then
  if [ -f "$ENV_FILE" ]; then PEER=postfix; else PEER=operator; fi
fi
args=(-peer "$PEER")
[ "$PEER" = postfix ] && args+=(-env "$ENV_FILE")

BIN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mssbridge-bench-bin.XXXXXX")
trap 'rm -rf "$BIN_DIR"' EXIT
go build -o "$BIN_DIR/spine" ./bench/spine

echo "bench/run.sh: peer $PEER$([ "$PEER" = postfix ] && echo " ($ENV_FILE)"), $(nproc 2>/dev/null || echo '?') CPU(s), $(go version | cut -d' ' -f3-)"
# The budget keeps the spine under 4 minutes; the timeout is only a last resort against a hang.
rc=0
timeout -k 10 280 "$BIN_DIR/spine" "${args[@]}" -budget 3m50s "$@" || rc=$?
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "bench/run.sh: the benchmark hung and was stopped after 280 s" >&2
fi
exit "$rc"
