#!/usr/bin/env bash
# Instructions per proxied request of a tollgate binary, counted by callgrind: repeatable where
# req/s on a shared machine is not. The full gateway as benches/gateway.sh runs it (Basic auth
# on a bcrypt file with cached verification, --normalize, a --set-header rule, 1 worker) in
# front of an nginx answering from memory; `ab -k` sends N requests after a warm-up, and only
# those are counted.
#
# Usage: benches/gateway_callgrind.sh BIN...     (N=3000)
# e.g.   benches/gateway_callgrind.sh /tmp/tg-before /tmp/tg-after
# Needs valgrind, nginx, ab and htpasswd (apache2-utils) and curl.
set -euo pipefail

N=${N:-3000}
UP=18870 PORT=18871
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"

for BIN in "$@"; do
    W=$(mktemp -d /tmp/tollgate-callgrind.XXXXXX)
    chmod 755 "$W"
    htpasswd -nbB bench bench-password >"$W/users" 2>/dev/null
    cat >"$W/up.conf" <<CONF
worker_processes 1; pid $W/up.pid; error_log $W/up.err error; daemon off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000;
  client_body_temp_path $W/b; proxy_temp_path $W/p; fastcgi_temp_path $W/f;
  uwsgi_temp_path $W/u; scgi_temp_path $W/s;
  server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } } }
CONF
    nginx -c "$W/up.conf" &
    NG=$!
    valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "$BIN" --log warn proxy \
        --workers 1 --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$PORT" \
        --users "$W/users" --realm bench --normalize --set-header X-Gateway=tollgate \
        >"$W/log" 2>&1 &
    TG=$!
    curl -s -o /dev/null --retry 50 --retry-connrefused --retry-delay 1 -H "$AUTH" "http://127.0.0.1:$PORT/"
    ab -q -k -n 500 -c 4 -H "$AUTH" "http://127.0.0.1:$PORT/" >/dev/null # warm-up
    callgrind_control -z "$TG" >/dev/null 2>&1
    ab -q -k -n "$N" -c 4 -H "$AUTH" "http://127.0.0.1:$PORT/" | grep -E "Failed requests|Non-2xx" || true
    callgrind_control -d "$TG" >/dev/null 2>&1
    sleep 1
    kill "$TG" "$NG"
    wait "$TG" "$NG" 2>/dev/null || true
    counted=$(ls "$W"/cg.out.* | sort | head -1)
    ir=$(callgrind_annotate "$counted" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "$BIN: $((ir / N)) instructions per request ($ir for $N)"
    [[ -n "${KEEP:-}" ]] && cp "$counted" "$KEEP.$(basename "$BIN")"
    rm -rf "$W"
done
