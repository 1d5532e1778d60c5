#!/usr/bin/env bash
# Instructions per proxied request of tollgate binaries, counted by callgrind: repeatable where
# req/s on a shared machine is not. The full gateway as benches/gateway.sh runs it (Basic auth
# on a bcrypt file with cached verification, --normalize, a --set-header rule, 1 worker) in
# front of an nginx answering from memory; N requests are counted after a warm-up.
#
# Usage: benches/gateway_callgrind.sh BIN...     (N=3000; KEEP=PREFIX keeps the profiles)
# e.g.   benches/gateway_callgrind.sh /tmp/tg-before /tmp/tg-after
# Needs valgrind, nginx, ab and htpasswd (apache2-utils) and curl.
set -euo pipefail
source "$(dirname "$0")/common.sh"

N=${N:-3000}
UP=18870 PORT=18871
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/users" 2>/dev/null
chmod 644 "$WORK/users"
NGINX=$(command -v nginx)
nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
wait_port $UP

for BIN in "$@"; do
    per=$(callgrind_per_request "$N" $PORT "$AUTH" "$BIN" --log warn proxy --workers 1 \
        --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$PORT" --users "$WORK/users" \
        --realm bench --normalize --set-header X-Gateway=tollgate)
    echo "$BIN: $per instructions per request"
done
