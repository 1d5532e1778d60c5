#!/usr/bin/env bash
# TLS: `tollgate proxy` and nginx terminating TLS with the same ECDSA P-256 certificate in front
# of the same upstream (an nginx answering "hello"), Basic auth on both (as benches/gateway.sh).
#   requests   h2load with a request count (-n, never -D: its duration mode paces requests),
#              HTTP/2 (-m 10 streams per connection) and HTTP/1.1 (--h1), kept-alive
#   handshakes new TLS connections per second, full and resumed, each with one request
#              (`openssl s_time -www / -new` and `-reuse`, one client: a comparison, not a peak)
# alternating rounds, 1 and 2 workers; prints the medians and tollgate/nginx ratios, of the rate
# and of the CPU time the server's processes spent per request or per connection.
#
# Usage: benches/tls.sh   (ROUNDS=3 REQUESTS=100000 CLIENTS=32 WORKERS="1 2" TIME=5)
set -euo pipefail
WORKERS=${WORKERS:-1 2} # before common.sh, whose default is one worker
source "$(dirname "$0")/common.sh"

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-32}
TIME=${TIME:-5}
NEED_MORE="h2load:nghttp2-client openssl:openssl" need
UP=18841 TG=18842 NG=18843
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
htpasswd -nbB bench bench-password >"$WORK/bcrypt.htpasswd" 2>/dev/null
htpasswd -nbs bench bench-password >"$WORK/sha.htpasswd" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK"/*.htpasswd "$WORK"/*.pem

echo "TLS benchmark: $(nproc) cores, rounds=$ROUNDS, $REQUESTS requests on $CLIENTS connections"
echo "tollgate: $TOLLGATE"
echo "nginx: $($NGINX -v 2>&1)"
check_quiet

# One h2load run: prints req/s.
h2() { # port [--h1]
    h2load -n "$REQUESTS" -c "$CLIENTS" -m "$([[ ${2:-} == --h1 ]] && echo 1 || echo 10)" \
        ${2:-} -H "$AUTH" "https://127.0.0.1:$1/" 2>/dev/null |
        awk '/^finished in/ {gsub(",", "", $4); print $4} /^requests:/ && $10 + 0 > 0 {print "h2load: " $0 > "/dev/stderr"}'
}

# New connections per second: prints the count from `openssl s_time`. Each connection asks
# for `/` (a 401 from both, s_time sends no credentials) and reads the answer: without a read,
# a TLS 1.3 client never sees a ticket a server sends after the handshake (rustls; OpenSSL
# servers such as nginx send theirs before the client's Finished), and `-reuse` measured full
# handshakes for tollgate.
handshakes() { # port -new|-reuse
    openssl s_time -connect "127.0.0.1:$1" -www / "$2" -time "$TIME" 2>/dev/null |
        awk -v t="$TIME" '/connections in .* real seconds/ {print $1 / t; exit}'
}

# Runs a command that prints a rate per second, and prints "rate cpu_us_per_unit": the user +
# system time the processes in SERVER_PIDS spent meanwhile, over the units served (`units`, or
# rate × TIME when 0: the handshake runs last TIME seconds).
with_cpu() { # units command...
    local units=$1 before after rate cpu
    shift
    before=$(cpu_split $SERVER_PIDS)
    rate=$("$@")
    after=$(cpu_split $SERVER_PIDS)
    ((units)) || units=$(awk -v r="${rate:-0}" -v t="$TIME" 'BEGIN { print r * t }')
    read -r cpu _ < <(cpu_per_unit "$before" "$after" "$units")
    echo "$rate $cpu"
}

for workers in $WORKERS; do
    nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 'hello\n'; } }"
    nginx_conf ng "$workers" "server { listen 127.0.0.1:$NG ssl http2;
        ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
        ssl_session_cache shared:tls:10m;
        # nginx before 1.23.4 (Debian 12 ships 1.22) offers TLS 1.2 at most unless told;
        # without this line every comparison was TLS 1.3 against TLS 1.2, whose resumption
        # skips the key exchange. Both now speak TLS 1.3, as tollgate's listener does.
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            auth_basic \"bench\"; auth_basic_user_file $WORK/sha.htpasswd;
            proxy_pass http://backend; proxy_http_version 1.1;
            proxy_set_header Connection \"\"; proxy_set_header Host \$host;
        } }"
    start_bg up "$NGINX" -c "$WORK/up/nginx.conf"
    UP_PID=$LAST_PID
    start_bg ng "$NGINX" -c "$WORK/ng/nginx.conf"
    NG_PID=$LAST_PID
    # The same flags as a file, with nginx's `keepalive_requests 100000` (common.sh): h2load
    # does not reconnect, so at tollgate's default cap of 1000 requests per connection 68 % of
    # an HTTP/2 run's requests failed.
    "$TOLLGATE" proxy --workers "$workers" \
        --upstream "http://127.0.0.1:$UP" --bind "127.0.0.1:$TG" \
        --users "$WORK/bcrypt.htpasswd" --realm bench \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --print-config |
        sed 's/^bind = .*/&\nmax_requests_per_connection = 100000/' >"$WORK/tollgate.toml"
    start_bg tollgate "$TOLLGATE" --log warn run "$WORK/tollgate.toml"
    TG_PID=$LAST_PID
    for port in $NG $TG; do
        for _ in $(seq 100); do
            curl -sk -o /dev/null -H "$AUTH" "https://127.0.0.1:$port/" && break
            sleep 0.1
        done
    done
    for port in $NG $TG; do # what each side negotiates, so a mismatch shows in the output
        echo "  port $port: $(openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
            grep -m 1 -E '^(New|Reused),')"
    done
    for round in $(seq "$ROUNDS"); do
        for setup in tollgate nginx; do
            port=$TG SERVER_PIDS=$(family "$TG_PID")
            [[ $setup == nginx ]] && port=$NG SERVER_PIDS=$(family "$NG_PID")
            record "w$workers/h2/$setup" "$(with_cpu "$REQUESTS" h2 $port)"
            record "w$workers/h1/$setup" "$(with_cpu "$REQUESTS" h2 $port --h1)"
            record "w$workers/handshakes-new/$setup" "$(with_cpu 0 handshakes $port -new)"
            record "w$workers/handshakes-resumed/$setup" "$(with_cpu 0 handshakes $port -reuse)"
            echo "  w=$workers round=$round $setup done"
        done
    done
    stop "$TG_PID"
    stop "$NG_PID"
    stop "$UP_PID"
done

echo
printf '%-40s %12s %14s\n' setup "per second" "CPU us/each"
for key in $(printf '%s\n' "${!RESULTS[@]}" | sort -V); do
    printf '%-40s %12.0f %14s\n' "$key" "$(field "$key" 1)" "$(field "$key" 2)"
done
echo
for workers in $WORKERS; do
    for kind in h2 h1 handshakes-new handshakes-resumed; do
        printf 'TLS %-20s w=%s tollgate/nginx %sx   CPU each %sx\n' "$kind" "$workers" \
            "$(ratio "$(field "w$workers/$kind/tollgate" 1)" "$(field "w$workers/$kind/nginx" 1)")" \
            "$(ratio "$(field "w$workers/$kind/tollgate" 2)" "$(field "w$workers/$kind/nginx" 2)")"
    done
done
