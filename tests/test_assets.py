"""Official files: the catalog, local folders, checksums, and the downloader and ``ofa2 assets``
commands against a loopback HTTP server (range requests, interruptions) — never the network."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from _assets import MESSAGE, find_assets
from ofa2_zoo import AssetError, assets
from ofa2_zoo.assets import OFFICIAL_FILES, asset_state, asset_url, download_asset, resolve_asset
from ofa2_zoo.cli import main

PINNED = [f.name for f in OFFICIAL_FILES.values() if f.pinned]
UNPINNED = [f.name for f in OFFICIAL_FILES.values() if not f.pinned]


# ---------------------------------------------------------------------------- a loopback file server
class FileServer:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1 with HTTP range requests, like a CDN.

    ``cut_after``: close the connection after that many body bytes of the next response (an
    interrupted download); ``ranges=False``: ignore ``Range`` (answer 200 with everything).
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: int | None = None
        self.ranges = True
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if rng and server.ranges:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if server.cut_after is not None:
                    cut, server.cut_after = server.cut_after, None
                    self.wfile.write(part[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve_official_copies(self, folder: Path) -> None:
        """Copies of the official files from ``folder`` at their official URL paths, plus stand-in
        bytes for the supernet checkpoints (never pinned, so never verified)."""
        base = assets.asset_url("")
        for name in PINNED:
            self.files[asset_url(name)[len(base):]] = (folder / name).read_bytes()
        for name in UNPINNED:
            self.files[asset_url(name)[len(base):]] = b"stand-in checkpoint bytes " + name.encode()


@pytest.fixture()
def server(monkeypatch, tmp_path):
    s = FileServer()
    s.thread.start()
    monkeypatch.setenv("OFA2_ASSETS_URL", s.url)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA2_ASSETS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("OFA2_OFFLINE", raising=False)
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _pin(monkeypatch, name: str, payload: bytes | None) -> None:
    """Declare a test file in the catalog (pinned to ``payload``'s sha256, or unpinned)."""
    sha = hashlib.sha256(payload).hexdigest() if payload is not None else None
    monkeypatch.setitem(assets.OFFICIAL_FILES, name, assets.OfficialFile(
        name, "latency table", len(payload) if payload is not None else None, sha))
    monkeypatch.setitem(assets.PINNED_SHA256, name, sha)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def ofa2(capsys, monkeypatch):
    """Run ``ofa2 ARGS`` in this process (``env`` is set for the call) and capture its output."""

    def run(*args: str, env: dict | None = None) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as m:
            for k, v in (env or {}).items():
                m.setenv(k, v)
            with pytest.raises(SystemExit) as exc:
                main(list(args))
        out = capsys.readouterr()
        return Result(exc.value.code or 0, out.out, out.err)

    return run


# ---------------------------------------------------------------------------- the catalog
def test_catalog_matches_the_official_checksum_file(official_assets):
    """Every pinned sha256 and size equals the official SHA256SUMS and the files themselves."""
    sums = dict(reversed(line.split(maxsplit=1)) for line in (official_assets / "SHA256SUMS").read_text().splitlines()
                if line.strip())
    sums = {k.strip().lstrip("*").removeprefix("./"): v for k, v in sums.items()}
    for name in PINNED:
        assert sums[name] == OFFICIAL_FILES[name].sha256, name
        assert (official_assets / name).stat().st_size == OFFICIAL_FILES[name].size, name
    assert {f.kind for f in OFFICIAL_FILES.values() if not f.pinned} == {"supernet checkpoint"}
    assert len(UNPINNED) == 2


def test_specialized_files_use_the_official_folder_name_in_urls(monkeypatch):
    monkeypatch.delenv("OFA2_ASSETS_URL", raising=False)
    assert asset_url("specialized/x/net.config") == \
        "https://raw.githubusercontent.com/han-cai/files/master/ofa/ofa_specialized/x/net.config"
    monkeypatch.setenv("OFA2_ASSETS_URL", "http://mirror.example/ofa")
    assert asset_url("note10/160_lookup_table.yaml") == "http://mirror.example/ofa/note10/160_lookup_table.yaml"


# ---------------------------------------------------------------------------- local folders
def test_local_folder_is_checked_against_pinned_sha256(official_assets):
    p = resolve_asset("note10/160_lookup_table.yaml", official_assets)
    assert p == official_assets / "note10/160_lookup_table.yaml"
    assert asset_state("acc_predictor.pth", official_assets) == "present"


def test_bad_checksum_and_missing_files(tmp_path):
    (tmp_path / "note10").mkdir()
    (tmp_path / "note10/160_lookup_table.yaml").write_text("not the table\n")
    with pytest.raises(AssetError, match="does not match the pinned"):
        resolve_asset("note10/160_lookup_table.yaml", tmp_path)
    assert asset_state("note10/160_lookup_table.yaml", tmp_path) == "corrupt"
    with pytest.raises(AssetError, match=r"acc_predictor.pth is not in the assets folder .*ofa2 assets fetch"):
        resolve_asset("acc_predictor.pth", tmp_path)
    assert asset_state("acc_predictor.pth", tmp_path) == "missing"
    with pytest.raises(AssetError, match="does not exist"):
        resolve_asset("acc_predictor.pth", tmp_path / "nowhere")


def test_offline_without_cache_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path))
    monkeypatch.delenv("OFA2_ASSETS", raising=False)
    monkeypatch.setenv("OFA2_OFFLINE", "1")
    with pytest.raises(AssetError, match=r"not cached and downloads are off; run `ofa2 assets fetch`"):
        resolve_asset("acc_predictor.pth")


