#!/usr/bin/env bash
# Directory index benchmark: build rate, peak RSS, size on disk and lookup latencies on a
# synthetic 1,000,000-line Annuaire Santé MSSanté extraction, beside a naive in-memory load.
# Needs ~1 GB of free disk in $TMPDIR (source ~210 MB, index ~280 MB) and ~1.5 GB of RAM for
# the naive baseline. Arguments are passed on: -lines N, -lookups N, -seed N, -keep.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d "${TMPDIR:-/tmp}/dirbench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/dirbench" ./bench/directory
"$bin/dirbench" "$@"
