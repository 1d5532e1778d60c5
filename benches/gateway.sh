#!/usr/bin/env bash
# The gateway benchmark: wrk against
#   direct        the upstream itself (an nginx answering "hello" from memory),
#   tollgate      `tollgate proxy` in front of it: Basic auth on a bcrypt file (cached
#                 verification), --normalize and a --set-header rule,
#   nginx-sha     nginx in front of it: auth_basic on a {SHA} file, proxy_pass with upstream
#                 keep-alive,
#   nginx-bcrypt  the same nginx given the very same bcrypt file as tollgate (one round only:
#                 it re-hashes on every request),
# in alternating rounds, with 1 and 2 workers; then `tollgate serve` against nginx on a 1 KB
# and a 1 MB static file. Prints requests/s and p50/p99 per setup (median of the rounds) and
# the tollgate/nginx ratios.
#
# Usage: benches/gateway.sh            (ROUNDS=3 DURATION=5 CONNECTIONS=32 WORKERS="1 2" STATIC=1 PROXY=1)
# Installs nginx, wrk and apache2-utils with apt-get when missing. Builds the release binary
# (--all-features, so with mimalloc) unless TOLLGATE=path/to/tollgate says which one to run.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
WORKERS=${WORKERS:-1 2}
STATIC=${STATIC:-1}
PROXY=${PROXY:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run as an unprivileged user and read the files below
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        echo "installing ${missing[*]}" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

need
if [[ -z "${TOLLGATE:-}" ]]; then
    (cd "$ROOT" && cargo build --release --all-features --bin tollgate >&2)
    TOLLGATE=$TARGET/release/tollgate
fi
NGINX=$(command -v nginx)

# Ports.
UP=18801 TG=18802 NG=18803 NGB=18804 TGS=18805 NGS=18806

USER_NAME=bench PASSWORD=bench-password
AUTH="Authorization: Basic $(printf '%s:%s' "$USER_NAME" "$PASSWORD" | base64)"
htpasswd -nbB "$USER_NAME" "$PASSWORD" >"$WORK/bcrypt.htpasswd" 2>/dev/null
htpasswd -nbs "$USER_NAME" "$PASSWORD" >"$WORK/sha.htpasswd" 2>/dev/null
chmod 644 "$WORK"/*.htpasswd
mkdir -p "$WORK/www"
chmod 755 "$WORK/www"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$WORK/www/1k.txt"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/1m.bin"
chmod 644 "$WORK"/www/*

nginx_conf() { # name workers server-block
    local name=$1 workers=$2 block=$3
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name/nginx.conf" <<EOF
worker_processes $workers;
pid $WORK/$name/nginx.pid;
error_log $WORK/$name/error.log error;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/$name/body;
    proxy_temp_path $WORK/$name/proxy;
    fastcgi_temp_path $WORK/$name/fastcgi;
    uwsgi_temp_path $WORK/$name/uwsgi;
    scgi_temp_path $WORK/$name/scgi;
    keepalive_requests 100000;
    upstream backend { server 127.0.0.1:$UP; keepalive 64; }
    $block
}
EOF
}

start_bg() { # log-name command...
    local log=$1
    shift
    "$@" >"$WORK/$log.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

wait_port() { # port [auth]
    for _ in $(seq 100); do
        if curl -s -o /dev/null -H "$AUTH" "http://127.0.0.1:$1/"; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on port $1; logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
    exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# One wrk run: prints "rps p50_ms p99_ms".
bench() { # url [header]
    local out
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency ${2:+-H "$2"} "$1")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
    [[ -n "$errors" ]] && echo "  wrk: $errors ($1)" >&2
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

to_ms() { # wrk latency (12.3us, 1.2ms, 1.1s) to milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A RESULTS
record() { RESULTS[$1]+="$2"$'\n'; }

field() { # key column
    awk -v c="$2" 'NF {print $c}' <<<"${RESULTS[$1]:-}" | median
}

echo "tollgate gateway benchmark: $(nproc) cores, rounds=$ROUNDS, ${DURATION}s per run, $CONNECTIONS connections"
echo "tollgate: $TOLLGATE"
echo "nginx: $($NGINX -v 2>&1)"

for workers in $WORKERS; do
    [[ "$PROXY" == 1 ]] || continue
    nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
    start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
    UP_PID=$LAST_PID
    proxy_block() { # port file
        echo "server { listen 127.0.0.1:$1;
            location / {
                auth_basic \"bench\"; auth_basic_user_file $2;
                proxy_pass http://backend; proxy_http_version 1.1;
                proxy_set_header Connection \"\"; proxy_set_header Host \$host;
                proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
                proxy_set_header X-Gateway nginx;
            } }"
    }
    nginx_conf ngsha "$workers" "$(proxy_block $NG "$WORK/sha.htpasswd")"
    nginx_conf ngbcrypt "$workers" "$(proxy_block $NGB "$WORK/bcrypt.htpasswd")"
    start_bg ngsha "$NGINX" -c "$WORK/ngsha/nginx.conf"
    NG_PID=$LAST_PID
    start_bg tollgate "$TOLLGATE" --log warn proxy --workers "$workers" \
        --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$TG" \
        --users "$WORK/bcrypt.htpasswd" --realm bench --normalize \
        --set-header X-Gateway=tollgate
    TG_PID=$LAST_PID
    wait_port $UP
    wait_port $NG
    wait_port $TG
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TG/") == 401 ]] ||
        { echo "tollgate does not ask for credentials" >&2; exit 1; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "http://127.0.0.1:$TG/") == 200 ]] ||
        { echo "tollgate does not accept the credentials" >&2; exit 1; }
    grep -q "^VmHWM" /proc/$TG_PID/status || true

    for round in $(seq "$ROUNDS"); do
        for setup in direct tollgate nginx-sha; do
            case $setup in
                direct) r=$(bench "http://127.0.0.1:$UP/") ;;
                tollgate) r=$(bench "http://127.0.0.1:$TG/" "$AUTH") ;;
                nginx-sha) r=$(bench "http://127.0.0.1:$NG/" "$AUTH") ;;
            esac
            echo "  workers=$workers round=$round $setup: $r"
            record "$workers/$setup" "$r"
        done
    done
    stop "$NG_PID"
    start_bg ngbcrypt "$NGINX" -c "$WORK/ngbcrypt/nginx.conf"
    NGB_PID=$LAST_PID
    wait_port $NGB
    r=$(bench "http://127.0.0.1:$NGB/" "$AUTH")
    echo "  workers=$workers nginx-bcrypt: $r"
    record "$workers/nginx-bcrypt" "$r"
    echo "  tollgate peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$TG_PID/status)"
    stop "$NGB_PID"
    stop "$TG_PID"
    stop "$UP_PID"
done

if [[ "$STATIC" == 1 ]] && "$TOLLGATE" serve --help >/dev/null 2>&1; then
    for workers in $WORKERS; do
        nginx_conf ngstatic "$workers" "server { listen 127.0.0.1:$NGS; root $WORK/www; }"
        start_bg ngstatic "$NGINX" -c "$WORK/ngstatic/nginx.conf"
        NGS_PID=$LAST_PID
        start_bg tgstatic "$TOLLGATE" --log warn serve --workers "$workers" \
            "$WORK/www" --bind "127.0.0.1:$TGS"
        TGS_PID=$LAST_PID
        wait_port $NGS
        wait_port $TGS
        for round in $(seq "$ROUNDS"); do
            for file in 1k.txt 1m.bin; do
                for setup in tollgate-serve nginx-static; do
                    port=$TGS
                    [[ $setup == nginx-static ]] && port=$NGS
                    r=$(bench "http://127.0.0.1:$port/$file")
                    echo "  workers=$workers round=$round $setup $file: $r"
                    record "$workers/$setup/$file" "$r"
                done
            done
        done
        stop "$TGS_PID"
        stop "$NGS_PID"
    done
fi

echo
printf '%-8s %-26s %12s %10s %10s\n' workers setup "req/s" "p50 ms" "p99 ms"
for key in $(printf '%s\n' "${!RESULTS[@]}" | sort); do
    printf '%-8s %-26s %12.0f %10.3f %10.3f\n' "${key%%/*}" "${key#*/}" \
        "$(field "$key" 1)" "$(field "$key" 2)" "$(field "$key" 3)"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for workers in $WORKERS; do
    t="$workers/tollgate" n="$workers/nginx-sha" b="$workers/nginx-bcrypt"
    echo "workers=$workers: tollgate/nginx-sha req/s $(ratio "$(field $t 1)" "$(field $n 1)")x," \
        "p99 $(field $t 3) vs $(field $n 3) ms;" \
        "tollgate/nginx-bcrypt req/s $(ratio "$(field $t 1)" "$(field $b 1)")x"
    for file in 1k.txt 1m.bin; do
        s="$workers/tollgate-serve/$file" g="$workers/nginx-static/$file"
        [[ -n "${RESULTS[$s]:-}" ]] || continue
        echo "workers=$workers: tollgate serve/nginx $file req/s $(ratio "$(field $s 1)" "$(field $g 1)")x," \
            "p99 $(field $s 3) vs $(field $g 3) ms"
    done
done
