# Shared by benches/compression.sh and benches/cache.sh: a work directory, processes that are
# all stopped on exit or interrupt, nginx configurations, waiting for ports, one wrk run.
# Sourced, not run.

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
WORKERS=${WORKERS:-1}
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
trap 'exit 130' INT TERM

need() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        echo "installing ${missing[*]}" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
    if [[ -z "${TOLLGATE:-}" ]]; then
        (cd "$ROOT" && cargo build --release --all-features --bin tollgate >&2)
        TOLLGATE=$TARGET/release/tollgate
    fi
    NGINX=$(command -v nginx)
}

nginx_conf() { # name workers http-block-lines
    local name=$1 workers=$2 block=$3
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name/nginx.conf" <<CONF
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
CONF
}

start_bg() { # log-name command...
    local log=$1
    shift
    "$@" >"$WORK/$log.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

wait_port() { # port path
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$1$2"; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on port $1; logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
    exit 1
}

# One wrk run: prints "rps p50_ms p99_ms".
bench() { # url [header]
    local out rps p50 p99 errors
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency ${2:+-H "$2"} "$1")
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
field() { awk -v c="$2" 'NF {print $c}' <<<"${RESULTS[$1]:-}" | median; }
