#!/usr/bin/env bash
# Cache benchmark: hits on a 1 KB answer (`Cache-Control: max-age=3600` from the upstream)
#   tollgate  `tollgate proxy --cache 64M` in front of the upstream,
#   nginx     nginx `proxy_cache` (keys_zone, the upstream's Cache-Control honoured) in front of it,
# the same number of workers each, in alternating rounds. Checks that both answer from their
# cache first (tollgate's Cache-Status, nginx's $upstream_cache_status), then prints
# requests/s, p50/p99 (median of the rounds), the ratio, and tollgate's cache counts.
#
# Usage: benches/cache.sh   (ROUNDS=3 DURATION=5 CONNECTIONS=32 WORKERS=1)
# Installs nginx and wrk with apt-get when missing; builds the release binary unless
# TOLLGATE=path/to/tollgate says which one to run. Every process it starts is stopped on exit,
# Ctrl-C included.
set -euo pipefail
source "$(dirname "$0")/common.sh"
UP=18821 TG=18822 NG=18823 ADMIN=18824
need

mkdir -p "$WORK/www" && chmod 755 "$WORK/www"
head -c 768 /dev/urandom | base64 -w0 | head -c 1024 >"$WORK/www/1k.txt"
chmod 644 "$WORK/www/1k.txt"

nginx_conf up 1 "server { listen 127.0.0.1:$UP; root $WORK/www; add_header Cache-Control max-age=3600; }"
nginx_conf ng "$WORKERS" "proxy_cache_path $WORK/ng/cache keys_zone=hits:10m;
    server { listen 127.0.0.1:$NG;
    location / { proxy_cache hits; add_header X-Cache-Status \$upstream_cache_status;
        proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
cat >"$WORK/tollgate.toml" <<TOML
workers = $WORKERS
[[listen]]
bind = "127.0.0.1:$TG"
[admin]
bind = "127.0.0.1:$ADMIN"
[upstreams.app]
servers = ["http://127.0.0.1:$UP"]
[[routes]]
upstream = "app"
[cache]
max_size = "64M"
TOML
# nginx's workers write the cache as an unprivileged user.
mkdir -p "$WORK/ng/cache" && chmod -R 777 "$WORK/ng"

start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
start_bg ng "$NGINX" -c "$WORK/ng/nginx.conf"
start_bg tollgate "$TOLLGATE" --log warn run "$WORK/tollgate.toml"
for port in $UP $NG $TG; do wait_port $port /1k.txt; done

tg_status=$(curl -s -o /dev/null -w '%header{cache-status}' "http://127.0.0.1:$TG/1k.txt")
ng_status=$(curl -s -o /dev/null -w '%header{x-cache-status}' "http://127.0.0.1:$NG/1k.txt")
[[ $tg_status == *hit* ]] || { echo "tollgate does not answer from its cache: $tg_status" >&2; exit 1; }
[[ $ng_status == HIT ]] || { echo "nginx does not answer from its cache: $ng_status" >&2; exit 1; }

echo "cache benchmark: $(nproc) cores, rounds=$ROUNDS, ${DURATION}s per run, $CONNECTIONS connections, $WORKERS worker(s)"
echo "load before: $(uptime)"
echo "tollgate: $TOLLGATE ($tg_status)"
echo "nginx: $($NGINX -v 2>&1) (X-Cache-Status: $ng_status)"
for round in $(seq "$ROUNDS"); do
    for setup in tollgate nginx; do
        port=$TG; [[ $setup == nginx ]] && port=$NG
        r=$(bench "http://127.0.0.1:$port/1k.txt")
        echo "  round=$round $setup: $r"
        record "$setup" "$r"
    done
done
echo "load after: $(uptime)"
printf '\n%-10s %12s %10s %10s\n' setup req/s p50_ms p99_ms
for setup in tollgate nginx; do
    printf '%-10s %12s %10s %10s\n' "$setup" "$(field "$setup" 1)" "$(field "$setup" 2)" "$(field "$setup" 3)"
done
awk -v t="$(field tollgate 1)" -v n="$(field nginx 1)" 'BEGIN { printf "tollgate/nginx req/s: %.2f\n", t / n }'
echo "tollgate's counts:"
curl -s "http://127.0.0.1:$ADMIN/metrics" | grep '^tollgate_cache_total'
