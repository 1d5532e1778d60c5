#!/usr/bin/env bash
# A/B of tollgate builds (allocator, panic strategy, connection pool, ...) as the full gateway
# (Basic auth on a bcrypt file, --normalize, a --set-header rule) in front of an nginx upstream:
# interleaved wrk rounds, req/s, p50/p99 and the gateway's CPU per 1 000 requests (utime + stime
# from /proc/PID/stat), which varies less than req/s on a shared machine. With WITH_NGINX=1, nginx
# (auth_basic {SHA}, proxy_pass with upstream keep-alive) runs in the same rotation as the
# yardstick. Prints every round, then the medians per build.
#
# Usage: benches/gateway_variants.sh BIN...      (ROUNDS=4 DURATION=3 CONNECTIONS=32 WORKERS=1 WITH_NGINX=0)
# e.g.   cargo build --release --all-features && cp target/release/tollgate /tmp/tg-mimalloc
#        CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=/tmp/unwind cargo build --release ...
#        benches/gateway_variants.sh /tmp/tg-mimalloc /tmp/unwind/release/tollgate
# Needs nginx (the upstream), wrk, htpasswd and curl (benches/gateway.sh installs them).
set -euo pipefail

ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-3}
WITH_NGINX=${WITH_NGINX:-0}
source "$(dirname "$0")/common.sh"

UP=18851
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/users" 2>/dev/null
htpasswd -nbs bench bench-password >"$WORK/sha" 2>/dev/null
chmod 644 "$WORK/users" "$WORK/sha"
nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
start_bg up nginx -c "$WORK/up/nginx.conf"

port=18860
declare -a NAMES PORTS GPIDS
for bin in "$@"; do
    "$bin" --log warn proxy --workers "$WORKERS" --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$port" \
        --users "$WORK/users" --realm bench --normalize --set-header X-Gateway=tollgate \
        >"$WORK/$port.log" 2>&1 &
    PIDS+=($!)
    NAMES+=("$bin") PORTS+=("$port") GPIDS+=($!)
    port=$((port + 1))
done
if [[ "$WITH_NGINX" == 1 ]]; then
    nginx_conf gw "$WORKERS" "server { listen 127.0.0.1:$port; location / {
        auth_basic \"bench\"; auth_basic_user_file $WORK/sha;
        proxy_pass http://backend; proxy_http_version 1.1;
        proxy_set_header Connection \"\"; proxy_set_header Host \$host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Gateway nginx; } }"
    nginx -c "$WORK/gw/nginx.conf" &
    PIDS+=($!)
    NAMES+=(nginx) PORTS+=("$port") GPIDS+=($!)
fi
sleep 1
for p in "${PORTS[@]}"; do # warms the verification cache
    curl -s -o /dev/null --retry 20 --retry-connrefused --retry-delay 0 -H "$AUTH" "http://127.0.0.1:$p/"
done

RESULTS="$WORK/results"
for round in $(seq "$ROUNDS"); do
    for i in "${!NAMES[@]}"; do
        pid=${GPIDS[$i]}
        before=$(cpu_split $(family "$pid"))
        out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$AUTH" "http://127.0.0.1:${PORTS[$i]}/")
        after=$(cpu_split $(family "$pid"))
        req=$(awk '/requests in/ {print $1}' <<<"$out")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
        read -r cpu user < <(cpu_per_unit "$before" "$after" "$req")
        printf 'round %s %-40s req/s %10s  p50 %6.2f ms  p99 %6.2f ms  cpu ms/1k req %6.2f (user %5.2f)\n' \
            "$round" "${NAMES[$i]}" "$rps" "$p50" "$p99" "$cpu" "$user"
        echo "$i $rps $p50 $p99 $cpu $user" >>"$RESULTS"
    done
done

echo
printf '%-40s %10s %8s %8s %12s %8s\n' "median of $ROUNDS rounds" "req/s" "p50 ms" "p99 ms" "cpu ms/1k" "user"
for i in "${!NAMES[@]}"; do
    col() { awk -v i="$i" -v c="$1" '$1 == i {print $c}' "$RESULTS" | median; }
    printf '%-40s %10.0f %8.2f %8.2f %12.2f %8.2f\n' "${NAMES[$i]}" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)"
done
