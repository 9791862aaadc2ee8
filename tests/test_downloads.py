"""Downloads under adversarial mirrors (issue 23): size caps, the stall time and the deadline,
paths that are links or folders, and the mirror URL. A loopback server misbehaves on purpose;
the limits are tiny, and every timing case waits on a server that never sends what is missing,
so no assert depends on how fast this machine is."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest

from _bad_input_helpers import refused
from ofa2_zoo import assets
from ofa2_zoo.assets import (AssetError, DownloadError, DownloadLimits, DownloadTimeout, DownloadTooLarge,
                             base_url, download_asset, fetch_url)

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


class Mirror:
    """A loopback HTTP server; ``routes[path]`` says how to answer:

    ``("body", bytes, length)``: send the bytes with that Content-Length (None: no header, the
    body ends when the connection closes); ``("stall", bytes)``: send headers and the bytes,
    then nothing until the test ends; ``("silent",)``: accept and never answer;
    ``("trickle",)``: one byte every 10 ms until the test ends.
    """

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                mirror.requests.append(self.path)
                route = mirror.routes.get(self.path.lstrip("/"), ("missing",))
                kind = route[0]
                if kind == "silent":
                    mirror.release.wait(30)
                    return
                if kind == "missing":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                if kind == "body" and route[2] is not None:
                    self.send_header("Content-Length", str(route[2]))
                self.end_headers()
                try:
                    if kind == "body":
                        self.wfile.write(route[1])
                    elif kind == "stall":
                        self.wfile.write(route[1])
                        self.wfile.flush()
                        mirror.release.wait(30)
                    elif kind == "trickle":
                        while not mirror.release.wait(0.01):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def mirror(monkeypatch, tmp_path):
    m = Mirror()
    monkeypatch.setenv("OFA2_ASSETS_URL", m.url)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    for name in ("OFA2_ASSETS", "OFA2_OFFLINE", "HF_HUB_OFFLINE", "OFA2_DOWNLOAD_STALL", "OFA2_DOWNLOAD_DEADLINE"):
        monkeypatch.delenv(name, raising=False)
    yield m
    m.close()


def _pin(monkeypatch, name: str, payload: bytes | None) -> None:
    sha = hashlib.sha256(payload).hexdigest() if payload is not None else None
    monkeypatch.setitem(assets.OFFICIAL_FILES, name, assets.OfficialFile(
        name, "latency table", len(payload) if payload is not None else None, sha))
    monkeypatch.setitem(assets.PINNED_SHA256, name, sha)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------------------- size caps
def test_a_pinned_file_of_exactly_its_size_is_accepted(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD, None)  # no Content-Length: counted while reading
    assert download_asset("t.bin", tmp_path / "a").read_bytes() == PAYLOAD


def test_one_byte_past_the_pinned_size_is_refused_while_reading(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD + b"!", None)
    seen = []
    with pytest.raises(DownloadTooLarge) as exc:
        download_asset("t.bin", tmp_path / "a", progress=lambda step, done, total: seen.append(done))
    assert str(exc.value) == (f"{mirror.url}t.bin sends more than the 10,240 bytes the catalog pins for it; the "
                              "download was stopped and deleted (a wrong mirror?)")
    assert max(seen) <= len(PAYLOAD) and _files(tmp_path / "a") == []


def test_a_mirror_announcing_too_many_bytes_is_refused_before_reading(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD + b"!", len(PAYLOAD) + 1)
    seen = []
    with pytest.raises(DownloadTooLarge, match=r"sends more than the 10,240 bytes the catalog pins"):
        download_asset("t.bin", tmp_path / "a", progress=lambda step, done, total: seen.append(done))
    assert seen == [] and _files(tmp_path / "a") == []


def test_an_unpinned_file_is_capped_at_the_documented_maximum(mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "MAX_UNPINNED_BYTES", 1000)
    _pin(monkeypatch, "ckpt", None)
    mirror.routes["ckpt"] = ("body", b"z" * 1000, None)
    assert download_asset("ckpt", tmp_path / "a").read_bytes() == b"z" * 1000
    mirror.routes["ckpt2"] = ("body", b"z" * 1001, None)
    _pin(monkeypatch, "ckpt2", None)
    with pytest.raises(DownloadTooLarge) as exc:
        download_asset("ckpt2", tmp_path / "a")
    assert str(exc.value) == (f"{mirror.url}ckpt2 sends more than 1,000 bytes, the most a file without a pinned size "
                              "may have; the download was stopped and deleted (a wrong mirror?)")
    assert _files(tmp_path / "a") == ["ckpt"]


def test_the_documented_maximum_fits_the_real_checkpoints():
    assert assets.MAX_UNPINNED_BYTES == 100 * 2**20
    assert "100 MiB" in (Path(__file__).resolve().parents[1] / "docs" / "assets.md").read_text()


# ---------------------------------------------------------------------------- stall and deadline
def test_a_stall_mid_body_stops_with_one_line_and_keeps_the_part(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("stall", PAYLOAD[:100])
    with pytest.raises(DownloadTimeout) as exc:
        download_asset("t.bin", tmp_path / "a", limits=DownloadLimits.start(stall=0.2, deadline=60))
    assert str(exc.value) == (f"download of {mirror.url}t.bin stalled: no bytes for 0.2 s (OFA2_DOWNLOAD_STALL); "
                              "run again to resume")
    assert (tmp_path / "a/t.bin.part").read_bytes() == PAYLOAD[:100] and not (tmp_path / "a/t.bin").exists()


def test_a_server_that_never_answers_is_a_stall(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("silent",)
    with pytest.raises(DownloadTimeout, match=r"t.bin stalled: no bytes for 0.2 s"):
        download_asset("t.bin", tmp_path / "a", limits=DownloadLimits.start(stall=0.2, deadline=60))


def test_a_trickle_runs_into_the_deadline(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "ckpt", None)
    mirror.routes["ckpt"] = ("trickle",)
    with pytest.raises(DownloadTimeout) as exc:
        download_asset("ckpt", tmp_path / "a", limits=DownloadLimits.start(stall=30, deadline=0.3))
    assert str(exc.value) == (f"download of {mirror.url}ckpt stopped: the downloads ran past their deadline of 0.3 s "
                              "(OFA2_DOWNLOAD_DEADLINE); run again to resume")
    assert (tmp_path / "a/ckpt.part").is_file()


def test_a_passed_deadline_sends_no_request(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD, None)
    spent = DownloadLimits(stall=1, deadline=5, ends=time.monotonic() - 1)
    with pytest.raises(DownloadTimeout, match=r"ran past their deadline of 5 s"):
        download_asset("t.bin", tmp_path / "a", limits=spent)
    assert mirror.requests == []


def test_limits_arguments_beat_the_environment_which_beats_the_defaults(monkeypatch):
    monkeypatch.delenv("OFA2_DOWNLOAD_STALL", raising=False)
    monkeypatch.delenv("OFA2_DOWNLOAD_DEADLINE", raising=False)
    d = DownloadLimits.start()
    assert (d.stall, d.deadline) == (assets.STALL_SECONDS, assets.DEADLINE_SECONDS) == (60.0, 3600.0)
    monkeypatch.setenv("OFA2_DOWNLOAD_STALL", "0.5")
    monkeypatch.setenv("OFA2_DOWNLOAD_DEADLINE", "7")
    e = DownloadLimits.start()
    assert (e.stall, e.deadline) == (0.5, 7.0)
    a = DownloadLimits.start(stall=2, deadline=9)
    assert (a.stall, a.deadline) == (2, 9)


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "nan", "inf", "1e999"])
def test_bad_limits_in_the_environment(monkeypatch, raw):
    monkeypatch.setenv("OFA2_DOWNLOAD_STALL", raw)
    with pytest.raises(AssetError) as exc:
        DownloadLimits.start()
    assert str(exc.value) == (f"OFA2_DOWNLOAD_STALL={raw!r} is not a number of seconds > 0 (fix: e.g. "
                              "OFA2_DOWNLOAD_STALL=60, or unset it)")


def test_the_smallest_positive_limit_is_accepted(monkeypatch):
    monkeypatch.setenv("OFA2_DOWNLOAD_DEADLINE", "0.001")
    assert DownloadLimits.start().deadline == 0.001


def test_cli_fetch_stops_at_the_first_stall(mirror, tmp_path, monkeypatch, capsys):
    _pin(monkeypatch, "t1.bin", PAYLOAD)
    _pin(monkeypatch, "t2.bin", PAYLOAD)
    monkeypatch.setattr(assets, "OFFICIAL_FILES", {n: assets.OFFICIAL_FILES[n] for n in ("t1.bin", "t2.bin")})
    mirror.routes["t1.bin"] = ("silent",)
    mirror.routes["t2.bin"] = ("silent",)
    monkeypatch.setenv("OFA2_DOWNLOAD_STALL", "0.2")
    refused(capsys, "assets", "fetch", "--assets", tmp_path / "a",
            match=r"^error: 2 of 2 files could not be fetched into .*; first: download of .*t1.bin stalled: no bytes "
                  r"for 0.2 s \(OFA2_DOWNLOAD_STALL\); run again to resume$")
    assert mirror.requests == ["/t1.bin"]


# ---------------------------------------------------------------------------- links and folders
def test_a_part_that_is_a_symlink_is_refused_before_downloading(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD, None)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    (tmp_path / "a").mkdir()
    (tmp_path / "a/t.bin.part").symlink_to(outside)
    with pytest.raises(DownloadError) as exc:
        download_asset("t.bin", tmp_path / "a")
    assert str(exc.value) == (f"{tmp_path}/a/t.bin.part is a symbolic link; refusing to download onto it (fix: delete "
                              "the link and run again)")
    assert outside.read_bytes() == b"keep me" and mirror.requests == []


def test_a_target_that_is_a_symlink_is_refused(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    (tmp_path / "a").mkdir()
    (tmp_path / "a/t.bin").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DownloadError, match=r"a/t.bin is a symbolic link; refusing to download onto it"):
        download_asset("t.bin", tmp_path / "a")
    assert mirror.requests == [] and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("which, what", [("t.bin", "the file"), ("t.bin.part", "its partial download")])
def test_a_target_or_part_that_is_a_folder_is_refused_and_nothing_is_left(mirror, tmp_path, monkeypatch, which, what):
    _pin(monkeypatch, "t.bin", PAYLOAD)
    mirror.routes["t.bin"] = ("body", PAYLOAD, None)
    (tmp_path / "a" / which).mkdir(parents=True)
    with pytest.raises(DownloadError) as exc:
        download_asset("t.bin", tmp_path / "a")
    assert str(exc.value) == (f"{tmp_path}/a/{which} is a folder, not {what}; refusing to download (fix: remove the "
                              "folder and run again)")
    assert _files(tmp_path / "a") == [which] and mirror.requests == []


def test_a_linked_subfolder_is_not_followed(mirror, tmp_path, monkeypatch):
    _pin(monkeypatch, "note10/t.yaml", PAYLOAD)
    mirror.routes["note10/t.yaml"] = ("body", PAYLOAD, None)
    (tmp_path / "outside").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a/note10").symlink_to(tmp_path / "outside")
    with pytest.raises(DownloadError, match=r"a/note10 is a symbolic link; refusing to download through it"):
        download_asset("note10/t.yaml", tmp_path / "a")
    assert _files(tmp_path / "outside") == [] and mirror.requests == []


def test_fetch_url_opens_the_part_without_following_a_link(mirror, tmp_path):
    mirror.routes["x"] = ("body", PAYLOAD, None)
    (tmp_path / "victim").write_bytes(b"v")
    (tmp_path / "x.part").symlink_to(tmp_path / "victim")
    with pytest.raises(DownloadError, match=r"x.part is a symbolic link or a folder, not a partial download"):
        fetch_url(mirror.url + "x", tmp_path / "x.part", None, None)
    assert (tmp_path / "victim").read_bytes() == b"v"


# ---------------------------------------------------------------------------- the mirror URL
@pytest.mark.parametrize("url", ["not a url", "ftp://mirror.example/ofa/", "http://", "http://host:99999/",
                                 "http://[::1/", "http://a b/", "file:///etc/"])
def test_a_bad_mirror_url_is_one_line(monkeypatch, url):
    monkeypatch.setenv("OFA2_ASSETS_URL", url)
    with pytest.raises(AssetError) as exc:
        base_url()
    assert str(exc.value) == (f"OFA2_ASSETS_URL={url!r} is not an http(s) URL (fix: the base URL of a mirror with "
                              "OFA's layout, e.g. https://mirror.example/ofa/, or unset it for the official files)")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/ofa/", "https://mirror.example/ofa", "HTTPS://Mirror.example/"])
def test_good_mirror_urls_are_kept(monkeypatch, url):
    monkeypatch.setenv("OFA2_ASSETS_URL", url)
    assert base_url() == url


def test_cli_fetch_with_a_bad_mirror_url(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OFA2_ASSETS_URL", "not a url")
    refused(capsys, "assets", "fetch", "--profile", "note10", "--assets", tmp_path / "a",
            match=r"^error: OFA2_ASSETS_URL='not a url' is not an http\(s\) URL", watch=(tmp_path,))


# ---------------------------------------------------------------------------- ofa2 data fetch uses the same guards
def _dataset_at(monkeypatch, url: str):
    import dataclasses

    from ofa2_zoo.training import fashion_mnist as fm

    monkeypatch.setattr(fm, "INFO", dataclasses.replace(fm.INFO, url=url))
    return fm


def test_data_fetch_caps_an_unpinned_size(mirror, tmp_path, monkeypatch):
    from ofa2_zoo.errors import DatasetError

    fm = _dataset_at(monkeypatch, mirror.url)
    monkeypatch.setattr(assets, "MAX_UNPINNED_BYTES", 1000)
    mirror.routes["train-images-idx3-ubyte.gz"] = ("body", b"z" * 1001, 1001)
    with pytest.raises(DatasetError) as exc:
        fm.fetch(tmp_path / "d")
    assert str(exc.value) == (f"{mirror.url}train-images-idx3-ubyte.gz sends more than 1,000 bytes, the most a file "
                              "without a pinned size may have; the download was stopped and deleted (a wrong mirror?)")
    assert _files(tmp_path / "d") == []


def test_data_fetch_refuses_a_linked_part(mirror, tmp_path, monkeypatch):
    from ofa2_zoo.errors import DatasetError

    fm = _dataset_at(monkeypatch, mirror.url)
    (tmp_path / "d").mkdir()
    (tmp_path / "outside").write_bytes(b"keep")
    (tmp_path / "d/train-images-idx3-ubyte.gz.part").symlink_to(tmp_path / "outside")
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz.part is a symbolic link; refusing"):
        fm.fetch(tmp_path / "d")
    assert (tmp_path / "outside").read_bytes() == b"keep" and mirror.requests == []


def test_data_fetch_stall_is_one_line(mirror, tmp_path, monkeypatch, capsys):
    _dataset_at(monkeypatch, mirror.url)
    mirror.routes["train-images-idx3-ubyte.gz"] = ("silent",)
    monkeypatch.setenv("OFA2_DOWNLOAD_STALL", "0.2")
    refused(capsys, "data", "fetch", "fashion-mnist", "--data", tmp_path / "d",
            match=r"^error: download of .*train-images-idx3-ubyte.gz stalled: no bytes for 0.2 s")


def test_cli_fetch_gives_all_its_files_one_deadline(mirror, tmp_path, monkeypatch, capsys):
    """``ofa2 assets fetch`` starts one set of limits and hands the same one to every file."""
    from _bad_input_helpers import run_cli

    names = ("t1.bin", "t2.bin", "t3.bin")
    for n in names:
        _pin(monkeypatch, n, PAYLOAD)
        mirror.routes[n] = ("body", PAYLOAD, None)
    monkeypatch.setattr(assets, "OFFICIAL_FILES", {n: assets.OFFICIAL_FILES[n] for n in names})
    seen = []
    real = assets.download_asset
    monkeypatch.setattr(assets, "download_asset",
                        lambda name, folder, **kw: seen.append((name, kw["limits"])) or real(name, folder, **kw))
    rc, _, err = run_cli(capsys, "assets", "fetch", "--assets", tmp_path / "a", "--quiet")
    assert rc in (0, None), err
    assert [n for n, _ in seen] == list(names) and all((tmp_path / "a" / n).read_bytes() == PAYLOAD for n in names)
    assert all(limits is seen[0][1] for _, limits in seen)


def test_verify_passes_with_an_optional_unpinned_file_missing_and_fails_on_a_pinned_one(tmp_path, monkeypatch,
                                                                                         capsys):
    """``ofa2 assets verify``: a missing file that nothing pins is shown as optional, not a failure;
    a missing pinned file is exit 2 naming the fix."""
    _pin(monkeypatch, "p.bin", PAYLOAD)
    _pin(monkeypatch, "u.bin", None)  # unpinned (unreachable when the release was made)
    monkeypatch.setattr(assets, "OFFICIAL_FILES", {n: assets.OFFICIAL_FILES[n] for n in ("p.bin", "u.bin")})
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "p.bin").write_bytes(PAYLOAD)
    from _bad_input_helpers import run_cli

    rc, out, err = run_cli(capsys, "assets", "verify", folder)
    assert rc in (0, None), err
    assert "(optional, not pinned)" in out and "all 1 pinned files match their sha256" in " ".join(out.split())
    (folder / "p.bin").unlink()
    refused(capsys, "assets", "verify", folder,
            match=r"^error: 1 of 2 files in .* are missing or corrupt \(first: p.bin\); fix: ofa2 assets fetch --assets ")
