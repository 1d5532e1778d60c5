#!/usr/bin/env bash
# The lockout storm benchmark (issue 16): a user whose verification is cached, on one address,
# keeps at least 90 % of its throughput while another address sends 1 000 wrong passwords for
# the same user.
#
#   baseline  wrk: the cached user alone (X-Forwarded-For 198.51.100.1)
#   storm     the same wrk, while `ab -n 1000` sends wrong passwords for that user from
#             192.0.2.66 (locked out after 5 failures by `--lockout 5/60s`: 5 bcrypt
#             verifications, then cheap 429s)
#   addresses (ADDRESSES=16) the storm comes from that many addresses at once (192.0.2.1..N,
#             each sending ATTEMPTS/N wrong passwords): issue 20's 1 000 attempts/s from several
#             addresses; the attempts/s reached is printed
#   distinct  (DISTINCT=1) each wrong password differs (wrk and benches/distinct_guesses.lua,
#             ATTEMPTS/ADDRESSES from each address): the refused-pair memory never answers,
#             only the verification budget and the lockout hold the storm (LOCKOUT= for the
#             budget alone)
#   keep-alive (KEEPALIVE=1) the storm's ab keeps its connections (-k); by default every
#             attempt is a new connection, as a scripted attacker's often is
#   control   (CONTROL=1) the same storm goes to an nginx beside the gateway (one worker, a
#             `401` for every request) instead of to the gateway: what the storm's traffic
#             costs the cached user on these two shared cores (the load generator's processes,
#             the kernel's accepts and closes) when the gateway does none of its work. Needs
#             nginx.
#   flood     (FLOOD=1) the attacker sends wrong passwords for the whole run instead: a
#             request flood takes its share of the CPU whatever the answer (the per-client
#             rate limit, not the lockout, is the tool against that)
#
# Prints requests/s of both, how the storm was answered, and the ratio.
#
# Usage: benches/lockout_storm.sh     (DURATION=5 CONNECTIONS=8 WORKERS=1 ROUNDS=3 LOCKOUT=5/60s
#                                      ADDRESSES=1 ATTEMPTS=1000 DISTINCT= KEEPALIVE= CONTROL=)
# LOCKOUT= (empty) runs the gateway without a lockout, for comparison: every wrong password is
# then a bcrypt verification.
# TOLLGATE=path/to/tollgate runs that binary; otherwise the debug binary is built (set
# TOLLGATE=target/release/tollgate after `cargo build --release --all-features` for figures
# comparable with benches/gateway.sh). Needs wrk, htpasswd (apache2-utils) and curl.
set -euo pipefail

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-8}
WORKERS=${WORKERS:-1}
ROUNDS=${ROUNDS:-3}
ADDRESSES=${ADDRESSES:-1}
ATTEMPTS=${ATTEMPTS:-1000}
LOCKOUT=${LOCKOUT-5/60s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/tollgate-storm.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n "${KEEP:-}" ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk ab htpasswd curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk apache2-utils curl)" >&2; exit 1; }
done
if [[ -z "${TOLLGATE:-}" ]]; then
    (cd "$ROOT" && cargo build --all-features --bin tollgate >&2)
    TOLLGATE=$TARGET/debug/tollgate
fi

PORT=18811
htpasswd -nbB -C 10 bench bench-password > "$WORK/users"
chmod 600 "$WORK/users"
"$TOLLGATE" --log warn proxy --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
    --users "$WORK/users" --trusted-proxy 127.0.0.1 ${LOCKOUT:+--lockout "$LOCKOUT"} \
    2> "$WORK/gateway.log" &
PIDS+=($!)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done

STORM_PORT=$PORT
if [[ -n "${CONTROL:-}" ]]; then
    command -v nginx >/dev/null || { echo "CONTROL=1 needs nginx (apt-get install nginx-light)" >&2; exit 1; }
    STORM_PORT=18812
    mkdir -p "$WORK/nginx/logs"
    cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server { listen 127.0.0.1:$STORM_PORT; location / { return 401; } }
}
CONF
    nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2> "$WORK/nginx.log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$STORM_PORT/" && break
        sleep 0.1
    done
