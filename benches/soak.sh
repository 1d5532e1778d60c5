#!/usr/bin/env bash
# The soak (issue 20): mixed good, bad and slow traffic against the gateway for a long time,
# with its resident memory and open descriptors sampled every 10 s from /proc.
#
#   good   wrk, CONNECTIONS (64) keep-alive connections, the cached user's right password
#   bad    wrk, 4 connections of wrong passwords (answered 401, then 429 by the lockout)
#   slow   SLOW (16) clients at a time that send a request head a byte every 0.5 s (closed
#          by header_read_timeout = 5s) and clients that read a 10 MB file at 1 MB/s
#
# Prints a table (seconds, VmRSS KiB, open fds, threads, and the time one more request of the
# good user takes on a new connection), then: good requests and how many
# were not 2xx (target: 0), and the log lines at WARN or above (target: none a good request
# caused). Stops everything it started (trap), whatever happens.
#
# Usage: benches/soak.sh      (SOAK_SECONDS=1800 CONNECTIONS=64 WORKERS=2 SLOW=16)
# TOLLGATE=path/to/tollgate runs that binary; otherwise the release binary is built
# (benches/common.sh, which also installs wrk, htpasswd, curl and python3 when missing).
set -euo pipefail

SOAK_SECONDS=${SOAK_SECONDS:-1800}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-2}
SLOW=${SLOW:-16}
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
need

PORT=18812
mkdir -p "$WORK/site"
head -c 10000000 /dev/zero > "$WORK/site/big.bin"
htpasswd -nbB -C 10 soak soak-password > "$WORK/users"
chmod 600 "$WORK/users"
cat > "$WORK/gateway.toml" <<EOF
workers = $WORKERS

[[listen]]
bind = "127.0.0.1:$PORT"
header_read_timeout = "5s"

[forwarded]
trust = { proxies = ["127.0.0.1"] }

[auth]
htpasswd = "$WORK/users"
lockout = "5/60s"

[[routes]]
path = "/files"
files = { dir = "$WORK/site" }

[[routes]]
echo = true
EOF
"$TOLLGATE" --log warn run "$WORK/gateway.toml" > /dev/null 2> "$WORK/gateway.log" &
GATEWAY=$!
PIDS+=("$GATEWAY")
wait_port "$PORT"

GOOD="Authorization: Basic $(printf 'soak:soak-password' | base64)"
BAD="Authorization: Basic $(printf 'soak:wrong-password' | base64)"
curl -s -o /dev/null -H "$GOOD" "http://127.0.0.1:$PORT/"

wrk -t1 -c"$CONNECTIONS" -d"${SOAK_SECONDS}s" --latency -H "$GOOD" "http://127.0.0.1:$PORT/" \
    > "$WORK/good.txt" &
PIDS+=($!)
wrk -t1 -c4 -d"${SOAK_SECONDS}s" -H "$BAD" -H "X-Forwarded-For: 192.0.2.9" \
    "http://127.0.0.1:$PORT/" > "$WORK/bad.txt" &
PIDS+=($!)

# Slow clients, SLOW at a time, for the whole run: half slowloris heads, half slow readers.
python3 - "$PORT" "$SLOW" "$SOAK_SECONDS" "$GOOD" <<'EOF' &
import socket, sys, threading, time
port, slow, seconds, good = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
end = time.time() + seconds

def loris():
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            for b in b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 64:
                s.send(bytes([b]))
                time.sleep(0.5)
        except OSError:
            pass

def reader():
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(("GET /files/big.bin HTTP/1.1\r\nHost: soak\r\n%s\r\nConnection: close\r\n\r\n" % good).encode())
            while time.time() < end and s.recv(65536):
                time.sleep(0.06)  # ~1 MB/s
        except OSError:
            pass

threads = [threading.Thread(target=loris if i % 2 else reader, daemon=True) for i in range(slow)]
for t in threads:
    t.start()
while time.time() < end:
    time.sleep(1)
EOF
PIDS+=($!)

# probe_ms: one more request with the good user's password, on a new connection, timed by curl.
printf '%8s %12s %8s %8s %9s\n' seconds rss_kib fds threads probe_ms
start=$(date +%s)
while :; do
    now=$(( $(date +%s) - start ))
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$GATEWAY/status" 2>/dev/null || echo gone)
    threads=$(awk '/Threads/ { print $2 }' "/proc/$GATEWAY/status" 2>/dev/null || echo -)
    fds=$(ls "/proc/$GATEWAY/fd" 2>/dev/null | wc -l)
    probe=$(curl -s -o /dev/null -m 10 -w '%{time_total}' -H "$GOOD" "http://127.0.0.1:$PORT/" |
        awk '{ printf "%.1f", $1 * 1000 }')
    printf '%8s %12s %8s %8s %9s\n' "$now" "$rss" "$fds" "$threads" "$probe"
    ((now >= SOAK_SECONDS)) && break
    sleep 10
done
wait "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null || true

good=$(awk '/requests in/ { print $1 }' "$WORK/good.txt")
not2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/good.txt")
errors=$(awk '/Socket errors/' "$WORK/good.txt")
echo "good requests: ${good:-0}; not 2xx: ${not2xx:-0} (target 0)${errors:+; $errors}"
echo "good requests' latency (wrk):"
sed -n '/Latency Distribution/,/requests in/p' "$WORK/good.txt"
echo "bad requests: $(awk '/requests in/ { print $1 }' "$WORK/bad.txt")"
echo "log lines at WARN or above (the failed logins are expected; anything else is a finding):"
grep -E "WARN|ERROR" "$WORK/gateway.log" | sed -E 's/.*(WARN|ERROR)/\1/' | cut -c1-160 | sort | uniq -c | sort -rn | head -20
