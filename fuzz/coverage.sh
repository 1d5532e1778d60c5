#!/usr/bin/env bash
# Line coverage of fuzz targets over their corpora (cargo fuzz coverage + llvm-cov from
# rustup's llvm-tools, installed here when missing).
#
#   fuzz/coverage.sh wire_request                 # one target, its committed seeds
#   fuzz/coverage.sh wire_request /tmp/corpus     # plus a corpus from a longer run
#   fuzz/coverage.sh --all                        # every target over its seeds, merged: the
#                                                 # parser lines that no target reaches
#
# Prints the line coverage of each file of the parsers (src/wire, src/syntax, and the other
# modules named in PARSERS), writes the whole llvm-cov report to fuzz/coverage/NAME/report.txt
# and an HTML view (per line) to fuzz/coverage/NAME/html/, where NAME is the target or `all`.
# With --all, fuzz/coverage/all/missed.txt lists every parser line no target runs.
set -euo pipefail

cd "$(dirname "$0")/.."
first="${1:?usage: fuzz/coverage.sh TARGET [CORPUS_DIR...] | --all}"
shift
PARSERS="${PARSERS:-src/wire/|src/syntax/|src/multimap|src/cookies|src/negotiate|src/response/range|src/forwarded/|src/credentials|src/form/}"

rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
rustup component add llvm-tools-preview --toolchain nightly >/dev/null 2>&1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
tools="$(rustc +nightly --print sysroot)/lib/rustlib/$host/bin"

# Runs every input of TARGET once with coverage instrumentation and merges the profiles into
# fuzz/coverage/TARGET/coverage.profdata; prints the instrumented binary's path.
cover() {
    local target="$1" exe
    shift
    # fuzz/limits/TARGET: seeds past the parsers' default limits (up to 68 KB), kept out of
    # fuzz/corpus so that fuzz/run.sh's short runs keep libFuzzer's max_len small.
    local limits=()
    if [ -d "fuzz/limits/$target" ]; then limits=("fuzz/limits/$target"); fi
    cargo +nightly fuzz coverage --sanitizer none "$target" "fuzz/corpus/$target" "${limits[@]}" "$@" >&2
    # cargo-fuzz builds the coverage binary under fuzz/target or, in newer versions, target/.
    exe="$(find fuzz/target target -path "*/coverage/*" -type f -name "$target" -perm -u+x 2>/dev/null | head -1)"
    [ -n "$exe" ] || { echo "coverage.sh: no coverage build of $target found" >&2; exit 1; }
    echo "$exe"
}

if [ "$first" = "--all" ]; then
    name=all
    objects=()
    profiles=()
    for target in $(cargo +nightly fuzz list); do
        objects+=("$(cover "$target")")
        profiles+=("fuzz/coverage/$target/coverage.profdata")
    done
    mkdir -p fuzz/coverage/all
    profile=fuzz/coverage/all/coverage.profdata
    "$tools/llvm-profdata" merge -sparse "${profiles[@]}" -o "$profile"
    exe="${objects[0]}"
    extra=()
    for object in "${objects[@]:1}"; do extra+=(-object "$object"); done
else
    name="$first"
    exe="$(cover "$first" "$@")"
    profile="fuzz/coverage/$first/coverage.profdata"
    extra=()
fi

ignore='/\.cargo/|/rustc/|fuzz_targets/'
out="fuzz/coverage/$name"
"$tools/llvm-cov" report "$exe" "${extra[@]}" -instr-profile="$profile" \
    -ignore-filename-regex="$ignore" >"$out/report.txt"
"$tools/llvm-cov" show "$exe" "${extra[@]}" -instr-profile="$profile" \
    -ignore-filename-regex="$ignore" -format=html -output-dir="$out/html" \
    -show-line-counts-or-regions
if [ "$name" = all ]; then
    # `llvm-cov show` text: "  LINE|  COUNT|source"; a count of 0 is a line never run.
    "$tools/llvm-cov" show "$exe" "${extra[@]}" -instr-profile="$profile" \
        -ignore-filename-regex="$ignore" -show-line-counts |
        awk -v parsers="$PARSERS" '
            /^\/.*:$/ { file = substr($0, 1, length($0) - 1); keep = (file ~ parsers); next }
            keep && $0 ~ /^ *[0-9]+\| *0\|/ { print file ":" $0 }' >"$out/missed.txt"
fi
# Columns of `llvm-cov report`: file, regions, missed, %, functions, missed, %, lines,
# missed, %, branches...
echo "line coverage of the parsers ($name):"
grep -E "$PARSERS" "$out/report.txt" |
    awk '{ printf "%-40s %6d lines %6d missed %8s\n", $1, $8, $9, $10 }'
echo "full report: $out/report.txt; per line: $out/html/index.html"
if [ "$name" = all ]; then echo "parser lines no target runs: $out/missed.txt"; fi
