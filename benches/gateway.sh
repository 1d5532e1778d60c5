#!/usr/bin/env bash
# The gateway benchmark: wrk against
#   direct        the upstream itself (an nginx answering "hello" from memory),
#   tollgate      `tollgate proxy` in front of it: Basic auth on a bcrypt file (cached
#                 verification), --normalize and a --set-header rule,
#   nginx-sha     nginx in front of it: auth_basic on a {SHA} file, proxy_pass with upstream
#                 keep-alive,
#   nginx-bcrypt  the same nginx given the very same bcrypt file as tollgate (one round only:
#                 it re-hashes on every request),
# in alternating rounds, with 1 and 2 workers and 32 and 256 connections; then `tollgate serve`
# against nginx (`sendfile on`) on a 1 KB and a 1 MB static file. Prints requests/s, p50/p99
# and the CPU time per request of the server's processes (user + system from /proc/PID/stat,
# nginx's master and workers summed) per setup, the median of the rounds, and the
# tollgate/nginx ratios.
#
# Usage: benches/gateway.sh   (ROUNDS=3 DURATION=5 CONNECTIONS_LIST="32 256" WORKERS="1 2"
#                              STATIC=1 PROXY=1 TOLLGATE=path/to/tollgate)
# Installs what it needs with apt-get; builds the release binary unless TOLLGATE says which.
set -euo pipefail
WORKERS=${WORKERS:-1 2} # before common.sh, whose default is one worker
source "$(dirname "$0")/common.sh"

CONNECTIONS_LIST=${CONNECTIONS_LIST:-32 256}
STATIC=${STATIC:-1}
PROXY=${PROXY:-1}
need

UP=18801 TG=18802 NG=18803 NGB=18804 TGS=18805 NGS=18806
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/bcrypt.htpasswd" 2>/dev/null
htpasswd -nbs bench bench-password >"$WORK/sha.htpasswd" 2>/dev/null
chmod 644 "$WORK"/*.htpasswd
mkdir -p "$WORK/www"
chmod 755 "$WORK/www"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$WORK/www/1k.txt"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/1m.bin"
chmod 644 "$WORK"/www/*

echo "tollgate gateway benchmark: $(nproc) cores, rounds=$ROUNDS, ${DURATION}s per run," \
    "connections: $CONNECTIONS_LIST"
echo "tollgate: $TOLLGATE"
echo "nginx: $($NGINX -v 2>&1)"
check_quiet

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

# Rounds of `bench` over setups "name port pids header" lines, alternating, per connection count.
rounds() { # key-prefix path setups
    local prefix=$1 path=$2 setups=$3 round c name port pids header r
    for CONNECTIONS in $CONNECTIONS_LIST; do
        for round in $(seq "$ROUNDS"); do
            while IFS='|' read -r name port pids header; do
                [[ -n "$name" ]] || continue
                r=$(PIDS_OF_SERVER="$pids" bench "http://127.0.0.1:$port$path" "$header")
                echo "  $prefix c=$CONNECTIONS round=$round $name: $r"
                record "$prefix/c$CONNECTIONS/$name" "$r"
            done <<<"$setups"
        done
    done
}

for workers in $WORKERS; do
    [[ "$PROXY" == 1 ]] || continue
    nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
    start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
    UP_PID=$LAST_PID
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
    wait_port $NG / "$AUTH"
    wait_port $TG / "$AUTH"
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TG/") == 401 ]] ||
        { echo "tollgate does not ask for credentials" >&2; exit 1; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "http://127.0.0.1:$TG/") == 200 ]] ||
        { echo "tollgate does not accept the credentials" >&2; exit 1; }
    rounds "w$workers" / "direct|$UP|$(family $UP_PID)|
tollgate|$TG|$TG_PID|$AUTH
nginx-sha|$NG|$(family $NG_PID)|$AUTH"
    echo "  workers=$workers tollgate peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$TG_PID/status)"
    stop "$NG_PID"
    start_bg ngbcrypt "$NGINX" -c "$WORK/ngbcrypt/nginx.conf"
    NGB_PID=$LAST_PID
    wait_port $NGB / "$AUTH"
    ROUNDS=1 CONNECTIONS_LIST=32 rounds "w$workers" / "nginx-bcrypt|$NGB|$(family $NGB_PID)|$AUTH"
    stop "$NGB_PID"
    stop "$TG_PID"
    stop "$UP_PID"
done

if [[ "$STATIC" == 1 ]]; then
    for workers in $WORKERS; do
        nginx_conf ngstatic "$workers" "sendfile on; tcp_nopush on;
            server { listen 127.0.0.1:$NGS; root $WORK/www; }"
        start_bg ngstatic "$NGINX" -c "$WORK/ngstatic/nginx.conf"
        NGS_PID=$LAST_PID
        start_bg tgstatic "$TOLLGATE" --log warn serve --workers "$workers" \
            "$WORK/www" --bind "127.0.0.1:$TGS"
        TGS_PID=$LAST_PID
        wait_port $NGS
        wait_port $TGS
        for file in 1k.txt 1m.bin; do
            rounds "w$workers/$file" "/$file" "tollgate-serve|$TGS|$TGS_PID|
nginx-static|$NGS|$(family $NGS_PID)|"
        done
        stop "$TGS_PID"
        stop "$NGS_PID"
    done
fi

echo
printf '%-26s %-14s %10s %9s %9s %12s %9s %9s\n' setup "" "req/s" "p50 ms" "p99 ms" \
    "CPU us/req" "of it user" "wrk core"
for key in $(printf '%s\n' "${!RESULTS[@]}" | sort -V); do
    printf '%-40s %10.0f %9.3f %9.3f %12s %10s %9s\n' "$key" \
        "$(field "$key" 1)" "$(field "$key" 2)" "$(field "$key" 3)" "$(field "$key" 4)" \
        "$(field "$key" 6)" "$(field "$key" 5)"
done
echo
# The ratios the issue tracks: req/s (higher is better), p99 and CPU per request (lower). When
# wrk's thread used 95 % of a core or more against both servers, it set the pace of both: the
# req/s ratio then compares the client with itself, and CPU per request is what tells.
compare() { # label ours theirs
    local bound
    bound=$(awk -v a="$(field "$2" 5)" -v b="$(field "$3" 5)" \
        'BEGIN { if (a >= 0.95 && b >= 0.95) print "   (client-bound: wrk at " a "/" b " of a core)" }')
    printf '%-34s req/s %5sx   p99 %5sx   CPU/req %5sx%s\n' "$1" \
        "$(ratio "$(field "$2" 1)" "$(field "$3" 1)")" \
        "$(ratio "$(field "$2" 3)" "$(field "$3" 3)")" \
        "$(ratio "$(field "$2" 4)" "$(field "$3" 4)")" "$bound"
}
for workers in $WORKERS; do
    for c in $CONNECTIONS_LIST; do
        [[ -n "${RESULTS[w$workers/c$c/tollgate]:-}" ]] &&
            compare "gateway w=$workers c=$c" "w$workers/c$c/tollgate" "w$workers/c$c/nginx-sha"
        for file in 1k.txt 1m.bin; do
            [[ -n "${RESULTS[w$workers/$file/c$c/tollgate-serve]:-}" ]] &&
                compare "static $file w=$workers c=$c" "w$workers/$file/c$c/tollgate-serve" \
                    "w$workers/$file/c$c/nginx-static"
        done
    done
done
