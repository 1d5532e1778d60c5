#!/usr/bin/env bash
# Every figure of the performance issue in one run, side by side: the gateway against nginx
# (req/s, p99 and CPU per request at 1 and 2 workers, 32 and 256 connections; static files),
# latency at fixed rates (oha), TLS (h2load, handshakes), the wrappers against bare hyper, and
# memory (idle connections, requests in flight, 1 GB bodies).
#
# Usage: benches/run.sh            (ROUNDS=5; each script's own knobs pass through)
# Installs what it needs (nginx, wrk, nghttp2-client, apache2-utils, oha), builds the release
# binary once, warns when the machine is not quiet (the figures are only worth something on a
# quiet one), and stops every process it started, even when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROUNDS=${ROUNDS:-5}
if [[ -z "${TOLLGATE:-}" ]]; then
    cargo build --release --all-features --bin tollgate >&2
    export TOLLGATE=${CARGO_TARGET_DIR:-target}/release/tollgate
fi
TOLLGATE=$(realpath "$TOLLGATE")
export TOLLGATE
# Each script stops what it started on exit or interrupt (benches/common.sh).

echo "== $(date -u +%F) on $(nproc) cores, $(awk '/MemTotal/ {print int($2 / 1048576)}' /proc/meminfo) GiB; $(uname -r)"
for script in gateway latency tls wrappers memory; do
    echo
    echo "== benches/$script.sh"
    "benches/$script.sh"
done