fi

GOOD="Authorization: Basic $(printf 'bench:bench-password' | base64)"
BAD="Authorization: Basic $(printf 'bench:wrong-password' | base64)"
# Warm the verification cache.
curl -s -o /dev/null -H "$GOOD" -H "X-Forwarded-For: 198.51.100.1" "http://127.0.0.1:$PORT/"

rps() { awk '/Requests\/sec/ { print $2 }' "$1"; }

ratios=()
for round in $(seq "$ROUNDS"); do
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "$GOOD" -H "X-Forwarded-For: 198.51.100.1" \
        "http://127.0.0.1:$PORT/" > "$WORK/base.txt"
    if [[ -n "${FLOOD:-}" ]]; then
        wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "$BAD" -H "X-Forwarded-For: 192.0.2.66" \
            "http://127.0.0.1:$PORT/" > "$WORK/attack.txt" &
    elif [[ -n "${DISTINCT:-}" ]]; then
        # A different wrong password in every request: the refusal memory never answers, so
        # only the verification budget (hashing threads, queue, 503) and the lockout hold it.
        (
            for a in $(seq "$ADDRESSES"); do
                wrk -t1 -c2 -d"${DURATION}s" -s "$ROOT/benches/distinct_guesses.lua" \
                    "http://127.0.0.1:$PORT/" -- "10.$round.$((a / 250)).$((a % 250 + 1))" \
                    $((ATTEMPTS / ADDRESSES)) > "$WORK/attack.$a.txt" 2>&1 &
            done
            wait
            cat "$WORK"/attack.*.txt > "$WORK/attack.txt"
            rm -f "$WORK"/attack.*.txt
        ) &
    elif ((ADDRESSES > 1)); then
        # Several addresses at once, new ones each round (10.R.0.1..N): each starts unlocked.
        (
            for a in $(seq "$ADDRESSES"); do
                ab -q ${KEEPALIVE:+-k} -n $((ATTEMPTS / ADDRESSES)) -c 2 -H "${BAD}" \
                    -H "X-Forwarded-For: 10.$round.$((a / 250)).$((a % 250 + 1))" \
                    "http://127.0.0.1:$STORM_PORT/" > "$WORK/attack.$a.txt" 2>&1 &
            done
            wait
            cat "$WORK"/attack.*.txt > "$WORK/attack.txt"
            rm -f "$WORK"/attack.*.txt
        ) &
    else
        # A new attacker address each round: each storm starts unlocked.
        ab -q ${KEEPALIVE:+-k} -n "$ATTEMPTS" -c 4 -H "${BAD}" -H "X-Forwarded-For: 192.0.2.$((65 + round))" \
            "http://127.0.0.1:$STORM_PORT/" > "$WORK/attack.txt" 2>&1 &
    fi
    attack=$!
    started=$(date +%s.%N)
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "$GOOD" -H "X-Forwarded-For: 198.51.100.1" \
        "http://127.0.0.1:$PORT/" > "$WORK/storm.txt"
    wait "$attack"
    ended=$(date +%s.%N)
    base=$(rps "$WORK/base.txt")
    storm=$(rps "$WORK/storm.txt")
    sent=$(awk '/requests in/ { s += $1 } /Complete requests/ { s += $3 } END { print s + 0 }' "$WORK/attack.txt")
    non2xx=$(awk '/Non-2xx/ { s += $NF } END { print s + 0 }' "$WORK/attack.txt")
    took=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f s", b - a }')
    per_s=$(awk -v n="$sent" -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", n / (b - a) }')
    ratio=$(awk -v a="$storm" -v b="$base" 'BEGIN { printf "%.1f", 100 * a / b }')
    ratios+=("$ratio")
    echo "round $round: cached user alone ${base} req/s; during the storm ${storm} req/s (${ratio} %); storm: ${sent} wrong-password requests from ${ADDRESSES} address(es) in ${took} (${per_s}/s, while it lasted), ${non2xx:-0} refused"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median: ${median} % of the cached user's throughput during the storm (target: >= 90 %)"
