#!/usr/bin/env bash
# Instructions per request, counted by callgrind, of the three servers of benches/wrappers.rs:
# a "hello" handler behind `tollgate::serve` (tollgate), the same behind a no-op
# `filter::from_fn` (filter), and a bare `hyper::service::service_fn` (hyper). Unlike req/s,
# the counts do not move with the load of a shared machine; they leave out the kernel's work,
# which is the same for all three.
#
# Usage: benches/wrappers_callgrind.sh      (N=5000)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

N=${N:-5000}
bin="${WRAPPERS_BIN:-}"
[[ -n "$bin" ]] || bin="$(cargo bench --all-features --bench wrappers --no-run --message-format=json 2>/dev/null |
    grep '"name":"wrappers"' | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)"
[[ -x "$bin" ]] || { echo "could not build benches/wrappers.rs" >&2; exit 1; }

declare -A COUNT
port=18880
for mode in hyper tollgate filter; do
    port=$((port + 1))
    COUNT[$mode]=$(callgrind_per_request "$N" $port "" "$bin" "$mode" "127.0.0.1:$port")
    echo "$mode: ${COUNT[$mode]} instructions per request"
done
echo "tollgate/hyper: $(ratio "${COUNT[tollgate]}" "${COUNT[hyper]}")x instructions;" \
    "no-op filter/tollgate: $(ratio "${COUNT[filter]}" "${COUNT[tollgate]}")x"
