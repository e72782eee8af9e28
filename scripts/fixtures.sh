#!/usr/bin/env bash
# Writes the engine's parity fixtures: tiny gpt-oss checkpoints made by the reference
# implementation (mlx-lm, pinned in tests/fixtures/requirements.txt) and the logits it computes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/py-ref
out=${FATHOM_FIXTURES:-.tools/fixtures/gpt-oss}
stamp="$venv/.requirements"
if ! cmp -s tests/fixtures/requirements.txt "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/fixtures/requirements.txt
  cp tests/fixtures/requirements.txt "$stamp"
fi
rm -rf "$out"
"$venv/bin/python" tests/fixtures/make_gpt_oss.py "$out"
