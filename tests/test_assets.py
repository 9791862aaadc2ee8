"""Asset resolution: local folders, checksums, and the downloader (against a loopback server)."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from ofa2_zoo import AssetError, assets
from ofa2_zoo.assets import resolve_asset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ofa-assets"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/ofa-assets is not beside the checkout")
def test_local_folder_is_checked_against_pinned_sha256():
    p = resolve_asset("note10/160_lookup_table.yaml", SHARED)
    assert p == SHARED / "note10/160_lookup_table.yaml"
    assert resolve_asset("acc_predictor.pth", SHARED).is_file()


def test_bad_checksum_and_missing_files(tmp_path):
    (tmp_path / "note10").mkdir()
    (tmp_path / "note10/160_lookup_table.yaml").write_text("not the table\n")
    with pytest.raises(AssetError, match="does not match the pinned"):
        resolve_asset("note10/160_lookup_table.yaml", tmp_path)
    with pytest.raises(AssetError, match="is not in the assets folder"):
        resolve_asset("acc_predictor.pth", tmp_path)
    with pytest.raises(AssetError, match="does not exist"):
        resolve_asset("acc_predictor.pth", tmp_path / "nowhere")


@pytest.fixture()
def file_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_verifies_and_caches(tmp_path, file_server, monkeypatch):
    root, url = file_server
    payload = b"lookup table bytes\n"
    (root / "demo").mkdir()
    (root / "demo/table.yaml").write_bytes(payload)
    monkeypatch.setattr(assets, "BASE_URL", url)
    monkeypatch.setitem(assets.PINNED_SHA256, "demo/table.yaml", hashlib.sha256(payload).hexdigest())
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA2_ASSETS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    p = resolve_asset("demo/table.yaml")
    assert p.read_bytes() == payload and str(p).startswith(str(tmp_path / "cache"))
    (root / "demo/table.yaml").unlink()  # now served only from the cache
    assert resolve_asset("demo/table.yaml").read_bytes() == payload


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, file_server, monkeypatch):
    root, url = file_server
    (root / "x.bin").write_bytes(b"tampered")
    monkeypatch.setattr(assets, "BASE_URL", url)
    monkeypatch.setitem(assets.PINNED_SHA256, "x.bin", "0" * 64)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA2_ASSETS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(AssetError, match="does not match"):
        resolve_asset("x.bin")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    monkeypatch.setitem(assets.PINNED_SHA256, "gone.bin", None)
    with pytest.raises(AssetError, match="could not download"):
        resolve_asset("gone.bin")
