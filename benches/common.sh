# Shared by the benchmark scripts (gateway.sh, compression.sh, cache.sh, tls.sh, latency.sh,
# memory.sh): a work directory, processes that are all stopped on exit or interrupt, nginx
# configurations, waiting for ports, one wrk run with the CPU time its servers spent.
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
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    command -v python3 >/dev/null || missing+=(python3)
    for tool in ${NEED_MORE:-}; do command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}"); done
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

wait_port() { # port [path] [header]
    for _ in $(seq 100); do
        if curl -s -o /dev/null ${3:+-H "$3"} "http://127.0.0.1:$1${2:-/}"; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on port $1; logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
    exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The process and its children (nginx's master and workers): what CPU time is summed over.
family() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }

# User and system CPU time of the processes, in clock ticks, apart: "USER SYSTEM"
# (/proc/PID/stat fields 14 and 15).
cpu_split() { # pid...
    local user=0 system=0 pid stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) } # the command name may hold spaces: fields counted after it
        read -r -a f <<<"$stat"
        user=$((user + f[11])) system=$((system + f[12]))
    done
    echo "$user $system"
}

CLK_TCK=$(getconf CLK_TCK)

# CPU time per unit of work (request, connection) between two cpu_split readings:
# "total_us user_us", the user + system time and the user time alone, in µs per unit ("n/a n/a"
# without units).
cpu_per_unit() { # before after units
    awk -v b="$1" -v a="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN {
        split(b, x, " "); split(a, y, " "); u = y[1] - x[1]; s = y[2] - x[2]
        if (n > 0) printf "%.2f %.2f\n", (u + s) / hz * 1e6 / n, u / hz * 1e6 / n
        else print "n/a n/a" }'
}

# The share of one core a command run under bash's `time` (TIMEFORMAT='%U %S %R') used, from
# the last line `time` wrote to FILE: near 1.00 the command, not the server, set the pace.
core_share() { # file
    awk '{ if ($3 > 0) printf "%.2f", ($1 + $2) / $3; else print "n/a" }' <(tail -n 1 "$1")
}

# One wrk run: prints "rps p50_ms p99_ms cpu_us_per_request client_core user_us_per_request"
# (the fourth and sixth "n/a" without PIDS_OF_SERVER: the processes whose CPU time the run is
# charged, e.g. "$(family $PID)"). client_core is the share of one core wrk's one thread used
# (user + system over wall time): near 1.00 the load generator, not the server, set the pace.
# user_us_per_request is the part of the fourth spent in user space (the rest is the kernel's).
bench() { # url [header]
    local out rps p50 p99 errors requests before after cpu=n/a user=n/a client
    local pids=(${PIDS_OF_SERVER:-})
    local TIMEFORMAT='%U %S %R'
    ((${#pids[@]})) && before=$(cpu_split "${pids[@]}")
    # `time` reports on the group's standard error (a file); wrk's own errors stay visible.
    out=$( { time wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency ${2:+-H "$2"} "$1" \
        2>&3; } 3>&2 2>"$WORK/wrk.time")
    client=$(core_share "$WORK/wrk.time")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    if ((${#pids[@]})); then
        after=$(cpu_split "${pids[@]}")
        read -r cpu user < <(cpu_per_unit "$before" "$after" "$requests")
    fi
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
    [[ -n "$errors" ]] && echo "  wrk: $errors ($1)" >&2
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $cpu $client $user"
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
field() { awk -v c="$2" 'NF && $c != "n/a" {print $c}' <<<"${RESULTS[$1]:-}" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Load average over the last minute, and a warning when the machine is not quiet.
check_quiet() {
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "load average at start: $load"
    awk -v l="$load" 'BEGIN { exit !(l > 1.0) }' &&
        echo "WARNING: the machine is busy (load $load): figures will measure it too" >&2
    return 0
}

# Instructions per request of a server, counted by callgrind: repeatable where req/s on a shared
# machine is not. The server runs under valgrind; `ab -k` sends 500 requests to warm it up, the
# counters are zeroed, then N requests are counted. Prints the count per request.
callgrind_per_request() { # n port header command...
    local n=$1 port=$2 header=$3 pid counted ir
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$port.out" "$@" \
        >"$WORK/cg.$port.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    curl -s -o /dev/null --retry 50 --retry-connrefused --retry-delay 1 ${header:+-H "$header"} \
        "http://127.0.0.1:$port/"
    ab -q -k -n 500 -c 4 ${header:+-H "$header"} "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    ab -q -k -n "$n" -c 4 ${header:+-H "$header"} "http://127.0.0.1:$port/" |
        grep -E "Failed requests: +[1-9]|Non-2xx" >&2 || true
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    stop "$pid"
    counted=$(ls "$WORK"/cg.$port.out.* | sort | head -1)
    [[ -n "${KEEP:-}" ]] && cp "$counted" "$KEEP.$port"
    ir=$(callgrind_annotate "$counted" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    rm -f "$WORK"/cg.$port.*
    echo $((ir / n))
}
