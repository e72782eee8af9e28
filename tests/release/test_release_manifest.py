"""The release workflow's updater manifest, from artifacts laid out as Tauri's bundler writes them."""
import datetime
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("release_manifest", ROOT / "scripts/release_manifest.py")
rm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rm)

NOW = datetime.datetime(2026, 12, 4, 10, 30, tzinfo=datetime.timezone.utc)


def lay_out(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_each_platform_gets_its_url_and_signature(tmp_path):
    dist = lay_out(tmp_path, {
        "Fathom_0.2.0_aarch64.dmg": "dmg",
        "Fathom.app.tar.gz": "archive",
        "Fathom.app.tar.gz.sig": "c2lnLW1hYw==\n",
        "fathom_0.2.0_amd64.deb": "deb",
        "fathom_0.2.0_amd64.deb.sig": "c2lnLWRlYg==",
    })
    doc = rm.manifest(dist, "v0.2.0", "https://example.invalid/dl/v0.2.0/", NOW)
    assert doc["version"] == "0.2.0"
    assert doc["pub_date"] == "2026-12-04T10:30:00Z"
    assert doc["platforms"]["darwin-aarch64"] == {"signature": "c2lnLW1hYw==", "url": "https://example.invalid/dl/v0.2.0/Fathom.app.tar.gz"}
    assert doc["platforms"]["darwin-aarch64-app"] == doc["platforms"]["darwin-aarch64"]
    assert doc["platforms"]["linux-x86_64-deb"]["url"].endswith("/fathom_0.2.0_amd64.deb")
    assert "linux-x86_64" not in doc["platforms"]  # no AppImage was built


def test_an_unsigned_artifact_is_refused(tmp_path):
    dist = lay_out(tmp_path, {"Fathom.app.tar.gz": "archive"})
    with pytest.raises(rm.ManifestError, match="no signature"):
        rm.manifest(dist, "v0.2.0", "https://example.invalid", NOW)


def test_nothing_to_update_is_refused(tmp_path):
    dist = lay_out(tmp_path, {"Fathom_0.2.0_aarch64.dmg": "dmg"})
    with pytest.raises(rm.ManifestError, match="no update artifacts"):
        rm.manifest(dist, "v0.2.0", "https://example.invalid", NOW)


def test_the_command_writes_json_and_fails_in_words(tmp_path, capsys):
    lay_out(tmp_path, {"x.AppImage": "a", "x.AppImage.sig": "s"})
    assert rm.main(["release_manifest.py", str(tmp_path), "v1.0.0", "https://example.invalid"]) == 0
    assert '"linux-x86_64"' in capsys.readouterr().out
    (tmp_path / "x.AppImage.sig").unlink()
    assert rm.main(["release_manifest.py", str(tmp_path), "v1.0.0", "https://example.invalid"]) == 1
    assert "x.AppImage has no signature" in capsys.readouterr().err