# ---------------------------------------------------------------------------- downloading
def test_download_verifies_and_caches(server, tmp_path, monkeypatch):
    payload = b"lookup table bytes\n" * 100
    server.files["demo/table.yaml"] = payload
    _pin(monkeypatch, "demo/table.yaml", payload)
    p = resolve_asset("demo/table.yaml")
    assert p == tmp_path / "cache" / "assets" / "demo/table.yaml" and p.read_bytes() == payload
    del server.files["demo/table.yaml"]  # now served only from the cache
    assert resolve_asset("demo/table.yaml").read_bytes() == payload
    assert len(server.requests) == 1


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path, monkeypatch):
    payload = bytes(range(256)) * 400  # 102,400 bytes
    server.files["demo/big.bin"] = payload
    _pin(monkeypatch, "demo/big.bin", payload)
    server.cut_after = 30_000
    with pytest.raises(AssetError, match="run again to resume"):
        download_asset("demo/big.bin", tmp_path / "dl")
    part = tmp_path / "dl/demo/big.bin.part"
    assert not (tmp_path / "dl/demo/big.bin").exists()  # never a partial file under the real name
    assert part.stat().st_size == 30_000
    seen = []
    path = download_asset("demo/big.bin", tmp_path / "dl", progress=lambda *a: seen.append(a))
    assert path.read_bytes() == payload and not part.exists()
    assert server.requests[-1] == ("/demo/big.bin", "bytes=30000-")
    assert seen[0] == ("demo/big.bin", 30_000, len(payload)) and seen[-1] == ("demo/big.bin", len(payload), len(payload))


def test_server_without_ranges_restarts_the_file(server, tmp_path, monkeypatch):
    payload = b"0123456789" * 5000
    server.files["demo/x.bin"] = payload
    _pin(monkeypatch, "demo/x.bin", payload)
    part = tmp_path / "dl/demo/x.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(payload[:1234])
    server.ranges = False
    assert download_asset("demo/x.bin", tmp_path / "dl").read_bytes() == payload


def test_wrong_checksum_leaves_nothing(server, tmp_path, monkeypatch):
    server.files["x.bin"] = b"tampered"
    monkeypatch.setitem(assets.PINNED_SHA256, "x.bin", "0" * 64)
    with pytest.raises(AssetError, match="not the pinned 0000"):
        resolve_asset("x.bin")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    monkeypatch.setitem(assets.PINNED_SHA256, "gone.bin", None)
    with pytest.raises(AssetError, match="could not download gone.bin"):
        resolve_asset("gone.bin")


