#!/usr/bin/env bash
# Compression benchmark: a 100 KB JSON answer, gzip at the same level, through
#   tollgate  `tollgate run` with [compression] (gzip only, level $LEVEL) in front of the upstream,
#   nginx     nginx `gzip on; gzip_comp_level $LEVEL; gzip_types application/json` in front of it,
# the upstream being nginx serving the file uncompressed. wrk asks with `Accept-Encoding: gzip`,
# in alternating rounds; prints requests/s, p50/p99 (median of the rounds), the bytes on the
# wire of one answer each, and the tollgate/nginx ratio.
#
# Usage: benches/compression.sh   (LEVEL=1 ROUNDS=3 DURATION=5 CONNECTIONS=32 WORKERS=1)
# Installs nginx and wrk with apt-get when missing; builds the release binary unless
# TOLLGATE=path/to/tollgate says which one to run. Every process it starts is stopped on exit,
# Ctrl-C included.
set -euo pipefail
source "$(dirname "$0")/common.sh"
LEVEL=${LEVEL:-1}
UP=18811 TG=18812 NG=18813
need

# 100 KB of JSON records, varied enough not to compress to nothing.
mkdir -p "$WORK/www" && chmod 755 "$WORK/www"
awk 'BEGIN { srand(7); printf "["; n = 0; len = 1;
    while (len < 102400) {
        s = sprintf("%s{\"id\":%d,\"name\":\"user%d\",\"score\":%.4f,\"active\":%s,\"tags\":[\"t%d\",\"t%d\"]}",
            (n ? "," : ""), n, int(rand() * 100000), rand() * 1000, (rand() < 0.5 ? "true" : "false"),
            int(rand() * 50), int(rand() * 50));
        printf "%s", s; len += length(s); n++ }
    printf "]" }' >"$WORK/www/data.json"
chmod 644 "$WORK/www/data.json"

nginx_conf up 1 "server { listen 127.0.0.1:$UP; root $WORK/www; default_type application/json; gzip off; }"
nginx_conf ng "$WORKERS" "server { listen 127.0.0.1:$NG;
    gzip on; gzip_comp_level $LEVEL; gzip_types application/json; gzip_proxied any; gzip_min_length 256;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
cat >"$WORK/tollgate.toml" <<TOML
workers = $WORKERS
[[listen]]
bind = "127.0.0.1:$TG"
[upstreams.app]
servers = ["http://127.0.0.1:$UP"]
[[routes]]
upstream = "app"
[compression]
algorithms = ["gzip"]
levels = { gzip = $LEVEL }
TOML

start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
start_bg ng "$NGINX" -c "$WORK/ng/nginx.conf"
start_bg tollgate "$TOLLGATE" --log warn run "$WORK/tollgate.toml"
for port in $UP $NG $TG; do wait_port $port /data.json; done

echo "compression benchmark: $(nproc) cores, gzip level $LEVEL, rounds=$ROUNDS, ${DURATION}s per run, $CONNECTIONS connections, $WORKERS worker(s)"
echo "load before: $(uptime)"
echo "tollgate: $TOLLGATE"
echo "nginx: $($NGINX -v 2>&1)"
echo "answer: $(stat -c %s "$WORK/www/data.json") bytes of JSON"
for setup in tollgate nginx; do
    port=$TG; [[ $setup == nginx ]] && port=$NG
    wire=$(curl -s -H 'Accept-Encoding: gzip' -o "$WORK/$setup.gz" -w '%{size_download} %header{content-encoding}' "http://127.0.0.1:$port/data.json")
    gunzip -c "$WORK/$setup.gz" | cmp -s - "$WORK/www/data.json" || {
        echo "$setup: the answer ($wire) does not decode to the file:" >&2
        curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/data.json" >&2
        tail -n 5 "$WORK"/*.log >&2
        exit 1
    }
    echo "  $setup: $wire bytes on the wire (decodes to the file)"
    record "$setup/wire" "${wire%% *}"
done

for round in $(seq "$ROUNDS"); do
    for setup in tollgate nginx; do
        port=$TG; [[ $setup == nginx ]] && port=$NG
        r=$(bench "http://127.0.0.1:$port/data.json" "Accept-Encoding: gzip")
        echo "  round=$round $setup: $r"
        record "$setup" "$r"
    done
done

echo "load after: $(uptime)"
printf '\n%-10s %12s %10s %10s %12s\n' setup req/s p50_ms p99_ms wire_bytes
for setup in tollgate nginx; do
    printf '%-10s %12s %10s %10s %12s\n' "$setup" "$(field "$setup" 1)" "$(field "$setup" 2)" "$(field "$setup" 3)" "$(field "$setup/wire" 1)"
done
awk -v t="$(field tollgate 1)" -v n="$(field nginx 1)" 'BEGIN { printf "tollgate/nginx req/s: %.2f\n", t / n }'
