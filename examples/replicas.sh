#!/usr/bin/env bash
# Two `tollgate run` replicas sharing one redis-server for their limits and lockout, behind
# nginx, all on loopback; every process is stopped on exit (Ctrl-C included).
#
#   examples/replicas.sh            # runs until Ctrl-C; try: curl -u alice:wonderland http://127.0.0.1:8080/
#   examples/replicas.sh --check    # starts everything, shows the shared lockout, stops
#
# Environment: TOLLGATE (the binary, default target/debug/tollgate), PORT (nginx, 8080),
# PORT_A/PORT_B (the replicas, 8081/8082), REDIS_PORT (6380). See docs/scaling.md.
set -euo pipefail

TOLLGATE=${TOLLGATE:-target/debug/tollgate}
PORT=${PORT:-8080}
PORT_A=${PORT_A:-8081}
PORT_B=${PORT_B:-8082}
REDIS_PORT=${REDIS_PORT:-6380}
for tool in redis-server nginx htpasswd curl; do
    command -v "$tool" >/dev/null || { echo "replicas.sh: $tool is needed" >&2; exit 1; }
done
[ -x "$TOLLGATE" ] || { echo "replicas.sh: build tollgate first (cargo build), or set TOLLGATE" >&2; exit 1; }

dir=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

# What every replica shares: the users, the secret keying Redis's keys, the config.
htpasswd -nbB -C 5 alice wonderland > "$dir/users"
head -c 32 /dev/urandom > "$dir/store.secret"
chmod 600 "$dir/store.secret"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    > "$dir/redis.log" 2>&1 &
pids+=($!)

for port in "$PORT_A" "$PORT_B"; do
    cat > "$dir/replica-$port.toml" <<TOML
[[listen]]
bind = "127.0.0.1:$port"

[forwarded]
trust = { proxies = ["127.0.0.1"] }

[auth]
htpasswd = "$dir/users"
lockout = "5/60s"

[rate_limit]
per_client = "50/s"
store = "redis://127.0.0.1:$REDIS_PORT/0"
store_secret_file = "$dir/store.secret"
on_store_error = "local"

[[routes]]
echo = true
TOML
    "$TOLLGATE" run "$dir/replica-$port.toml" > "$dir/replica-$port.log" 2>&1 &
    pids+=($!)
done

cat > "$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
    uwsgi_temp_path $dir; scgi_temp_path $dir;
    upstream tollgate { server 127.0.0.1:$PORT_A; server 127.0.0.1:$PORT_B; }
    server {
        listen 127.0.0.1:$PORT;
        location / {
            proxy_pass http://tollgate;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header Host \$host;
        }
    }
}
NGINX
nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)

# Ready when nginx answers through a replica (401: no credentials yet).
for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" || true)
    [ "$code" = 401 ] && break
    sleep 0.1
done
[ "$code" = 401 ] || { echo "replicas.sh: not ready (last answer $code)" >&2; cat "$dir"/*.log >&2; exit 1; }
echo "nginx on http://127.0.0.1:$PORT -> tollgate on :$PORT_A and :$PORT_B, redis on :$REDIS_PORT"

if [ "${1:-}" != "--check" ]; then
    echo "Ctrl-C stops everything."
    wait "${pids[@]}"
    exit 0
fi

# Round-robin spreads the guesses over both replicas; the lockout still holds at 5, not 10.
codes=()
for _ in 1 2 3 4 5 6; do
    codes+=("$(curl -s -o /dev/null -w '%{http_code}' -u alice:guess "http://127.0.0.1:$PORT/")")
done
echo "six wrong passwords through nginx: ${codes[*]}"
[ "${codes[*]}" = "401 401 401 401 401 429" ] || { echo "replicas.sh: lockout not shared" >&2; exit 1; }
echo "shared lockout holds: 5 failures across both replicas, not 10"