# ---------------------------------------------------------------------------- ofa2 assets
def test_fetch_list_verify_path_end_to_end(server, tmp_path, official_assets, ofa2):
    server.serve_official_copies(official_assets)
    target = tmp_path / "assets"
    env = {"OFA2_ASSETS": str(target)}
    assert ofa2("assets", "path", env=env).stdout.strip() == str(target)
    listed = json.loads(ofa2("assets", "list", "--json", env=env).stdout)
    assert listed["folder"] == str(target)
    assert {f["name"]: f["state"] for f in listed["files"]} == dict.fromkeys(OFFICIAL_FILES, "missing")
    pred = next(f for f in listed["files"] if f["name"] == "acc_predictor.pth")
    assert pred["sha256"] == OFFICIAL_FILES["acc_predictor.pth"].sha256 and pred["size"] == 1492497
    assert {"note10 (search)", "cpu-onnxruntime (search)", "cpu-torch (search)"} <= set(pred["needed_by"])
    ckpt = next(f for f in listed["files"] if f["name"].endswith("w1.2"))
    assert ckpt["pinned"] is False and ckpt["sha256"] is None and "note10 (package)" in ckpt["needed_by"]

    # one profile first: only what it needs
    proc = ofa2("assets", "fetch", "--profile", "note10", env=env)
    assert proc.returncode == 0, proc.stderr
    got = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert got == sorted(load_needs("note10"))
    assert "fetched ofa_nets/ofa_mbv3_d234_e346_k357_w1.2 (NOT verified: no pinned sha256)" in proc.stdout
    assert "fetched acc_predictor.pth (sha256 verified)" in proc.stdout

    # then the rest; files already there are not downloaded again
    before = len(server.requests)
    proc = ofa2("assets", "fetch", env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(server.requests) - before == len(OFFICIAL_FILES) - len(got)
    for name in PINNED:
        assert (target / name).read_bytes() == (official_assets / name).read_bytes()
    assert ofa2("assets", "fetch", env=env).stdout.startswith(f"all {len(OFFICIAL_FILES)} files are in {target}")

    proc = ofa2("assets", "verify", str(target))
    assert proc.returncode == 0 and f"all {len(PINNED)} pinned files match their sha256" in proc.stdout
    listed = json.loads(ofa2("assets", "list", "--json", env=env).stdout)
    states = {f["name"]: f["state"] for f in listed["files"]}
    assert states == {n: "present" if n in PINNED else "unverified" for n in OFFICIAL_FILES}

    (target / "note10/192_lookup_table.yaml").write_text("edited\n")
    proc = ofa2("assets", "verify", str(target))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "1 of 30 files" in proc.stderr and "note10/192_lookup_table.yaml" in proc.stderr
    (target / "acc_predictor.pth").unlink()
    proc = ofa2("assets", "verify", str(target), "--profile", "cpu-torch")
    assert proc.returncode == 2 and "(first: acc_predictor.pth)" in proc.stderr
    proc = ofa2("assets", "fetch", env=env)  # repairs the corrupt table and the deleted predictor
    assert proc.returncode == 0, proc.stderr
    assert ofa2("assets", "verify", str(target)).returncode == 0


def load_needs(profile: str) -> list[str]:
    from ofa2_zoo.profiles import load_profile

    return list(load_profile(profile).official_files())


def test_fetch_failure_is_one_line_and_resumable(server, tmp_path, official_assets, ofa2):
    server.serve_official_copies(official_assets)
    del server.files["acc_predictor.pth"]
    env = {"OFA2_ASSETS": str(tmp_path / "a")}
    proc = ofa2("assets", "fetch", "--profile", "cpu-onnxruntime", env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "1 of 2 files could not be fetched" in proc.stderr and "acc_predictor.pth" in proc.stderr
    assert ofa2("assets", "verify", str(tmp_path / "a"), "--profile", "cpu-onnxruntime").returncode == 2


def test_test_helper_finds_a_complete_folder_or_gives_one_message(tmp_path, monkeypatch, official_assets):
    monkeypatch.setenv("OFA2_ASSETS", str(official_assets))
    assert find_assets() == official_assets
    partial = tmp_path / "partial"
    shutil.copytree(official_assets, partial)
    (partial / "acc_predictor.pth").unlink()
    monkeypatch.setenv("OFA2_ASSETS", str(partial))
    assert find_assets() is None
    assert "ofa2 assets fetch" in MESSAGE and "OFA2_ASSETS" in MESSAGE


def test_an_explicit_folder_wins_over_ofa2_assets_which_wins_over_the_cache(tmp_path, monkeypatch):
    """``--assets`` (the ``assets`` argument) over ``$OFA2_ASSETS`` over ``$OFA2_CACHE/assets``, with
    every source set and different."""
    from ofa2_zoo.assets import assets_folder

    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OFA2_ASSETS", str(tmp_path / "env"))
    assert assets_folder(tmp_path / "flag") == tmp_path / "flag"
    assert assets_folder() == tmp_path / "env"
    monkeypatch.delenv("OFA2_ASSETS")
    assert assets_folder() == tmp_path / "cache" / "assets"


def test_a_corrupt_file_in_the_cache_is_refused_not_used(tmp_path, monkeypatch):
    """Without an assets folder the cache is used, and checked like any other copy."""
    monkeypatch.delenv("OFA2_ASSETS", raising=False)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path))
    name = next(n for n, sha in assets.PINNED_SHA256.items() if sha)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / name).write_bytes(b"not the official file")
    with pytest.raises(AssetError, match="sha256"):
        resolve_asset(name, download=False)
