#!/bin/sh
# Build the NIF with cargo and install it into priv/ atomically: a loaded .so
# must never be overwritten in place (the VM maps it), so copy then rename.
#
# ERLDIST_FILTER_PREBUILT_NIF=/path/liberldist_filter_nif.so installs that
# file instead of building (no Rust needed; see README, "Prebuilt NIF").
# CARGO_TARGET_DIR is honoured.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -n "${ERLDIST_FILTER_PREBUILT_NIF:-}" ]; then
    nif=$ERLDIST_FILTER_PREBUILT_NIF
    [ -f "$nif" ] || { echo "build.sh: no such file: $nif" >&2; exit 1; }
else
    cargo build --release --locked -p erldist_filter_nif --quiet
    nif=${CARGO_TARGET_DIR:-target}/release/liberldist_filter_nif.so
fi
mkdir -p priv/.tmp
cp "$nif" priv/.tmp/liberldist_filter_nif.so
mv -f priv/.tmp/liberldist_filter_nif.so priv/liberldist_filter_nif.so
