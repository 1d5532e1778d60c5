#!/usr/bin/env bash
# Takes a headless Chromium screenshot of the directory listing `tollgate serve` renders, so
# the page can be looked at without a desktop browser.
#
#   benches/listing_screenshot.sh [OUT.png]
#
# - Installs Debian's `chromium` package when it is missing (needs root, as on the dev and CI
#   machines; otherwise install it yourself).
# - Builds the `tollgate` binary, makes a directory with ordinary and hostile names (HTML tags,
#   quotes, spaces, unicode, `%`, `?`, `#`), serves it on 127.0.0.1 (a free port) and
#   screenshots two listings at 1000x700: the root and a subdirectory.
# - Writes OUT.png (default `$CARGO_TARGET_DIR/listing.png`, or `target/listing.png`) and
#   OUT-sub.png, and fails when Chromium writes no PNG.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
out=${1:-$target/listing.png}
out=$(realpath -m "$out")
sub_out=${out%.png}-sub.png

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A private copy of the binary: a shared target directory may be rebuilt under us.
cargo build -q --all-features --bin tollgate
cp "$target/debug/tollgate" "$work/tollgate"
bin=$work/tollgate

site=$work/site
mkdir -p "$site/docs/guides" "$site/images" "$site/releases" "$site/<b>not bold<i>"
printf '# tollgate\n' > "$site/README.md"
head -c 1536 /dev/zero > "$site/logo.png"
head -c 3500000 /dev/zero > "$site/releases/tollgate-0.1.0-x86_64.tar.gz"
head -c 123456 /dev/zero > "$site/images/screenshot 2024-05-01.png"
printf 'x' > "$site/<script>alert(1)<.txt"
printf 'x' > "$site/quote\"s & 'apostrophes'.txt"
printf 'x' > "$site/ünïcødé фото 🦀.txt"
printf 'x' > "$site/100% done?#.txt"
printf 'x' > "$site/.hidden"
printf 'body{}' > "$site/docs/style.css"
printf '<h1>x</h1>' > "$site/docs/guides/intro.html"
touch -d '2024-05-01 13:45' "$site/README.md" "$site/logo.png"

"$bin" serve "$site" --bind 127.0.0.1:0 >"$work/log" 2>&1 &
server=$!
url=
for _ in $(seq 1 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/log" | head -n 1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "tollgate serve did not start:" >&2
  cat "$work/log" >&2
  exit 1
fi

shoot() {
  rm -f "$2"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$(mktemp -d -p "$work")" --screenshot="$2" --window-size=1000,700 \
    "$1" >/dev/null 2>&1 || true
  if [ ! -s "$2" ]; then
    echo "chromium wrote no screenshot for $1" >&2
    exit 1
  fi
  echo "$2"
}

shoot "$url/" "$out"
shoot "$url/docs/" "$sub_out"
