#!/usr/bin/env bash
# What a Redis limits store adds per request, against the memory store: two `tollgate run`
# gateways, identical but for `[rate_limit] store`, each with Basic auth (the password cached
# after the first request), a lockout, and per-client and per-user limits far above the load
# (so every request is checked and none is refused: per client and per user, that is two Redis
# round trips per request with Redis, none with memory). A local redis-server without
# persistence. Alternating rounds; prints requests/s and p50/p99 (median of the rounds) of
# each, and what Redis adds at p50 and p99.
#
# Usage: benches/limits_store.sh   (ROUNDS=3 DURATION=5 CONNECTIONS=32 WORKERS=1)
# Builds the release binary unless TOLLGATE=path/to/tollgate says which one to run; installs
# wrk with apt-get when missing. Every process it starts is stopped on exit, Ctrl-C included.
# Figures only mean something on a quiet machine (load average below 1.5).
set -euo pipefail
source "$(dirname "$0")/common.sh"
MEM=${MEM:-18831} RED=${RED:-18832} REDIS=${REDIS:-18833}
need
command -v redis-server >/dev/null || { echo "redis-server is needed (Debian: redis-server)" >&2; exit 1; }

htpasswd -nbB -C 5 bench bench >"$WORK/users"
head -c 32 /dev/urandom >"$WORK/store.secret"
start_bg redis redis-server --port "$REDIS" --bind 127.0.0.1 --save "" --appendonly no

gateway() { # name port store-lines
    cat >"$WORK/$1.toml" <<TOML
workers = $WORKERS
[[listen]]
bind = "127.0.0.1:$2"
[auth]
htpasswd = "$WORK/users"
lockout = "5/60s"
[rate_limit]
per_client = "1000000/s"
per_user = "1000000/s"
$3
[[routes]]
echo = true
TOML
    start_bg "$1" "$TOLLGATE" run "$WORK/$1.toml"
}
gateway memory "$MEM" ""
gateway redis "$RED" "store = \"redis://127.0.0.1:$REDIS/0\"
store_secret_file = \"$WORK/store.secret\""

AUTH="Authorization: Basic $(printf bench:bench | base64)"
for port in "$MEM" "$RED"; do
    wait_port "$port" /
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "http://127.0.0.1:$port/")
    [[ "$code" == 200 ]] || { echo "port $port answered $code, not 200" >&2; exit 1; }
done
# The Redis gateway must count in Redis (its scripts ran), not fall back to memory.
calls=$(redis-cli -p "$REDIS" INFO commandstats | grep -cE '^cmdstat_(evalsha|eval):' || true)
[[ "$calls" != 0 ]] || { echo "the redis gateway ran no script in Redis" >&2; exit 1; }

for round in $(seq "$ROUNDS"); do
    record memory "$(bench "http://127.0.0.1:$MEM/" "$AUTH")"
    record redis "$(bench "http://127.0.0.1:$RED/" "$AUTH")"
    echo "round $round done" >&2
done

printf '%-8s %12s %10s %10s\n' store "requests/s" "p50 ms" "p99 ms"
for name in memory redis; do
    printf '%-8s %12s %10s %10s\n' "$name" "$(field "$name" 1)" "$(field "$name" 2)" "$(field "$name" 3)"
done
awk -v m50="$(field memory 2)" -v r50="$(field redis 2)" -v m99="$(field memory 3)" -v r99="$(field redis 3)" \
    'BEGIN { printf "redis adds: p50 %+.3f ms, p99 %+.3f ms per request\n", r50 - m50, r99 - m99 }'
