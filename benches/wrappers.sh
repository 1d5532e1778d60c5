#!/usr/bin/env bash
# Wrappers vs bare hyper: the same "hello" answer served by a handler written with tollgate's
# Request/Response through `tollgate::serve`, and by a bare `hyper::service::service_fn` on
# hyper's own HTTP/1 server, driven by wrk in alternating rounds within one run.
#
#   benches/wrappers.sh
#   ROUNDS=10 DURATION=10s CONNECTIONS=64 THREADS=2 benches/wrappers.sh
#
# Prints each round's requests/s, the averages and the ratio (target: >= 0.95).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"

if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk
fi

echo "building (release profile) ..." >&2
bin="$(cargo bench --all-features --bench wrappers --no-run --message-format=json 2>/dev/null \
    | grep '"name":"wrappers"' | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)"
[ -x "$bin" ] || { echo "could not build benches/wrappers.rs" >&2; exit 1; }

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Starts one server on a free port; prints its address once it is listening.
start() {
    "$bin" "$1" 127.0.0.1:0 >"$tmp/$1.out" 2>"$tmp/$1.err" &
    pids+=("$!")
    for _ in $(seq 100); do
        if grep -q '^Serving on http://' "$tmp/$1.out" 2>/dev/null; then
            sed -n 's|^Serving on http://||p' "$tmp/$1.out" | head -n 1
            return
        fi
        sleep 0.1
    done
    echo "the $1 server did not start: $(cat "$tmp/$1.err")" >&2
    exit 1
}

tollgate_addr="$(start tollgate)"
hyper_addr="$(start hyper)"
curl -fsS "http://$tollgate_addr/" >/dev/null
curl -fsS "http://$hyper_addr/" >/dev/null

rps() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://$1/" \
        | awk '/^Requests\/sec:/ { print $2 }'
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS alternating rounds"
printf '%-6s %14s %14s %8s\n' round tollgate hyper ratio
sum_t=0
sum_h=0
for round in $(seq "$ROUNDS"); do
    # Alternate which goes first so drift in machine load falls on both alike.
    if [ $((round % 2)) -eq 1 ]; then
        t="$(rps "$tollgate_addr")"
        h="$(rps "$hyper_addr")"
    else
        h="$(rps "$hyper_addr")"
        t="$(rps "$tollgate_addr")"
    fi
    printf '%-6s %14s %14s %8s\n' "$round" "$t" "$h" "$(awk -v t="$t" -v h="$h" 'BEGIN { printf "%.3f", t / h }')"
    sum_t="$(awk -v a="$sum_t" -v b="$t" 'BEGIN { print a + b }')"
    sum_h="$(awk -v a="$sum_h" -v b="$h" 'BEGIN { print a + b }')"
done
awk -v t="$sum_t" -v h="$sum_h" -v n="$ROUNDS" 'BEGIN {
    printf "mean   %14.0f %14.0f %8.3f\n", t / n, h / n, t / h
    printf "tollgate (Request/Response + serve): %.0f req/s; bare hyper: %.0f req/s; ratio %.3f (target >= 0.95)\n", t / n, h / n, t / h
}'
