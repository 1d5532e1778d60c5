#!/usr/bin/env bash
# Peak resident memory (VmHWM) of a server receiving one multipart upload of SIZE_MB with curl.
#
#   benches/upload_memory.sh [SIZE_MB] [echo|form-data] [--release]
#
# echo:      the echo service's FormSummary (files hashed as they stream, never stored)
# form-data: Request::form_data (files spooled to $TMPDIR, deleted after the answer)
# Prints the server's VmHWM before and after the upload.
set -euo pipefail
size_mb=${1:-100}
mode=${2:-echo}
profile=${3:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
cd "$(dirname "$0")/.."

cargo build -q --all-features --example upload_server $profile
dir=debug
[ "$profile" = "--release" ] && dir=release
bin="$CARGO_TARGET_DIR/$dir/examples/upload_server"

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/upload.bin"
"$bin" "$mode" > "$work/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q "Serving on" "$work/server.out" && break; sleep 0.1; done
addr=$(sed -n 's|^Serving on http://||p' "$work/server.out")

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status"; }
before=$(hwm)
start=$(date +%s.%N)
curl -sS -o "$work/answer.json" -F "blob=@$work/upload.bin;type=application/octet-stream" "http://$addr/"
end=$(date +%s.%N)
after=$(hwm)

echo "mode=$mode profile=${dir} upload=${size_mb} MiB"
echo "answer: $(head -c 300 "$work/answer.json")"
echo "server VmHWM before upload: ${before} KiB"
echo "server VmHWM after upload:  ${after} KiB"
awk -v s="$start" -v e="$end" -v m="$size_mb" 'BEGIN { printf "wall time: %.2f s (%.0f MiB/s)\n", e - s, m / (e - s) }'
