#!/usr/bin/env bash
# Writes src-tauri/tauri.updater.conf.json for a release build: the public key every installed copy
# checks updates against, where the signed manifest is published, and signed update artifacts.
#   scripts/updater-config.sh PUBKEY MANIFEST_URL
# A build without this config has no key and does not update itself (Settings says so).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] && [ -n "$1" ] || { echo "usage: updater-config.sh PUBKEY MANIFEST_URL (the public key is empty)" >&2; exit 2; }
case $2 in https://*) ;; *) echo "updater-config.sh: the manifest must be served over https" >&2; exit 2 ;; esac
python3 - "$1" "$2" > src-tauri/tauri.updater.conf.json <<'PY'
import json, sys
print(json.dumps({
    "bundle": {"createUpdaterArtifacts": True},
    "plugins": {"updater": {"pubkey": sys.argv[1], "endpoints": [sys.argv[2]]}},
}, indent=2))
PY
echo "updater-config.sh: wrote src-tauri/tauri.updater.conf.json"
