"""The loopback Hub (tests/hub_server.py) driven by the real huggingface_hub and timm clients:
repos, NDJSON commits with regular and LFS files (single and multipart uploads), tags and
branches, model info, downloads pinned to tags, error codes, auth, fault injection,
concurrent downloads and the offline cache."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import huggingface_hub as hh
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
import pytest
import torch

from _hub_helpers import NAMESPACE, TOKEN, fast_client_retries, make_server, use_hub


REPO = f"{NAMESPACE}/demo"


@pytest.fixture(scope="module")
def server():
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture
def hub(server, tmp_path):
    server.reset()
    server.multipart_threshold = 64 * 1024 * 1024
    with use_hub(server, tmp_path / "hf") as cache:
        yield server, cache


def _folder(tmp: Path, weights: bytes) -> Path:
    d = tmp / "upload"
    (d / "sub").mkdir(parents=True, exist_ok=True)
    (d / "README.md").write_text("---\nlicense: mit\ntags: [timm]\n---\n# demo\n")
    (d / "config.json").write_text('{"architecture": "x"}')
    (d / "model.safetensors").write_bytes(weights)
    (d / "sub" / "notes.txt").write_text("notes")
    return d


def test_repo_commit_tag_info_and_pinned_download(hub, tmp_path):
    server, cache = hub
    api = HfApi()
    assert api.whoami()["name"] == "ofa2-bot"
    api.create_repo(REPO)
    api.create_repo(REPO, exist_ok=True)  # 409 -> exists
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_repo(REPO)
    assert exc.value.response.status_code == 409
    w1 = os.urandom(6000)
    v1 = api.upload_folder(repo_id=REPO, folder_path=_folder(tmp_path, w1), commit_message="v1 content").oid
    assert len(v1) == 40 and all(c in "0123456789abcdef" for c in v1)
    api.create_tag(REPO, tag="v1", revision=v1, tag_message="first")

    info = api.model_info(REPO, files_metadata=True)
    assert info.sha == v1
    sib = {s.rfilename: s for s in info.siblings}
    assert set(sib) == {".gitattributes", "README.md", "config.json", "model.safetensors", "sub/notes.txt"}
    assert sib["model.safetensors"].lfs.sha256 == hashlib.sha256(w1).hexdigest() and sib["config.json"].lfs is None

    # main moves on; the tag keeps pointing at v1's content
    w2 = os.urandom(7000)
    v2 = api.create_commit(REPO, [CommitOperationAdd("model.safetensors", w2),
                                  CommitOperationDelete("sub/notes.txt")], commit_message="v2", parent_commit=v1).oid
    assert [c.commit_id for c in api.list_repo_commits(REPO)][:2] == [v2, v1]
    refs = api.list_repo_refs(REPO)
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": v1}
    assert {b.name: b.target_commit for b in refs.branches} == {"main": v2}
    assert Path(hh.hf_hub_download(REPO, "model.safetensors", revision="v1")).read_bytes() == w1
    assert Path(hh.hf_hub_download(REPO, "model.safetensors")).read_bytes() == w2
    snap = Path(hh.snapshot_download(REPO, revision="v1"))
    assert snap.name == v1 and (snap / "sub" / "notes.txt").read_text() == "notes"
    assert (cache / "models--ofa2-test--demo" / "refs" / "v1").read_text() == v1
    assert sorted(f.path for f in api.list_repo_tree(REPO, recursive=True) if hasattr(f, "size")) == \
        [".gitattributes", "README.md", "config.json", "model.safetensors"]

    # an unchanged upload makes no commit; a stale parent commit is refused
    same = api.create_commit(REPO, [CommitOperationAdd("model.safetensors", w2)], commit_message="noop")
    assert same.oid == v2 and len(server.commits(REPO)) == 3
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit(REPO, [CommitOperationAdd("x.txt", b"x")], commit_message="stale", parent_commit=v1)
    assert exc.value.response.status_code == 412

    # branches and tags
    api.create_branch(REPO, branch="work", revision=v1)
    api.create_tag(REPO, tag="v2", revision="main")
    with pytest.raises(HfHubHTTPError):
        api.create_tag(REPO, tag="v2", revision=v1)  # tags are not moved
    assert server.tags(REPO) == {"v1": v1, "v2": v2}
    api.delete_tag(REPO, tag="v2")
    api.delete_branch(REPO, branch="work")
    refs = api.list_repo_refs(REPO)
    assert [t.name for t in refs.tags] == ["v1"] and [b.name for b in refs.branches] == ["main"]


def test_error_codes_map_to_the_clients_exceptions(hub):
    api = HfApi()
    api.create_repo(REPO)
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs(f"{NAMESPACE}/missing")
    with pytest.raises(RepositoryNotFoundError):
        hh.hf_hub_download(f"{NAMESPACE}/missing", "config.json")
    with pytest.raises(RevisionNotFoundError):
        hh.hf_hub_download(REPO, ".gitattributes", revision="v7")
    with pytest.raises(EntryNotFoundError):
        hh.hf_hub_download(REPO, "nothing.json")
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(REPO, tag="v7")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=b"---\n[unclosed: yaml\n---\n", path_in_repo="README.md", repo_id=REPO)


def test_writes_need_a_valid_token_reads_do_not(hub):
    server, _ = hub
    HfApi().create_repo(REPO)
    anonymous = HfApi(token=False)
    assert anonymous.list_repo_refs(REPO).branches[0].name == "main"
    with pytest.raises(HfHubHTTPError) as exc:
        anonymous.create_repo(f"{NAMESPACE}/other")
    assert exc.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(token="hf_wrong").create_tag(REPO, tag="v1")
    assert exc.value.response.status_code == 401
    assert f"{NAMESPACE}/other" not in server.repos and server.tags(REPO) == {}
    r = httpx2.post(f"{server.endpoint}/api/repos/create", json={"name": "bad--name", "organization": NAMESPACE},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and "Invalid repo name" in r.headers["X-Error-Message"]


def test_multipart_lfs_upload_round_trips(hub):
    server, _ = hub
    server.multipart_threshold, server.multipart_chunk = 10_000, 4096
    api = HfApi()
    api.create_repo(REPO)
    data = os.urandom(10_000 * 3 + 123)
    api.upload_file(path_or_fileobj=data, path_in_repo="big.onnx", repo_id=REPO)
    routes = [r.info.route for r in server.requests]
    assert routes.count("lfs_upload_part") == 8 and "lfs_complete" in routes and "lfs_upload" not in routes
    assert Path(hh.hf_hub_download(REPO, "big.onnx")).read_bytes() == data
    path = hh.hf_hub_download(REPO, "big.onnx", force_download=True)  # served again from storage
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_timm_push_and_hf_hub_load_at_a_tag(hub):
    import timm

    server, _ = hub
    model = timm.create_model("mobilenetv3_small_050", num_classes=7)
    timm.models.push_to_hf_hub(model, f"{NAMESPACE}/tiny-timm", safe_serialization=True, token=TOKEN)
    files = server.files(f"{NAMESPACE}/tiny-timm")
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    HfApi().create_tag(f"{NAMESPACE}/tiny-timm", tag="v1")
    # a later push must not change what @v1 loads
    timm.models.push_to_hf_hub(timm.create_model("mobilenetv3_small_050", num_classes=7),
                               f"{NAMESPACE}/tiny-timm", safe_serialization=True, token=TOKEN)
    loaded = timm.create_model(f"hf-hub:{NAMESPACE}/tiny-timm@v1", pretrained=True)
    assert loaded.num_classes == 7
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_faults_status_reset_lost_response_and_stall(hub):
    server, _ = hub
    api = HfApi()
    api.create_repo(REPO)
    # a 503 on the LFS batch call is retried by the client, the upload succeeds
    f503 = server.fail(route="lfs_batch", status=503)
    with fast_client_retries():
        api.upload_file(path_or_fileobj=os.urandom(3000), path_in_repo="a.safetensors", repo_id=REPO)
    assert f503.fired == 1 and [r.status for r in server.requests if r.info.route == "lfs_batch"] == [503, 200]
    # a reset before handling: nothing changed on the server
    n = len(server.commits(REPO))
    server.fail(route="commit", kind="reset")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.NetworkError)):
        api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=REPO)
    assert len(server.commits(REPO)) == n
    # a reset after handling: the commit happened but the client never heard of it
    server.fail(route="commit", kind="reset_after")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.NetworkError)):
        api.upload_file(path_or_fileobj=b"c", path_in_repo="c.txt", repo_id=REPO)
    assert len(server.commits(REPO)) == n + 1 and server.files(REPO)["c.txt"] == b"c"
    # a stall on the metadata request: the client times out, asks again and gets the file
    stall = server.fail(route="resolve", method="HEAD", kind="stall", delay=1.5)
    assert Path(hh.hf_hub_download(REPO, "c.txt", etag_timeout=0.5)).read_bytes() == b"c"
    heads = [r.status for r in server.requests if r.info.route == "resolve" and r.info.method == "HEAD"]
    assert stall.fired == 1 and heads[0] == "stall" and heads[-1] == 200
    # faults by request index, fired a bounded number of times (the tree listing retries 5xx)
    start = server.request_count
    fault = server.fail(at={start, start + 1}, kind="status", status=500, times=None)
    with fast_client_retries():
        assert "c.txt" in [f.path for f in api.list_repo_tree(REPO)]
    assert fault.fired == 2
    assert [r.status for r in server.requests[start:]] == [500, 500, 200]


def test_concurrent_downloads_share_one_valid_cache(hub):
    server, cache = hub
    api = HfApi()
    api.create_repo(REPO)
    data = os.urandom(200_000)
    oid = api.upload_file(path_or_fileobj=data, path_in_repo="model.safetensors", repo_id=REPO).oid
    api.create_tag(REPO, tag="v1")
    barrier = threading.Barrier(16)

    def pull(_):
        barrier.wait()
        return hh.hf_hub_download(REPO, "model.safetensors", revision="v1")

    with ThreadPoolExecutor(16) as pool:
        paths = list(pool.map(pull, range(16)))
    assert len(set(paths)) == 1 and Path(paths[0]).read_bytes() == data
    report = hh.scan_cache_dir(cache)
    assert not report.warnings
    (repo,) = report.repos
    assert [r.commit_hash for r in repo.revisions] == [oid] and set(repo.refs) == {"v1"}
    assert not list(cache.rglob("*.incomplete"))


def test_offline_reload_from_the_cache(server, tmp_path):
    server.reset()
    home = tmp_path / "hf"
    with use_hub(server, home):
        HfApi().create_repo(REPO)
        HfApi().upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id=REPO)
        HfApi().create_tag(REPO, tag="v1")
        online = hh.hf_hub_download(REPO, "config.json", revision="v1")
    before = server.request_count
    with use_hub(None, home, offline=True):
        assert hh.hf_hub_download(REPO, "config.json", revision="v1") == online
        with pytest.raises(hh.errors.LocalEntryNotFoundError):
            hh.hf_hub_download(REPO, "config.json", revision="v2")
    assert server.request_count == before
