#!/usr/bin/env bash
# Builds Fathom and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
(cd ui && npm run build)
exec cargo run -p fathom-app "$@"
