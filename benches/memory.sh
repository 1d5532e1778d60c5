#!/usr/bin/env bash
# Memory of `tollgate proxy` next to nginx (auth_basic + proxy_pass, as benches/gateway.sh):
#   idle        RSS with IDLE (10 000) kept-alive connections that each made one request
#   in-flight   RSS added per request held in flight by a slow upstream (INFLIGHT requests)
#   1 GB        peak RSS of tollgate while a 1 GB answer and a 1 GB upload stream through it
# RSS is VmRSS from /proc (nginx: master and workers summed), one worker each.
#
# Usage: benches/memory.sh   (IDLE=10000 INFLIGHT=1000 BIG_MB=1024)
set -euo pipefail
source "$(dirname "$0")/common.sh"

IDLE=${IDLE:-10000}
INFLIGHT=${INFLIGHT:-1000}
BIG_MB=${BIG_MB:-1024}
need
ulimit -n "$(ulimit -Hn)" # 10 000 connections need as many descriptors on each side
UP=18851 SLOW=18852 TG=18853 NG=18854 TGSLOW=18855 NGSLOW=18856
HERE=$(cd "$(dirname "$0")" && pwd)
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/bcrypt.htpasswd" 2>/dev/null
htpasswd -nbs bench bench-password >"$WORK/sha.htpasswd" 2>/dev/null
chmod 644 "$WORK"/*.htpasswd
mkdir -p "$WORK/www" && chmod 755 "$WORK/www"
truncate -s "${BIG_MB}M" "$WORK/www/big.bin" && chmod 644 "$WORK/www/big.bin"

rss_kb() { # pid... : VmRSS summed, in KiB
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

echo "memory benchmark: $IDLE idle connections, $INFLIGHT in flight, ${BIG_MB} MB bodies"
echo "tollgate: $TOLLGATE"
check_quiet

nginx_conf up 1 "client_max_body_size 0;
    server { listen 127.0.0.1:$UP; root $WORK/www; location = / { return 200 'hello\n'; }
             location = /upload { proxy_pass http://127.0.0.1:$UP/; } }"
gateway_block() { # port upstream-port
    echo "server { listen 127.0.0.1:$1 backlog=4096; client_max_body_size 0;
        location / { auth_basic \"bench\"; auth_basic_user_file $WORK/sha.htpasswd;
            proxy_pass http://127.0.0.1:$2; proxy_http_version 1.1;
            proxy_set_header Connection \"\"; proxy_request_buffering off; proxy_buffering off; } }"
}
# Two nginx, as two tollgate processes: the second one's memory is not the first one's leftovers.
nginx_conf ng 1 "$(gateway_block $NG $UP)"
nginx_conf ngslow 1 "$(gateway_block $NGSLOW $SLOW)"
sed -i -e '1i worker_rlimit_nofile 19000;' -e 's/worker_connections 4096/worker_connections 19000/' \
    "$WORK/ng/nginx.conf" "$WORK/ngslow/nginx.conf"
start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
start_bg slow python3 "$HERE/slow_upstream.py" $SLOW 30
start_bg ng "$NGINX" -c "$WORK/ng/nginx.conf"
NG_PID=$LAST_PID
start_bg ngslow "$NGINX" -c "$WORK/ngslow/nginx.conf"
NGSLOW_PID=$LAST_PID
# The connection cap (1 024 per worker by default) raised to nginx's worker_connections.
for name in tg tgslow; do
    upstream=$UP port=$TG
    [[ $name == tgslow ]] && upstream=$SLOW port=$TGSLOW
    start_bg $name "$TOLLGATE" --log warn proxy --workers 1 --upstream "http://127.0.0.1:$upstream" \
        --bind "127.0.0.1:$port" --users "$WORK/bcrypt.htpasswd" --max-connections 19000
    [[ $name == tg ]] && TG_PID=$LAST_PID || TGSLOW_PID=$LAST_PID
done
for port in $UP $NG $TG; do wait_port $port / "$AUTH"; done
sleep 1

# Holds COUNT connections (or requests in flight) while the RSS is read; prints "before after".
held_rss() { # port count pids [--in-flight]
    local port=$1 count=$2 pids=$3 before after fifo=$WORK/hold.$port
    before=$(rss_kb $pids)
    mkfifo "$fifo"
    python3 "$HERE/hold_connections.py" "$port" "$count" --header "$AUTH" ${4:-} <"$fifo" \
        >"$WORK/hold.out" &
    local holder=$!
    exec 7>"$fifo"
    for _ in $(seq 600); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.2; done
    [[ -n "${4:-}" ]] && sleep 2 # the requests reach the slow upstream
    after=$(rss_kb $pids)
    exec 7>&-
    wait "$holder" 2>/dev/null || true
    rm -f "$fifo"
    echo "$before $after $(cat "$WORK/hold.out")"
}

report() { # label "before after ready-line" count
    read -r before after _ ready <<<"$2"
    printf '%-34s before %8d KiB  with %6s: %8d KiB  (%.2f KiB each)\n' "$1" "$before" \
        "$ready" "$after" "$(awk -v a="$after" -v b="$before" -v n="$3" 'BEGIN {print (a - b) / n}')"
}

report "tollgate, idle keep-alive" "$(held_rss $TG "$IDLE" "$TG_PID")" "$IDLE"
report "nginx, idle keep-alive" "$(held_rss $NG "$IDLE" "$(family $NG_PID)")" "$IDLE"
sleep 2
echo "tollgate RSS after the idle connections closed: $(rss_kb $TG_PID) KiB"
report "tollgate, in flight" "$(held_rss $TGSLOW "$INFLIGHT" "$TGSLOW_PID" --in-flight)" "$INFLIGHT"
report "nginx, in flight" "$(held_rss $NGSLOW "$INFLIGHT" "$(family $NGSLOW_PID)" --in-flight)" "$INFLIGHT"

# Peak RSS while BIG_MB streams through a fresh gateway (the peaks above would hide it): the
# download, then the upload.
stop "$TG_PID"
start_bg tgbig "$TOLLGATE" --log warn proxy --workers 1 --upstream "http://127.0.0.1:$UP" \
    --bind "127.0.0.1:$TG" --users "$WORK/bcrypt.htpasswd"
TG_PID=$LAST_PID
wait_port $TG / "$AUTH"
base=$(awk '/^VmHWM/ {print $2}' /proc/$TG_PID/status)
curl -s -o /dev/null -H "$AUTH" "http://127.0.0.1:$TG/big.bin"
down=$(awk '/^VmHWM/ {print $2}' /proc/$TG_PID/status)
curl -s -o /dev/null -H "$AUTH" -H "Expect:" -T "$WORK/www/big.bin" "http://127.0.0.1:$TG/upload"
up=$(awk '/^VmHWM/ {print $2}' /proc/$TG_PID/status)
echo "tollgate peak RSS: $base KiB before, $down KiB after a ${BIG_MB} MB download," \
    "$up KiB after a ${BIG_MB} MB upload (target: under 65536 KiB)"
