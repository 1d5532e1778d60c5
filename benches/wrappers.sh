#!/usr/bin/env bash
# Wrappers vs bare hyper: the same "hello" answer served by a handler written with tollgate's
# Request/Response through `tollgate::serve` (tollgate), the same behind a no-op
# `filter::from_fn` (filter), and a bare `hyper::service::service_fn` on hyper's own HTTP/1
# server (hyper), driven by wrk in alternating rounds within one run. Prints req/s, p50/p99
# and the CPU time per request of each server (user + system from /proc), medians of the
# rounds, and the ratios (targets: tollgate/hyper req/s >= 0.98, filter/tollgate CPU per
# request <= 1.02).
#
#   benches/wrappers.sh
#   ROUNDS=10 DURATION=10 CONNECTIONS=64 benches/wrappers.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

CONNECTIONS=${CONNECTIONS:-50}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
echo "building (release profile) ..." >&2
bin="${WRAPPERS_BIN:-}"
[[ -n "$bin" ]] || bin="$(cargo bench --all-features --bench wrappers --no-run --message-format=json 2>/dev/null |
    grep '"name":"wrappers"' | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)"
[[ -x "$bin" ]] || { echo "could not build benches/wrappers.rs" >&2; exit 1; }

echo "wrappers: $(nproc) cores, rounds=$ROUNDS, ${DURATION}s per run, $CONNECTIONS connections"
check_quiet
declare -A PORT PID
port=18910
for mode in hyper tollgate filter; do
    port=$((port + 1))
    start_bg "$mode" "$bin" "$mode" "127.0.0.1:$port"
    PORT[$mode]=$port PID[$mode]=$LAST_PID
    wait_port $port
done
for round in $(seq "$ROUNDS"); do
    for mode in hyper tollgate filter; do
        r=$(PIDS_OF_SERVER="${PID[$mode]}" bench "http://127.0.0.1:${PORT[$mode]}/")
        echo "  round=$round $mode: $r"
        record "$mode" "$r"
    done
done
echo
printf '%-10s %10s %9s %9s %12s\n' server "req/s" "p50 ms" "p99 ms" "CPU us/req"
for mode in hyper tollgate filter; do
    printf '%-10s %10.0f %9.3f %9.3f %12s\n' "$mode" "$(field "$mode" 1)" "$(field "$mode" 2)" \
        "$(field "$mode" 3)" "$(field "$mode" 4)"
done
echo "tollgate/hyper: req/s $(ratio "$(field tollgate 1)" "$(field hyper 1)")x," \
    "CPU per request $(ratio "$(field tollgate 4)" "$(field hyper 4)")x"
echo "filter/tollgate: req/s $(ratio "$(field filter 1)" "$(field tollgate 1)")x," \
    "CPU per request $(ratio "$(field filter 4)" "$(field tollgate 4)")x"
