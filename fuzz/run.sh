#!/usr/bin/env bash
# Builds every fuzz target and runs each for a fixed time from its seed corpus.
#
#   fuzz/run.sh                 # every target, 20 s each
#   fuzz/run.sh 40              # every target, 40 s each
#   fuzz/run.sh 60 wire_request # one target, 60 s
#
# Fails on the first crash, leak, timeout or out-of-memory, printing the reproducer's path
# and the command that replays it. New corpus entries go to a temporary directory, so the
# checkout stays clean; findings go to fuzz/artifacts/TARGET/.
set -euo pipefail

cd "$(dirname "$0")/.."
secs="${1:-20}"
shift || true

rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

# No sanitizer: the crate forbids `unsafe`, and this halves build and run time. Debug
# assertions on: integer overflow panics instead of wrapping.
build_flags=(--sanitizer none --debug-assertions)
cargo +nightly fuzz build "${build_flags[@]}"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

dict_for() {
    case "$1" in
        wire_* | diff_* | service_stack | gateway_roundtrip) echo fuzz/dict/http.dict ;;
        query | urlencoded_form) echo fuzz/dict/query.dict ;;
        cookie_header | set_cookie) echo fuzz/dict/cookie.dict ;;
        accept*) echo fuzz/dict/accept.dict ;;
        *) if [ -f "fuzz/dict/$1.dict" ]; then echo "fuzz/dict/$1.dict"; fi ;;
    esac
    return 0
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "fuzz/corpus/$target" "fuzz/artifacts/$target"
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="fuzz/artifacts/$target/")
    dict="$(dict_for "$target")"
    [ -n "$dict" ] && args+=(-dict="$dict")
    log="$work/$target.log"
    echo "== $target (${secs}s)"
    # One process, one worker: the machine is shared.
    if cargo +nightly fuzz run "${build_flags[@]}" "$target" "$work/$target" "fuzz/corpus/$target" \
        -- "${args[@]}" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
        grep -E '^stat::number_of_executed_units' "$log" || true
    else
        failed=1
        tail -40 "$log"
        reproducer="$(grep -oE "fuzz/artifacts/$target/[a-z-]+-[0-9a-f]+" "$log" | tail -1 || true)"
        echo "FAILED: $target"
        if [ -n "$reproducer" ]; then
            echo "reproducer: $reproducer"
            echo "replay:     cargo +nightly fuzz run ${build_flags[*]} $target $reproducer"
        fi
        break
    fi
done
exit "$failed"
