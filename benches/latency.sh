#!/usr/bin/env bash
# Latency at a fixed rate, corrected for coordinated omission: nginx's peak (wrk) is measured
# first, then `oha --latency-correction -q RATE` drives tollgate and nginx (the setups of
# benches/gateway.sh, 1 worker each) at 50 % and 80 % of it, alternating. Prints p50, p99 and
# p99.9 per setup and rate (median of the rounds), the rate oha reached and the share of a core it
# used (a reached rate under the asked one means the machine, oha included, could not keep up:
# the tail then measures a growing queue), and the tollgate/nginx p99 ratio.
#
# Usage: benches/latency.sh   (ROUNDS=3 DURATION=10 CONNECTIONS=32 WORKERS=1)
set -euo pipefail
DURATION=${DURATION:-10} # before common.sh, whose default is 5 s
source "$(dirname "$0")/common.sh"

need
command -v oha >/dev/null || cargo install --locked oha >&2
UP=18861 TG=18862 NG=18863
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/bcrypt.htpasswd" 2>/dev/null
htpasswd -nbs bench bench-password >"$WORK/sha.htpasswd" 2>/dev/null
chmod 644 "$WORK"/*.htpasswd

echo "latency at fixed rates: $(nproc) cores, rounds=$ROUNDS, ${DURATION}s, $CONNECTIONS connections"
echo "tollgate: $TOLLGATE; $(oha --version)"
check_quiet

nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
nginx_conf ng "$WORKERS" "server { listen 127.0.0.1:$NG;
    location / { auth_basic \"bench\"; auth_basic_user_file $WORK/sha.htpasswd;
        proxy_pass http://backend; proxy_http_version 1.1;
        proxy_set_header Connection \"\"; proxy_set_header Host \$host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Gateway nginx; } }"
start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
start_bg ng "$NGINX" -c "$WORK/ng/nginx.conf"
start_bg tg "$TOLLGATE" --log warn proxy --workers "$WORKERS" --upstream "http://127.0.0.1:$UP" \
    --bind "127.0.0.1:$TG" --users "$WORK/bcrypt.htpasswd" --realm bench --normalize \
    --set-header X-Gateway=tollgate
for port in $UP $NG $TG; do wait_port $port / "$AUTH"; done

peak=$(bench "http://127.0.0.1:$NG/" "$AUTH" | cut -d' ' -f1)
echo "nginx peak: $peak req/s"

# One oha run at RATE: prints "p50_ms p99_ms p99.9_ms reached_rate oha_core".
fixed() { # port rate
    local TIMEFORMAT='%U %S %R' out
    out=$( { time oha -z "${DURATION}s" -c "$CONNECTIONS" -q "$2" --latency-correction --no-tui \
        --output-format json -H "$AUTH" "http://127.0.0.1:$1/" 2>&3; } 3>&2 2>"$WORK/oha.time")
    python3 -c 'import json, sys
summary = json.load(sys.stdin)
p = summary["latencyPercentiles"]
print(" ".join("%.3f" % (p[k] * 1000) for k in ("p50", "p99", "p99.9")),
      "%.0f" % summary["summary"]["requestsPerSec"], sys.argv[1])' "$(core_share "$WORK/oha.time")" <<<"$out"
}

for share in 50 80; do
    rate=$(awk -v p="$peak" -v s=$share 'BEGIN {printf "%d", p * s / 100}')
    for round in $(seq "$ROUNDS"); do
        for setup in tollgate nginx; do
            port=$TG
            [[ $setup == nginx ]] && port=$NG
            r=$(fixed $port "$rate")
            echo "  ${share}% ($rate req/s) round=$round $setup: $r"
            record "$share%/$setup" "$r"
        done
    done
done

echo
printf '%-20s %10s %10s %10s %12s %9s\n' setup "p50 ms" "p99 ms" "p99.9 ms" "reached/s" "oha core"
for key in $(printf '%s\n' "${!RESULTS[@]}" | sort -V); do
    printf '%-20s %10.3f %10.3f %10.3f %12.0f %9s\n' "$key" "$(field "$key" 1)" "$(field "$key" 2)" \
        "$(field "$key" 3)" "$(field "$key" 4)" "$(field "$key" 5)"
done
for share in 50 80; do
    echo "at ${share}% of nginx's peak: p99 tollgate/nginx" \
        "$(ratio "$(field "$share%/tollgate" 2)" "$(field "$share%/nginx" 2)")x," \
        "p99.9 $(ratio "$(field "$share%/tollgate" 3)" "$(field "$share%/nginx" 3)")x"
done
