#!/bin/sh
# Build the NIF with cargo and install it into priv/ atomically: a loaded .so
# must never be overwritten in place (the VM maps it), so copy then rename.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --locked -p erldist_filter_nif --quiet
mkdir -p priv/.tmp
cp target/release/liberldist_filter_nif.so priv/.tmp/liberldist_filter_nif.so
mv -f priv/.tmp/liberldist_filter_nif.so priv/liberldist_filter_nif.so
