#!/usr/bin/env bash
# Where `tollgate proxy`'s memory goes, by allocation site (heaptrack), for the two figures of
# benches/memory.sh that nginx beats: IDLE (1 000) kept-alive connections that each made one
# request, and INFLIGHT (1 000) requests held by a slow upstream. Each phase runs in its own
# gateway under heaptrack; for each, the heap in use at its peak per connection or request,
# and the sites that hold it (the innermost frame outside the allocator, `alloc`, `core`,
# `std` and `bytes`).
#
# heaptrack sees malloc only, and the binary's allocator is mimalloc: this builds tollgate
# without it, in the `heaptrack` profile (release, thin LTO, line tables; target/heaptrack).
#
# Usage: benches/memory_profile.sh   (IDLE=1000 INFLIGHT=1000 TOP=15; KEEP=DIR keeps the
# heaptrack files for heaptrack_print or heaptrack_gui)
set -euo pipefail
NEED_MORE="heaptrack:heaptrack heaptrack_print:heaptrack"
# heaptrack prints Rust's v0 symbols mangled; rustfilt reads them.
command -v rustfilt >/dev/null || cargo install --locked rustfilt >&2
TOLLGATE=${TOLLGATE:-none} # the binary is built below, not by common.sh
source "$(dirname "$0")/common.sh"

IDLE=${IDLE:-1000}
INFLIGHT=${INFLIGHT:-1000}
TOP=${TOP:-15}
need
features=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; d = json.load(sys.stdin)["packages"][0]["features"]["default"]; print(",".join(f for f in d if f != "mimalloc"))')
(cd "$ROOT" && cargo build --profile heaptrack --no-default-features --features "$features" \
    --bin tollgate >&2)
PLAIN=$TARGET/heaptrack/tollgate
ulimit -n "$(ulimit -Hn)"
UP=18861 SLOW=18862 TG=18863
HERE=$(cd "$(dirname "$0")" && pwd)
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/bcrypt.htpasswd" 2>/dev/null
nginx_conf up 1 "server { listen 127.0.0.1:$UP; location = / { return 200 'hello\n'; } }"
start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
start_bg slow python3 "$HERE/slow_upstream.py" $SLOW 30
wait_port $UP /

# One phase: a gateway under heaptrack in front of UPSTREAM, COUNT connections held by
# hold_connections.py (with its extra flag), then the gateway stopped and its data read.
phase() { # label upstream-port count [--in-flight]
    local label=$1 upstream=$2 count=$3 flag=${4:-} fifo=$WORK/hold
    heaptrack -o "$WORK/heap-$label" "$PLAIN" --log warn proxy --workers 1 \
        --upstream "http://127.0.0.1:$upstream" --bind "127.0.0.1:$TG" \
        --users "$WORK/bcrypt.htpasswd" --max-connections 19000 >"$WORK/$label.gateway.log" 2>&1 &
    local tracer=$!
    PIDS+=("$tracer")
    wait_port $TG / "$AUTH"
    mkfifo "$fifo"
    python3 "$HERE/hold_connections.py" $TG "$count" --header "$AUTH" $flag <"$fifo" \
        >"$WORK/hold.out" &
    local holder=$!
    exec 7>"$fifo"
    for _ in $(seq 600); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.2; done
    [[ -n "$flag" ]] && sleep 2 # the requests reach the slow upstream
    exec 7>&-
    wait "$holder" 2>/dev/null || true
    rm -f "$fifo"
    # The gateway (heaptrack's child, the one listening) stops; heaptrack then writes its file.
    local gateway
    gateway=$(ss -ltnpH "sport = :$TG" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    kill -TERM "$gateway"
    wait "$tracer" 2>/dev/null || true
    local data
    data=$(ls "$WORK/heap-$label".*)
    heaptrack_print -f "$data" -p 0 -a 0 -T 0 -F "$WORK/$label.stacks" \
        --flamegraph-cost-type peak >"$WORK/$label.summary"
    [[ -n "${KEEP:-}" ]] && mkdir -p "$KEEP" && cp "$data" "$WORK/$label.stacks" "$KEEP/"
    local peak
    peak=$(awk -F': ' '/^peak heap memory consumption/ { print $2 }' "$WORK/$label.summary")
    echo
    echo "== $label: $count held ($(cat "$WORK/hold.out")); peak heap $peak"
    rustfilt <"$WORK/$label.stacks" | sed 's/ ([^;]*)//g' >"$WORK/$label.demangled"
    python3 - "$WORK/$label.demangled" "$count" "$TOP" <<'EOF'
import collections, re, sys
path, count, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
skip = re.compile(r"^(<?(alloc|core|std|bytes|hashbrown)::|<(alloc|core|std|bytes)::|__rust|"
                  r"malloc|realloc|calloc|operator new|<unresolved|0x|_start|main$)")
by_site, total = collections.Counter(), 0
for line in open(path):
    stack, _, cost = line.rstrip("\n").rpartition(" ")
    cost = int(cost)
    total += cost
    frames = [f for f in stack.split(";") if f]
    site = next((f for f in reversed(frames) if not skip.match(f)), frames[-1])
    by_site[re.sub(r"::h[0-9a-f]{16}$", "", site)[:150]] += cost
print(f"{'KiB':>10} {'B each':>8}  site (innermost frame outside the allocator and std)")
for site, cost in by_site.most_common(top):
    print(f"{cost / 1024:10.1f} {cost / count:8.0f}  {site}")
print(f"{total / 1024:10.1f} {total / count:8.0f}  all")
EOF
}

phase idle $UP "$IDLE"
phase inflight $SLOW "$INFLIGHT" --in-flight
