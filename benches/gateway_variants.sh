#!/usr/bin/env bash
# A/B of tollgate builds (allocator, panic strategy, ...) as the full gateway with one worker:
# interleaved wrk rounds, req/s, p99 and the gateway's CPU per 1 000 requests (utime + stime
# from /proc/PID/stat), which varies less than req/s on a shared machine.
#
# Usage: benches/gateway_variants.sh BIN...      (ROUNDS=4 DURATION=3 CONNECTIONS=32)
# e.g.   cargo build --release --all-features && cp target/release/tollgate /tmp/tg-mimalloc
#        CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=/tmp/unwind cargo build --release ...
#        benches/gateway_variants.sh /tmp/tg-mimalloc /tmp/unwind/release/tollgate
# Needs nginx (the upstream), wrk, htpasswd and curl (benches/gateway.sh installs them).
set -euo pipefail

ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-32}
WORK=$(mktemp -d /tmp/tollgate-variants.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

UP=18851
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/users" 2>/dev/null
cat >"$WORK/up.conf" <<CONF
worker_processes 1; pid $WORK/up.pid; error_log $WORK/up.err error; daemon off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000;
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } } }
CONF
nginx -c "$WORK/up.conf" &
PIDS+=($!)

port=18860
declare -a NAMES PORTS GPIDS
for bin in "$@"; do
    "$bin" --log warn proxy --workers 1 --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$port" \
        --users "$WORK/users" --realm bench --normalize --set-header X-Gateway=tollgate \
        >"$WORK/$port.log" 2>&1 &
    PIDS+=($!)
    NAMES+=("$bin") PORTS+=("$port") GPIDS+=($!)
    port=$((port + 1))
done
sleep 1
for p in "${PORTS[@]}"; do # warms the verification cache
    curl -s -o /dev/null --retry 20 --retry-connrefused --retry-delay 0 -H "$AUTH" "http://127.0.0.1:$p/"
done

for round in $(seq "$ROUNDS"); do
    for i in "${!NAMES[@]}"; do
        pid=${GPIDS[$i]}
        read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$AUTH" "http://127.0.0.1:${PORTS[$i]}/")
        read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        req=$(awk '/requests in/ {print $1}' <<<"$out")
        hz=$(getconf CLK_TCK)
        printf 'round %s %-40s req/s %10s  p99 %8s  cpu ms/1k req %6.2f (user %5.2f)\n' "$round" "${NAMES[$i]}" \
            "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
            "$(echo "($u1 - $u0 + $s1 - $s0) * 1000000 / $hz / $req" | bc -l)" \
            "$(echo "($u1 - $u0) * 1000000 / $hz / $req" | bc -l)"
    done
done
