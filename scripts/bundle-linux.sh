#!/usr/bin/env bash
# Builds Fathom's Linux package (.deb, x86-64): the app, the `fathom` CLI on the PATH (/usr/bin),
# MLX's CPU runtime under /usr/lib/fathom, the desktop entry and icons. OpenBLAS is a declared
# dependency (libopenblas0-pthread): MLX's BLAS name in the package resolves to it. Prints the
# package's path on its last line. Extra arguments go to `tauri build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh build
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
triple=$(rustc -vV | sed -n 's/^host: //p')

(cd ui && npm run --silent build)
cargo build --release --locked -p fathom-cli
# What goes into the package besides the app: the CLI (Tauri's name for it carries the triple) and
# MLX's runtime libraries. `cp -L`: the wheel's BLAS in the build tree is a link to this machine's
# OpenBLAS; the package carries that small BLAS shim, which loads the libopenblas.so.0 of the
# user's libopenblas0-pthread.
rm -rf src-tauri/binaries
mkdir -p src-tauri/binaries/lib
cp "$target_dir/release/fathom" "src-tauri/binaries/fathom-$triple"
cp -rL "$target_dir/release/mlx" "$target_dir/release/mlx_cpu.libs" src-tauri/binaries/lib/
# Tauri's CLI reads tauri.conf.json from ./src-tauri, so it runs from the repository root.
# FATHOM_BUNDLES=deb,appimage adds the AppImage where the bundler can fetch its tools (linuxdeploy
# comes from GitHub: on GitHub's runners, not on machines that reach only package registries).
ui/node_modules/.bin/tauri build --bundles "${FATHOM_BUNDLES:-deb}" --config src-tauri/tauri.bundle-linux.conf.json "$@" >&2
ls -t "$target_dir/release/bundle/deb/"*.deb | head -1
