#!/usr/bin/env bash
# Builds Fathom.app and Fathom.dmg for Apple Silicon (macOS 14 or later), with the `fathom` CLI
# and MLX's Metal kernels inside. Run on a Mac with full Xcode (and its Metal toolchain), CMake
# 3.25 or later, Rust and Node.js 20+.
#
# Signing and notarization come from Tauri's environment variables when they are set
# (APPLE_CERTIFICATE, APPLE_CERTIFICATE_PASSWORD, APPLE_SIGNING_IDENTITY; APPLE_API_ISSUER,
# APPLE_API_KEY, APPLE_API_KEY_PATH or APPLE_ID, APPLE_PASSWORD, APPLE_TEAM_ID); without them the
# app is signed ad hoc, which runs on the Mac that built it. Extra arguments go to `tauri build`.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "bundle-macos: $*" >&2; exit 1; }
[ "$(uname -s)" = Darwin ] || fail "run this on a Mac"
[ "$(uname -m)" = arm64 ] || fail "MLX runs Metal on Apple Silicon only (arm64)"
xcrun -sdk macosx metal -v >/dev/null 2>&1 ||
  fail "the Metal compiler is missing: install full Xcode, then: xcodebuild -downloadComponent MetalToolchain"
cmake_version=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<<"${cmake_version:-0 0}"
{ [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 25 ]; }; } || fail "CMake 3.25 or later is needed"

# MLX refuses anything below macOS 14 (its CMakeLists.txt); tauri build exports the bundle's
# minimumSystemVersion too, but the CLI is built first, outside it.
export MACOSX_DEPLOYMENT_TARGET=14.0
# mlx-sys writes mlx.metallib here; tauri.macos.conf.json copies it into Contents/Resources.
export MLX_RS_METAL_PATH="$PWD/target/mlx-metal"
export APPLE_SIGNING_IDENTITY="${APPLE_SIGNING_IDENTITY:--}"
target=aarch64-apple-darwin

(cd ui && npm ci --no-audit --no-fund && npm run build)
cargo build --release --locked -p fathom-cli --target "$target"
[ -f "$MLX_RS_METAL_PATH/mlx.metallib" ] || fail "the MLX build wrote no $MLX_RS_METAL_PATH/mlx.metallib"
# The CLI ships inside the app as Contents/MacOS/fathom (signed with it); it finds the app's
# metallib in ../Resources.
mkdir -p src-tauri/binaries
cp "target/$target/release/fathom" "src-tauri/binaries/fathom-$target"
# Tauri's CLI reads tauri.conf.json from ./src-tauri, so it runs from the repository root.
ui/node_modules/.bin/tauri build --target "$target" --config src-tauri/tauri.bundle-macos.conf.json "$@"

app="target/$target/release/bundle/macos/Fathom.app"
[ -f "$app/Contents/Resources/mlx.metallib" ] || fail "$app has no mlx.metallib"
codesign --verify --deep --strict "$app"
echo "bundle-macos: $app and $(ls "target/$target/release/bundle/dmg/"*.dmg)"
