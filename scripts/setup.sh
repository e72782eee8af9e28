#!/usr/bin/env bash
# Installs what Fathom needs on a Debian machine, skipping what is already there.
#   scripts/setup.sh build   – to build and run the app
#   scripts/setup.sh test    – also what the tests need (browsers, Xvfb, WebDriver)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

# protobuf-compiler builds Chroma's client from its .proto files; libprotobuf-dev holds the well-known
# types they import (google/protobuf/timestamp.proto), only a recommendation of protobuf-compiler.
build_pkgs=(build-essential pkg-config file curl libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  nodejs npm cmake clang libclang-dev python3-pip libopenblas0-pthread protobuf-compiler
  libprotobuf-dev)
test_pkgs=(xvfb xauth dbus dbus-x11 at-spi2-core webkit2gtk-driver chromium fonts-dejavu-core
  imagemagick xdotool python3-pytest python3-selenium python3-gi gir1.2-gtk-3.0 libglib2.0-bin procps python3-xlib python3-venv shellcheck debootstrap)
pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  # nodejs/npm may come from elsewhere (the machine image): a working command is enough.
  case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -o DPkg::Lock::Timeout=600
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

# MLX's CPU backend, prebuilt: the PyPI wheel mlx-cpu at exactly the version mlx-c pins, checked
# against its sha256 (scripts/mlx-cpu.txt). vendor/mlx-sys links it; see its FATHOM-PATCH.md.
mlx_dir=.tools/mlx-cpu-0.32.2
if [ "$(uname -s)" = Linux ] && [ ! -f "$mlx_dir/mlx/lib/libmlx.so" ]; then
  [ "$(uname -m)" = x86_64 ] || { echo "setup: the prebuilt MLX is x86-64 only" >&2; exit 1; }
  rm -rf .tools/wheels "$mlx_dir"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r scripts/mlx-cpu.txt -d .tools/wheels
  python3 -m zipfile -e .tools/wheels/mlx_cpu-0.32.2-*.whl "$mlx_dir"
fi

command -v cargo >/dev/null || { echo "setup: Rust is missing; install it with rustup (https://rustup.rs)" >&2; exit 1; }

# The UI's packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund)
fi

# actionlint for the CI workflows, pinned by hash (scripts/lint-requirements.txt).
lint=.tools/lint
if [ "$what" = test ] && ! cmp -s scripts/lint-requirements.txt "$lint/.requirements" 2>/dev/null; then
  rm -rf "$lint"
  python3 -m venv "$lint"
  "$lint/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: --require-hashes \
    -r scripts/lint-requirements.txt
  cp scripts/lint-requirements.txt "$lint/.requirements"
fi

# The local API's test clients (tests/api): OpenAI's Python package and the MCP Python SDK, pinned. The
# system's pytest is visible inside.
clients=.tools/py-clients
if [ "$what" = test ] && ! cmp -s tests/api/requirements.txt "$clients/.requirements" 2>/dev/null; then
  rm -rf "$clients"
  /usr/bin/python3 -m venv --system-site-packages "$clients"
  "$clients/bin/pip" install --quiet --disable-pip-version-check -r tests/api/requirements.txt
  cp tests/api/requirements.txt "$clients/.requirements"
fi

# The Chroma server the library-on-a-server tests run against (crates/chroma/tests), pinned by hash.
chroma=.tools/chroma
if [ "$what" = test ] && ! cmp -s scripts/chroma-requirements.txt "$chroma/.requirements" 2>/dev/null; then
  rm -rf "$chroma"
  /usr/bin/python3 -m venv "$chroma"
  "$chroma/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r scripts/chroma-requirements.txt
  cp scripts/chroma-requirements.txt "$chroma/.requirements"
fi

if [ "$what" = test ] && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  # Pinned to 2.x: newer majors target Tauri 3.
  cargo install tauri-driver --version '^2' --locked
fi
