#!/usr/bin/env python3
"""Writes the Tauri updater's manifest (latest.json) for a release from its built artifacts.

    release_manifest.py DIST TAG BASE_URL > latest.json

DIST holds what the release workflow built: Fathom's macOS update archive (`*.app.tar.gz`), Linux
packages (`*.deb`, `*.AppImage`), each with the minisign signature Tauri wrote beside it
(`<file>.sig`, made with TAURI_SIGNING_PRIVATE_KEY). Each platform's entry names the file's URL
under BASE_URL and carries its signature, which the app checks against the public key in
tauri.conf.json before installing. A platform whose artifact has no signature is an error: an
unsigned update would be refused by every installed copy.
"""
import datetime
import json
import pathlib
import sys

# Tauri's updater looks up `{os}-{arch}-{installer}` first, then `{os}-{arch}`.
KINDS = [
    (".app.tar.gz", ["darwin-aarch64", "darwin-aarch64-app"]),
    (".AppImage", ["linux-x86_64", "linux-x86_64-appimage"]),
    (".deb", ["linux-x86_64-deb"]),
]


class ManifestError(Exception):
    pass


def manifest(dist: pathlib.Path, tag: str, base_url: str, now: datetime.datetime) -> dict:
    version = tag[1:] if tag.startswith("v") else tag
    platforms = {}
    for suffix, keys in KINDS:
        found = sorted(p for p in dist.iterdir() if p.name.endswith(suffix))
        if len(found) > 1:
            raise ManifestError(f"more than one {suffix} in {dist}: {[p.name for p in found]}")
        if not found:
            continue
        artifact = found[0]
        sig = artifact.with_name(artifact.name + ".sig")
        if not sig.is_file():
            raise ManifestError(f"{artifact.name} has no signature ({sig.name}): set TAURI_SIGNING_PRIVATE_KEY")
        signature = sig.read_text().strip()
        if not signature:
            raise ManifestError(f"{sig.name} is empty")
        for key in keys:
            platforms[key] = {"signature": signature, "url": f"{base_url.rstrip('/')}/{artifact.name}"}
    if not platforms:
        raise ManifestError(f"no update artifacts in {dist}")
    return {
        "version": version,
        "notes": f"Fathom {version}",
        "pub_date": now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platforms": platforms,
    }


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        doc = manifest(pathlib.Path(argv[1]), argv[2], argv[3], datetime.datetime.now(datetime.timezone.utc))
    except ManifestError as e:
        print(f"release_manifest: {e}", file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
