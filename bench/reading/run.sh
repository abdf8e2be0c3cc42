#!/usr/bin/env bash
# Reading benchmark: time per page on the reading corpus (PDFium extractor, the whole reader,
# pdftotext spawned per file), the extractor's cold start with and without wazero's
# compilation cache, and peak memory on a 300-page PDF. Needs poppler-utils (pdftotext).
# Arguments are passed on: -rounds N, -cold N, -long FILE. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d "${TMPDIR:-/tmp}/readbench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/readbench" ./bench/reading
"$bin/readbench" -root . "$@"
