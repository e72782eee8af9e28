#!/usr/bin/env bash
# Installs what is missing, then runs every test: lints, Rust (unit + mock runtime), UI unit and
# page tests in headless Chromium, the real app end to end under Xvfb, and the .deb installed into a
# clean Debian root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh test
step() { printf '\n=== %s (%ss)\n' "$1" "$SECONDS"; }

step "workflows (actionlint, shellcheck)"
.tools/lint/bin/actionlint -no-color
step "release scripts"
/usr/bin/python3 -m pytest tests/release -q -p no:cacheprovider
step "rustfmt"
cargo fmt --all --check
step "ui lint"
(cd ui && npm run --silent lint)
step "ui build"
(cd ui && npm run --silent build)
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "engine fixtures (mlx-lm reference)"
bash scripts/fixtures.sh
step "rust tests"
cargo test --workspace
step "local API through OpenAI's own client (tests/api)"
cargo build -p fathom-cli
FATHOM_BIN="${CARGO_TARGET_DIR:-target}/debug/fathom" .tools/py-clients/bin/python -m pytest tests/api -v -p no:cacheprovider
step "ui unit tests"
(cd ui && npm run --silent test:unit)
step "ui page tests (headless Chromium)"
(cd ui && npm run --silent test:pages)
step "end to end (real app, Xvfb, WebDriver)"
cargo build -p fathom-app -p fathom-fakehub
dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" /usr/bin/python3 -m pytest tests/e2e -v -p no:cacheprovider
step "the .deb, installed in a clean Debian root (release build, debootstrap, Xvfb)"
bash tests/package/deb.sh
step "all tests passed"
