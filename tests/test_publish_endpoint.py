"""A published version records the Hub it went to (HF_ENDPOINT at publish time) in the user
index, and later loads and pulls use that Hub even when HF_ENDPOINT is unset or names another
(tested with the loopback Hub of ``hub_server``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ofa2_zoo.package import read_manifest
from ofa2_zoo.publish import RetryPolicy, publish
from ofa2_zoo.zoo import ZooIndex

from _hub_helpers import NAMESPACE, PROFILE, cached_package, make_server, subprocess_env, use_hub

FAST = RetryPolicy(attempts=3, base_delay=0.0)


@contextlib.contextmanager
def another_hub():
    """A loopback Hub that knows no repository: it records each path asked for and answers 404
    at once (a dead port would cost huggingface_hub's five retries per file, about 25 s each)."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _missing(self):
            paths.append(self.path)
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = _missing

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", paths
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def server():
    srv = make_server()
    yield srv
    srv.stop()


def test_the_recorded_endpoint_is_used_without_hf_endpoint(server, tmp_path):
    pkg = cached_package(seed=0)
    index = tmp_path / "zoo_index.json"
    with use_hub(server, tmp_path / "hf"):
        publish(pkg, NAMESPACE, index_path=index, retry=FAST)
    (version,) = ZooIndex.load(index).versions(PROFILE)
    assert [m.endpoint for m in version.members] == [server.endpoint] * len(version.members)
    raw = json.loads(index.read_text())["fronts"][PROFILE]["versions"][0]["members"]
    assert {m["endpoint"] for m in raw} == {server.endpoint}  # what the file holds, read back as JSON

    code = f"""
import timm, torch, ofa2_zoo
from safetensors.torch import load_file
from ofa2_zoo.publish import pull
m = timm.create_model("ofa2_tiny_publish_front_1.v1", pretrained=True)
ref = load_file({str(pkg / 'members/front_1/model.safetensors')!r})
assert all(torch.equal(m.state_dict()[k], v) for k, v in ref.items())
r = pull("ofa2_tiny_publish_front_2.v1")
print("loaded", m.pretrained_cfg["hf_hub_id"], r.target.endpoint, sorted(r.files))
"""
    before = server.request_count
    # a fresh HF cache, online, with HF_ENDPOINT naming another Hub (a dead port) and then unset
    for n, unset in enumerate((False, True)):
        env = subprocess_env(None, tmp_path / f"hf-later-{n}")
        if unset:
            del env["HF_ENDPOINT"]
        env.update(OFA2_USER_INDEX=str(index), OFA2_ZOO_INDEX=str(tmp_path / "no-shipped.json"),
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-3000:]
        line = proc.stdout.strip().splitlines()[-1]
        assert line.startswith(f"loaded {NAMESPACE}/ofa2-{PROFILE}-front-1@v1 {server.endpoint} ")
        assert "model.safetensors" in line and "config.json" in line
    assert server.request_count > before  # the files came from the recorded Hub


def test_an_index_without_an_endpoint_uses_hf_endpoint(server, tmp_path):
    """Versions recorded before endpoints were (or the shipped index) go to HF_ENDPOINT's Hub."""
    pkg = cached_package(seed=0)
    index = tmp_path / "zoo_index.json"
    with use_hub(server, tmp_path / "hf"):
        publish(pkg, NAMESPACE, index_path=index, retry=FAST)
    data = json.loads(index.read_text())
    for m in data["fronts"][PROFILE]["versions"][0]["members"]:
        m.pop("endpoint")
    index.write_text(json.dumps(data))
    assert all(m.endpoint is None for m in ZooIndex.load(index).versions(PROFILE)[0].members)
    code = ("import timm, ofa2_zoo\n"
            "try:\n"
            "    timm.create_model('ofa2_tiny_publish_front_0.v1', pretrained=True)\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, str(exc).splitlines()[0])\n")
    before = server.request_count
    with another_hub() as (endpoint, paths):
        env = subprocess_env(None, tmp_path / "hf-later")
        env.update(HF_ENDPOINT=endpoint, OFA2_USER_INDEX=str(index), OFA2_ZOO_INDEX=str(tmp_path / "no-shipped.json"),
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the weights were asked of HF_ENDPOINT's Hub, not of the one the version went to
    assert paths and all(p.startswith(f"/{NAMESPACE}/ofa2-{PROFILE}-front-0/resolve/v1/") for p in paths), paths
    assert server.request_count == before
    assert proc.stdout.startswith("RegistryError cannot load the weights of ofa2_tiny_publish_front_0.v1 from Hub "
                                  f"repo {NAMESPACE}/ofa2-{PROFILE}-front-0@v1: ")
    assert read_manifest(pkg).profile == PROFILE
