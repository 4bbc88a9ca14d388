#!/bin/sh
# Build the NIF with cargo and install it into priv/ atomically: a loaded .so
# must never be overwritten in place (the VM maps it), so copy then rename.
#
# erlang:load_nif/2 appends ".so" on every Unix, macOS included, while cargo
# names the library .dylib on macOS: it is installed under the .so name.
#
# ERLDIST_FILTER_PREBUILT_NIF=/path/liberldist_filter_nif.so installs that
# file instead of building (no Rust needed; see README, "Prebuilt NIF").
# CARGO_TARGET_DIR is honoured. Says what it builds and where it puts it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "native/build.sh: $*"; }
case "$(uname -s)" in
    Darwin) ext=dylib ;;
    *) ext=so ;;
esac
if [ -n "${ERLDIST_FILTER_PREBUILT_NIF:-}" ]; then
    nif=$ERLDIST_FILTER_PREBUILT_NIF
    [ -f "$nif" ] || { echo "native/build.sh: no such file: $nif" >&2; exit 1; }
    say "using the prebuilt NIF $nif"
else
    say "building the NIF (cargo build --release --locked -p erldist_filter_nif) in $root"
    cargo build --release --locked -p erldist_filter_nif --quiet
    nif=${CARGO_TARGET_DIR:-target}/release/liberldist_filter_nif.$ext
    [ -f "$nif" ] || { echo "native/build.sh: cargo left no $nif" >&2; exit 1; }
fi
mkdir -p priv/.tmp
cp "$nif" priv/.tmp/liberldist_filter_nif.so
mv -f priv/.tmp/liberldist_filter_nif.so priv/liberldist_filter_nif.so
say "installed $nif as $root/priv/liberldist_filter_nif.so"
