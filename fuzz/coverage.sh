#!/usr/bin/env bash
# Line coverage of one fuzz target over its corpus (cargo fuzz coverage + llvm-cov from
# rustup's llvm-tools, installed here when missing).
#
#   fuzz/coverage.sh wire_request                 # the committed seeds
#   fuzz/coverage.sh wire_request /tmp/corpus     # plus a corpus from a longer run
#
# Prints the line coverage of each file of the parsers (src/wire, src/syntax, and the other
# modules named in PARSERS), writes the whole llvm-cov report to
# fuzz/coverage/TARGET/report.txt and an HTML view (per line) to fuzz/coverage/TARGET/html/.
set -euo pipefail

cd "$(dirname "$0")/.."
target="${1:?usage: fuzz/coverage.sh TARGET [CORPUS_DIR...]}"
shift
PARSERS="${PARSERS:-src/wire/|src/syntax/|src/multimap|src/cookies|src/negotiate|src/response/range|src/forwarded/|src/credentials|src/form/}"

rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
rustup component add llvm-tools-preview --toolchain nightly >/dev/null 2>&1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
tools="$(rustc +nightly --print sysroot)/lib/rustlib/$host/bin"

# Runs every input once with coverage instrumentation and merges the profiles into
# fuzz/coverage/TARGET/coverage.profdata.
cargo +nightly fuzz coverage --sanitizer none "$target" "fuzz/corpus/$target" "$@"

# cargo-fuzz builds the coverage binary under fuzz/target or, in newer versions, target/.
exe="$(find fuzz/target target -path "*/coverage/*" -type f -name "$target" -perm -u+x 2>/dev/null | head -1)"
[ -n "$exe" ] || { echo "coverage.sh: no coverage build of $target found" >&2; exit 1; }
profile="fuzz/coverage/$target/coverage.profdata"
ignore='/\.cargo/|/rustc/|fuzz_targets/'
"$tools/llvm-cov" report "$exe" -instr-profile="$profile" -ignore-filename-regex="$ignore" \
    >"fuzz/coverage/$target/report.txt"
"$tools/llvm-cov" show "$exe" -instr-profile="$profile" -ignore-filename-regex="$ignore" \
    -format=html -output-dir="fuzz/coverage/$target/html" -show-line-counts-or-regions
# Columns of `llvm-cov report`: file, regions, missed, %, functions, missed, %, lines,
# missed, %, branches...
echo "line coverage of the parsers ($target):"
grep -E "$PARSERS" "fuzz/coverage/$target/report.txt" |
    awk '{ printf "%-40s %6d lines %6d missed %8s\n", $1, $8, $9, $10 }'
echo "full report: fuzz/coverage/$target/report.txt; per line: fuzz/coverage/$target/html/index.html"
