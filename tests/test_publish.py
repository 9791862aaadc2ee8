"""Publishing packaged fronts to the loopback Hub and loading them back with the real clients:
v1 → timm weights identical to the package, an unchanged re-publish creates nothing, a changed
front becomes v2 with both versions loadable, hf-hub:...@v1, offline reload of a pinned version,
dry runs, refusals (tag overwrite, token, repo name, incomplete package, parity failure), the
token never printed, concurrent pulls, and the CI workflow file."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import timm
import torch
import yaml
from safetensors.torch import load_file

import ofa2_zoo  # noqa: F401  (registers ofa2_subnet)
from ofa2_zoo.publish import PublishError, PublishFailed, PullError, RetryPolicy, TagConflict, publish, pull
from ofa2_zoo.explorer import read_data
from ofa2_zoo.front import Front, diff_fronts
from ofa2_zoo.package import read_manifest
from ofa2_zoo.registry import ZooIndex, register_index

from _hub_helpers import NAMESPACE, TOKEN, cached_package, make_server, subprocess_env, use_hub

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "tiny-publish"
FRONT_REPO = f"{NAMESPACE}/ofa2-{PROFILE}-front"
FAST = RetryPolicy(attempts=3, base_delay=0.0)
WRITES = {"create_repo", "preupload", "commit", "tag_create", "tag_delete", "branch_create", "lfs_batch",
          "lfs_upload", "lfs_upload_part", "lfs_complete", "lfs_verify"}


def member_repo(k: int) -> str:
    return f"{FRONT_REPO}-{k}"


@pytest.fixture(scope="module")
def packages():
    """Two real packages of two different tiny fronts (v1 and v2 material)."""
    a, b = cached_package(seed=0), cached_package(seed=1)
    assert read_manifest(a).front_version_id != read_manifest(b).front_version_id
    return a, b


@pytest.fixture(scope="module")
def server():
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture
def hub(server, tmp_path):
    server.reset()
    with use_hub(server, tmp_path / "hf") as cache:
        yield server, cache, tmp_path / "zoo_index.json"


def _publish(pkg, index, **kw):
    kw.setdefault("retry", FAST)
    return publish(pkg, NAMESPACE, index_path=index, **kw)


def _commit_counts(server) -> dict[str, int]:
    return {r: len(server.commits(r)) for r in sorted(server.repos)}


def _state_dict_equal(model, path) -> None:
    expected = load_file(str(path))
    got = model.state_dict()
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert torch.equal(got[k], v), k


def test_publish_v1_and_timm_loads_the_packaged_weights(hub, packages):
    server, cache, index = hub
    pkg, _ = packages
    manifest = read_manifest(pkg)
    result = _publish(pkg, index)
    assert result.status == "published" and result.version == "v1" and result.previous is None
    assert len(result.repos) == len(manifest.members) + 1 and all(r.tagged and r.create_repo for r in result.repos)

    # one repo per member + the front repo, one commit each (after the Hub's initial commit), tag v1 on it
    for m in manifest.members:
        repo = member_repo(m.k)
        commits = server.commits(repo)
        assert len(commits) == 2 and server.tags(repo) == {"v1": commits[0].id}
        files = server.files(repo, "v1")
        assert set(files) == set(m.files) | {".gitattributes"}
        for name, sha in m.files.items():
            assert hashlib.sha256(files[name]).hexdigest() == sha
    front = server.files(FRONT_REPO, "v1")
    assert front["package.json"] == (pkg / "package.json").read_bytes()
    assert front["front.json"] == (pkg / "front" / "front.json").read_bytes()
    card = front["README.md"].decode()
    assert card.startswith((pkg / "front" / "README.md").read_text().rstrip("\n"))
    assert "## Published version `v1`" in card and "First published version" in card
    assert f"hf-hub:{member_repo(0)}@v1" in card
    assert len(server.commits(FRONT_REPO)) == 2 and "v1" in server.tags(FRONT_REPO)
    # the explorer page names the members at this version; no previous version to show
    page = read_data(front["index.html"].decode())
    assert page["version"] == manifest.front_version_id and page["previous"] is None
    names = [m["packaged"]["name"] for m in page["members"] if m["packaged"]]
    assert names == [f"ofa2_tiny_publish_front_{k}.v1" for k in range(3)]
    assert f'"hf-hub:{member_repo(0)}@v1", pretrained=True)' in page["members"][0]["packaged"]["snippet"]

    # the zoo index records it; its timm names load exactly the packaged weights from the Hub
    zoo = ZooIndex.load(index)
    (version,) = zoo.versions(PROFILE)
    assert version.version == "v1" and version.front_version_id == manifest.front_version_id
    assert [(m.repo_id, m.revision) for m in version.members] == [(member_repo(k), "v1") for k in range(3)]
    register_index(zoo)
    for m in manifest.members:
        model = timm.create_model(f"ofa2_tiny_publish_front_{m.k}", pretrained=True)
        assert model.pretrained_cfg["hf_hub_id"] == f"{member_repo(m.k)}@v1"
        _state_dict_equal(model, pkg / m.folder / "model.safetensors")
    pinned = timm.create_model("ofa2_tiny_publish_front_2.v1", pretrained=True)
    _state_dict_equal(pinned, pkg / "members/front_2/model.safetensors")
    direct = timm.create_model(f"hf-hub:{member_repo(1)}@v1", pretrained=True)
    _state_dict_equal(direct, pkg / "members/front_1/model.safetensors")
    assert (cache / f"models--{NAMESPACE}--ofa2-{PROFILE}-front-1" / "refs" / "v1").is_file()


def test_publish_records_in_the_user_index_never_in_the_installed_package(hub, packages, tmp_path, monkeypatch):
    from ofa2_zoo.zoo.index import SHIPPED_INDEX_PATH

    server, _, _ = hub
    pkg, _ = packages
    user = tmp_path / "user" / "zoo_index.json"
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    monkeypatch.delenv("OFA2_ZOO_INDEX", raising=False)
    shipped = SHIPPED_INDEX_PATH.read_bytes()
    result = _publish(pkg, None)
    assert result.status == "published" and result.index_path == user and result.index_updated
    assert SHIPPED_INDEX_PATH.read_bytes() == shipped
    (version,) = ZooIndex.load(user).versions(PROFILE)
    manifest = read_manifest(pkg)
    assert version.version == "v1" and [m.top1 for m in version.members] == [m.measured["top1"] for m in
                                                                            manifest.members]
    # `ofa2 pull NAME` resolves names with the shipped and the user index together; unknown names get suggestions
    assert pull("ofa2_tiny_publish_front_1").target.revision == "v1"
    with pytest.raises(PullError, match=r"no published front of profile 'tiny_publsh'.*did you mean "
                                        r"ofa2_tiny_publish_front_1"):
        pull("ofa2_tiny_publsh_front_1")


def test_unchanged_front_publishes_nothing(hub, packages):
    server, _, index = hub
    pkg, _ = packages
    _publish(pkg, index)
    counts, tags, start = _commit_counts(server), {r: server.tags(r) for r in server.repos}, server.request_count
    index_before = index.read_bytes()
    again = _publish(pkg, index)
    assert again.status == "unchanged" and again.version == "v1" and not again.repos and not again.index_updated
    assert _commit_counts(server) == counts and {r: server.tags(r) for r in server.repos} == tags
    assert not [r for r in server.requests[start:] if r.info.route in WRITES]
    assert index.read_bytes() == index_before


def test_changed_front_becomes_v2_and_both_versions_load_their_own(hub, packages):
    server, _, index = hub
    pkg_a, pkg_b = packages
    ma, mb = read_manifest(pkg_a), read_manifest(pkg_b)
    _publish(pkg_a, index)
    result = _publish(pkg_b, index)
    assert result.status == "published" and result.version == "v2" and result.previous == "v1"
    for k in range(3):
        commits = server.commits(member_repo(k))
        tags = server.tags(member_repo(k))
        assert set(tags) == {"v1", "v2"} and tags["v2"] == commits[0].id and tags["v1"] == commits[1].id
    card = server.files(FRONT_REPO, "v2")["README.md"].decode()
    assert "## Changes from `v1`" in card and "hypervolume change" in card
    # what changed from v1 to v2 (not the way back: the diff is not symmetric here)
    front_a, front_b = Front.load(pkg_a / "front"), Front.load(pkg_b / "front")
    forward, backward = diff_fronts(front_a, front_b).to_markdown(), diff_fronts(front_b, front_a).to_markdown()
    assert forward != backward and forward in card and backward not in card
    page = read_data(server.files(FRONT_REPO, "v2")["index.html"].decode())  # v1's front in grey
    assert page["version"] == mb.front_version_id and page["previous"]["label"] == "v1"
    assert page["previous"]["version"] == ma.front_version_id
    assert len(page["previous"]["points"]) == len(Front.load(pkg_a / "front").members)
    assert server.files(FRONT_REPO, "v1")["package.json"] == (pkg_a / "package.json").read_bytes()

    zoo = ZooIndex.load(index)
    assert [v.version for v in zoo.versions(PROFILE)] == ["v1", "v2"]
    register_index(zoo)
    for k in range(3):
        for tag, pkg, m in (("v1", pkg_a, ma), ("v2", pkg_b, mb)):
            model = timm.create_model(f"ofa2_tiny_publish_front_{k}.{tag}", pretrained=True)
            assert model.pretrained_cfg["hf_hub_id"] == f"{member_repo(k)}@{tag}"
            _state_dict_equal(model, pkg / m.members[k].folder / "model.safetensors")
        newest = timm.create_model(f"ofa2_tiny_publish_front_{k}", pretrained=True)
        _state_dict_equal(newest, pkg_b / mb.members[k].folder / "model.safetensors")
    assert _publish(pkg_b, index).status == "unchanged"
    assert _publish(pkg_a, index, version="v1").status == "unchanged"  # v1 is still exactly front A
    # the registry reads the same versions straight from the published front repo
    assert "ofa2_tiny_publish_front_2" in ofa2_zoo.register_front(FRONT_REPO)
    _state_dict_equal(timm.create_model("ofa2_tiny_publish_front_2.v1", pretrained=True),
                      pkg_a / ma.members[2].folder / "model.safetensors")


def test_offline_reload_of_a_pinned_version(hub, packages, tmp_path):
    server, cache, index = hub
    pkg, _ = packages
    _publish(pkg, index)
    online = pull("ofa2_tiny_publish_front_1.v1", index_path=index)
    assert online.target.repo_id == member_repo(1) and online.target.revision == "v1"
    assert online.commit == server.tags(member_repo(1))["v1"]
    assert {"config.json", "model.safetensors", "model.onnx", "README.md"} <= set(online.files)
    before = server.request_count
    code = f"""
import timm, torch, ofa2_zoo
from safetensors.torch import load_file
from ofa2_zoo.publish import pull
r = pull("ofa2_tiny_publish_front_1.v1")
assert r.commit == {online.commit!r}, r.commit
m = timm.create_model("ofa2_tiny_publish_front_1.v1", pretrained=True)
ref = load_file({str(pkg / 'members/front_1/model.safetensors')!r})
assert all(torch.equal(m.state_dict()[k], v) for k, v in ref.items())
try:
    pull("ofa2_tiny_publish_front_0.v1")
except Exception as exc:
    print("not cached:", type(exc).__name__)
print("offline ok")
"""
    env = subprocess_env(None, cache.parent, offline=True)  # HF_ENDPOINT points at a dead port
    env["OFA2_ZOO_INDEX"] = str(index)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "offline ok" in out.stdout and "not cached: PullError" in out.stdout
    assert server.request_count == before  # nothing reached the server


def test_dry_run_prints_the_plan_and_changes_nothing(hub, packages):
    server, _, index = hub
    pkg_a, pkg_b = packages
    lines: list[str] = []
    result = _publish(pkg_a, index, dry_run=True, say=lines.append)
    assert result.status == "dry-run" and result.version == "v1"
    assert not server.repos and not index.exists()
    assert all(r.info.method in ("GET", "HEAD") for r in server.requests)
    text = "\n".join(lines)
    assert "would publish tiny-publish" in text and text.count("would create the repo") == 4
    assert "add README.md" in text and "model.safetensors" in text and text.count("tag v1") == 4
    assert f"zoo index {index}: would record tiny-publish v1" in text

    _publish(pkg_a, index)
    counts, start = _commit_counts(server), server.request_count
    lines.clear()
    result = _publish(pkg_b, index, dry_run=True, say=lines.append)
    assert result.version == "v2" and result.previous == "v1"
    assert not [r for r in server.requests[start:] if r.info.route in WRITES] and _commit_counts(server) == counts
    assert all(not r.create_repo and not r.changes.empty for r in result.repos)
    # v2's files replace v1's in every repo: each plan line names the files and their sizes
    def kb(path):
        return f"{path.name} ({path.stat().st_size / 1000:.1f} kB)"

    fvid = read_manifest(pkg_b).front_version_id
    assert lines[0] == (f"dry run: would publish tiny-publish front {fvid[:12]} as v2 on {server.endpoint} "
                        "(previous version: v1)")
    for k in range(3):
        folder = pkg_b / "members" / f"front_{k}"
        files = ", ".join(kb(folder / n) for n in ("README.md", "config.json", "model.onnx", "model.safetensors"))
        assert lines[1 + k] == f"  {member_repo(k)}: would commit update {files}; tag v2"
    generated = r"\(\d+\.\d kB\)"  # the front card and explorer page, written for the Hub at publish time
    assert re.fullmatch(rf"  {FRONT_REPO}: would commit update README\.md {generated}, "
                        rf"{re.escape(kb(pkg_b / 'front' / 'front.json'))}, index\.html {generated}, "
                        rf"{re.escape(kb(pkg_b / 'package.json'))}; tag v2", lines[4])
    assert lines[5:] == [f"  zoo index {index}: would record tiny-publish v2"]


def test_refusals_publish_nothing(hub, packages, tmp_path):
    server, _, index = hub
    pkg_a, pkg_b = packages

    def refused(pkg, match, exc=PublishError, **kw):
        start = server.request_count
        with pytest.raises(exc, match=match):
            _publish(pkg, index, **kw)
        return server.requests[start:]

    # bad repo names, and packages that are incomplete, edited or failed their parity check: no request at all
    for ns in ("bad--name", "org/x", "-org", "x" * 100):
        start = server.request_count
        with pytest.raises(PublishError, match="invalid (namespace|Hub repo name)"):
            publish(pkg_a, ns, index_path=index, retry=FAST)
        assert server.request_count == start
    broken = {}
    for case in ("missing", "edited", "extra", "parity", "front"):
        p = tmp_path / case
        shutil.copytree(pkg_a, p)
        broken[case] = p
    (broken["missing"] / "members/front_1/model.onnx").unlink()
    (broken["edited"] / "members/front_0/README.md").write_text("edited")
    (broken["extra"] / "members/front_2/pytorch_model.bin").write_bytes(b"pickle")
    (broken["front"] / "front/front.json").unlink()
    for f in ("package.json", "front/package.json"):
        data = json.loads((broken["parity"] / f).read_text())
        data["members"][1]["parity"]["passed"] = False
        (broken["parity"] / f).write_text(json.dumps(data))
    for case, match in (("missing", "model.onnx is missing; the package is incomplete"),
                        ("edited", "does not match its sha256"), ("extra", "does not list \\(pytorch_model.bin\\)"),
                        ("parity", "member k=1 failed its ONNX parity check"), ("front", "lacks front.json")):
        assert refused(broken[case], match) == [], case
    assert not server.repos and not index.exists()

    # a different front under an existing tag is refused, nothing changes
    _publish(pkg_a, index)
    counts, tags = _commit_counts(server), {r: server.tags(r) for r in server.repos}
    reqs = refused(pkg_b, "already has version v1 = front", exc=TagConflict, version="v1")
    assert not [r for r in reqs if r.info.route in WRITES]
    # a stray v2 tag with other content (say an interrupted publish of another front) is refused too
    from huggingface_hub import HfApi

    HfApi().create_tag(member_repo(0), tag="v2")
    tags[member_repo(0)] = server.tags(member_repo(0))
    reqs = refused(pkg_b, "ofa2-tiny-publish-front-0 already has tag v2 with other content", exc=TagConflict)
    assert not [r for r in reqs if r.info.route in WRITES]
    assert _commit_counts(server) == counts and {r: server.tags(r) for r in server.repos} == tags


def test_hub_tag_refuses_a_tag_another_client_put_on_another_commit(hub):
    """The race between reading a repo's state and tagging: the tag appears in between. A 409 is
    accepted only when the existing tag points at the intended commit."""
    from huggingface_hub import CommitOperationAdd, HfApi

    from ofa2_zoo.publish.hub import Hub, HubUnavailable

    server, _, _ = hub
    api = HfApi()
    repo = f"{NAMESPACE}/race"
    api.create_repo(repo)
    ours = api.create_commit(repo, [CommitOperationAdd("a.txt", b"a")], commit_message="ours").oid
    tool = Hub(api, retry=FAST)
    assert "v1" not in tool.state(repo).tags  # what a publish reads first
    race = server.race(lambda srv, info: srv.tag_elsewhere(repo, "v1"), route="tag_create", repo=repo)
    with pytest.raises(HubUnavailable) as exc:
        tool.tag(repo, "v1", ours, "ours")
    elsewhere = server.commits(repo)[1].id  # the parent of ours: the repo's first commit
    assert race.fired == 1
    assert isinstance(exc.value.cause, TagConflict)
    assert str(exc.value.cause) == (f"{repo} already has tag v1 on commit {elsewhere[:12]}, not on {ours[:12]}; "
                                    "versions are immutable")
    assert server.tags(repo) == {"v1": elsewhere}  # never moved
    # the same race with the tag landing on the intended commit is no conflict (an earlier try's lost answer)
    server.race(lambda srv, info: srv.repo(repo).tags.__setitem__("v2", ours), route="tag_create", repo=repo)
    tool.tag(repo, "v2", ours, "ours")
    assert server.tags(repo) == {"v1": elsewhere, "v2": ours}


def test_publish_fails_when_a_member_tag_appears_on_another_commit(hub, packages):
    server, _, index = hub
    pkg, _ = packages
    taken = {}
    server.race(lambda srv, info: taken.setdefault("commit", srv.tag_elsewhere(member_repo(1), "v1")),
                route="tag_create", repo=member_repo(1))
    with pytest.raises(PublishFailed) as exc:
        _publish(pkg, index)
    ours = server.commits(member_repo(1))[0].id
    conflict = (f"{member_repo(1)} already has tag v1 on commit {taken['commit'][:12]}, not on {ours[:12]}; "
                "versions are immutable")
    assert str(exc.value) == (
        f"publishing {PROFILE} v1 failed while tagging: {conflict}; tagged v1: {member_repo(0)}; committed, not "
        f"tagged: {member_repo(1)}, {member_repo(2)}, {FRONT_REPO}; no v1 tag was put on an incomplete version; run "
        "the same publish again to complete it")
    result = exc.value.result
    assert result.status == "failed" and result.error == conflict
    assert [r.tagged for r in result.repos] == [True, False, False, False]
    assert server.tags(member_repo(1)) == {"v1": taken["commit"]}  # the other tag is never moved
    assert server.tags(FRONT_REPO) == {} and server.tags(member_repo(2)) == {}
    assert not index.exists()


def test_token_is_required_checked_and_never_printed(server, packages, tmp_path, caplog, capsys):
    from typer.testing import CliRunner

    from ofa2_zoo.cli import build_app, main

    pkg, _ = packages
    server.reset()
    index = tmp_path / "index.json"
    with use_hub(server, tmp_path / "hf", token=None):
        with pytest.raises(PublishError, match="no Hugging Face token"):
            _publish(pkg, index)
        assert server.request_count == 0
    with use_hub(server, tmp_path / "hf", token="hf_notTheRightOne"):
        with pytest.raises(PublishError, match="rejected the token"):
            _publish(pkg, index)
        assert not server.repos
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    app = build_app()
    with use_hub(server, tmp_path / "hf"):
        dry = runner.invoke(app, ["publish", str(pkg), "--namespace", NAMESPACE, "--dry-run", "--index", str(index)])
        assert dry.exit_code == 0, dry.output
        assert "would publish tiny-publish" in dry.output and not server.repos
        out = runner.invoke(app, ["publish", str(pkg), "--namespace", NAMESPACE, "--index", str(index)])
        assert out.exit_code == 0, out.output
        assert "published: tiny-publish v1 (4 repos)" in out.output
        pulled = runner.invoke(app, ["pull", f"{member_repo(0)}@v1"])
        assert pulled.exit_code == 0 and "commit" in pulled.output
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:  # the console script: user errors exit 2 with one line
            main(["publish", str(pkg), "--namespace", "bad--ns", "--index", str(index)])
        assert exit_info.value.code == 2
        bad = capsys.readouterr().err
        assert "invalid Hub repo name 'bad--ns/ofa2-tiny-publish-front'" in bad and len(bad.strip().splitlines()) == 1
    for text in (dry.output, out.output, bad, pulled.output, caplog.text):
        assert TOKEN not in text and TOKEN[3:12] not in text


def test_sixteen_concurrent_pulls_share_a_valid_cache(hub, packages, tmp_path):
    from huggingface_hub import scan_cache_dir

    server, cache, index = hub
    pkg, _ = packages
    _publish(pkg, index)
    barrier = threading.Barrier(16)

    def one(_):
        barrier.wait()
        return pull("ofa2_tiny_publish_front_2.v1", index_path=index)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert len({(r.commit, r.path) for r in results}) == 1
    # and 16 processes at once on a fresh cache (plain huggingface_hub, what pull runs underneath)
    fresh = tmp_path / "hf2"
    code = (f"from huggingface_hub import snapshot_download; "
            f"print(snapshot_download('{member_repo(2)}', revision='v1'))")
    env = subprocess_env(server, fresh)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(16)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-500:] for _, e in outs if e]
    assert len({o.strip() for o, _ in outs}) == 1
    manifest = read_manifest(pkg)
    for root in (cache, fresh / "hub"):
        report = scan_cache_dir(root)
        assert not report.warnings
        (repo,) = [r for r in report.repos if r.repo_id == member_repo(2)]
        (rev,) = repo.revisions
        assert rev.commit_hash == server.tags(member_repo(2))["v1"] and set(repo.refs) == {"v1"}
        snap = rev.snapshot_path
        for name, sha in manifest.members[2].files.items():
            assert hashlib.sha256((snap / name).read_bytes()).hexdigest() == sha
        assert not list(root.rglob("*.incomplete"))


def test_pull_errors_are_clear(hub, packages):
    _, _, index = hub
    pkg, _ = packages
    _publish(pkg, index)
    with pytest.raises(PullError, match="has no version v9 with a member 0"):
        pull("ofa2_tiny_publish_front_0.v9", index_path=index)
    with pytest.raises(PullError, match="no published front of profile 'nothing'"):
        pull("ofa2_nothing_front_0", index_path=index)
    with pytest.raises(PullError, match="neither an ofa2 model name"):
        pull("resnet50", index_path=index)
    with pytest.raises(PullError, match="has no version tags"):
        from huggingface_hub import HfApi

        HfApi().create_repo(f"{NAMESPACE}/untagged")
        pull(f"{NAMESPACE}/untagged", index_path=index)


def test_workflow_file_has_the_documented_triggers():
    wf = yaml.safe_load((ROOT / ".github/workflows/publish-fronts.yml").read_text())
    on = wf.get("on", wf.get(True))
    assert "hardware_profiles/**" in on["push"]["paths"] and on["push"]["tags"] and "workflow_dispatch" in on
    jobs = wf["jobs"]
    matrix = jobs["publish"]["strategy"]["matrix"]
    rows = matrix["include"]
    profiles = {r["profile"] for r in rows}
    assert {"digits-cpu", "note10", "cpu-onnxruntime", "cpu-torch", "gpu-tensorrt-fp16"} <= profiles
    gpu = [r for r in rows if r["profile"].startswith("gpu-")]
    assert gpu and all("gpu" in json.dumps(r["runner"]) for r in gpu)
    text = json.dumps(wf)
    assert "secrets.HF_TOKEN" in text and "actions/upload-artifact" in text
    assert "scripts/publish_fronts.py" in text and "zoo_index.json" in text and "git push" in text


def test_ci_script_merges_per_profile_index_files(hub, packages, tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import publish_fronts

    _, _, index = hub
    pkg_a, pkg_b = packages
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _publish(pkg_a, first)
    shutil.copyfile(first, second)
    _publish(pkg_b, second)
    into = tmp_path / "zoo_index.json"
    shutil.copyfile(ROOT / "ofa2_zoo/data/zoo_index.json", into)
    assert publish_fronts.merge_indexes(into, [first, second]) == ["tiny-publish v1", "tiny-publish v2"]
    assert publish_fronts.merge_indexes(into, [second]) == []
    assert [v.version for v in ZooIndex.load(into).versions(PROFILE)] == ["v1", "v2"]
    clash = ZooIndex.load(first)
    clash.fronts[PROFILE].versions[0].front_version_id = "0" * 64
    clash.save(tmp_path / "clash.json")
    with pytest.raises(SystemExit, match="versions are immutable"):
        publish_fronts.merge_indexes(into, [tmp_path / "clash.json"])


def test_versions_offline_and_index_messages_word_for_word(hub, packages, tmp_path, monkeypatch):
    """Explicit versions (numbered, not sorted as text), the refusals before any request, the
    unchanged front's lines for each state of the zoo index, and an index that cannot record."""
    from huggingface_hub import constants

    server, _, index = hub
    pkg_a, pkg_b = packages
    fa, fb = read_manifest(pkg_a).front_version_id, read_manifest(pkg_b).front_version_id
    for bad in ("v01", "v0", "2", "V2", "v2a"):
        with pytest.raises(PublishError) as exc:
            _publish(pkg_a, index, version=bad)
        assert str(exc.value) == f"version must look like v1, v2, ... (got {bad!r})"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PublishError) as exc:
        _publish(pkg_a, index, dry_run=True)
    assert str(exc.value) == "offline mode is on (HF_HUB_OFFLINE or OFA2_OFFLINE): cannot publish; unset it"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert server.request_count == 0

    assert _publish(pkg_a, index, version="v3").version == "v3"
    with pytest.raises(PublishError) as exc:
        _publish(pkg_b, index, version="v2")
    assert str(exc.value) == f"version v2 is not newer than the newest published version v3 of {FRONT_REPO}"
    assert _publish(pkg_b, index).version == "v4"
    result = _publish(pkg_a, index, version="v10")
    assert (result.version, result.previous) == ("v10", "v4")
    lines: list[str] = []
    again = _publish(pkg_a, index, say=lines.append)  # v10 is the newest (by number, not as text)
    assert (again.status, again.version, again.index_updated) == ("unchanged", "v10", False)
    head = f"unchanged: tiny-publish front {fa[:12]} is already the newest version, v10; nothing was created on {server.endpoint}"
    assert lines == [head, f"  zoo index {index}: already records tiny-publish v10"]
    lines.clear()
    _publish(pkg_b, index, version="v4", say=lines.append)  # an older version, exactly this front: unchanged too
    assert lines == [head.replace(fa[:12], fb[:12]).replace("v10", "v4"), f"  zoo index {index}: already records tiny-publish v4"]
    fresh = tmp_path / "fresh" / "zoo_index.json"
    lines.clear()
    assert _publish(pkg_a, fresh, dry_run=True, say=lines.append).status == "unchanged" and not fresh.exists()
    assert lines == [head, f"  zoo index {fresh}: would record tiny-publish v10"]
    lines.clear()
    assert _publish(pkg_a, fresh, say=lines.append).index_updated
    assert lines == [head, f"  zoo index {fresh}: recorded tiny-publish v10"]
    assert [v.version for v in ZooIndex.load(fresh).versions(PROFILE)] == ["v10"]
    lines.clear()
    _publish(pkg_a, fresh, dry_run=True, say=lines.append)  # a dry run reads the index: this version is there
    assert lines == [head, f"  zoo index {fresh}: already records tiny-publish v10"]
    lines.clear()
    _publish(pkg_b, fresh, version="v4", dry_run=True, say=lines.append)  # the index records v10 only
    assert lines[1:] == [f"  zoo index {fresh}: would record tiny-publish v4"]
    lines.clear()
    _publish(pkg_a, None, update_index=False, say=lines.append)
    assert lines == [head]

    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(PublishError) as exc:
        _publish(pkg_a, broken)
    assert str(exc.value).startswith(f"v10 is published on the Hub, but the zoo index {broken} could not record it: ")
    assert broken.read_text() == "{"


def test_a_hub_that_refuses_reading_publishes_nothing(hub, packages):
    server, _, index = hub
    pkg, _ = packages
    server.fail(route="refs", times=None, kind="status", status=403)
    with pytest.raises(PublishError) as exc:
        _publish(pkg, index)
    assert str(exc.value) == (f"could not read the Hub state before publishing (reading the refs of {FRONT_REPO} "
                              "failed: HTTP 403 (injected fault: HTTP 403)); nothing was published")
    assert not isinstance(exc.value, PublishFailed) and not server.repos and not index.exists()
    server.clear_faults()


def test_hub_reads_a_private_file_from_its_own_endpoint_with_the_token(hub, monkeypatch):
    """``Hub.read`` asks the endpoint of its own ``HfApi`` (not the environment's) and sends the
    token: a private repo's file reads back; without the token the Hub answers 404."""
    from huggingface_hub import HfApi, constants

    from ofa2_zoo.publish.hub import Hub, HubUnavailable

    from ofa2_zoo import __version__

    server, _, _ = hub
    api = HfApi(endpoint=server.endpoint, token=TOKEN)
    repo = f"{NAMESPACE}/private-notes"
    api.create_repo(repo, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="notes.txt", repo_id=repo)
    dead = "http://127.0.0.1:9"  # the environment's endpoint now points where nothing listens, and it has no token
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.delenv("HF_TOKEN")
    start = server.request_count
    assert Hub(api, retry=FAST).read(repo, "notes.txt", "main") == b"secret"
    (read,) = [r.info for r in server.requests[start:] if r.info.route == "resolve"]
    assert read.user_agent.startswith(f"ofa2-zoo/{__version__}; ")  # the library, as HfApi(library_name=...) says it
    anonymous = HfApi(endpoint=server.endpoint, token=False)
    with pytest.raises(HubUnavailable) as exc:
        Hub(anonymous, retry=FAST).read(repo, "notes.txt", "main")
    assert str(exc.value) == f"reading notes.txt of {repo}@main failed: HTTP 404 (Repository not found)"


def test_an_invalid_file_of_a_published_version_is_named_on_the_hub(hub, packages):
    """The newest version's package.json or front.json no longer valid (edited on the Hub): the
    next publish stops before writing, naming the file and repo@tag (not a temporary copy)."""
    from huggingface_hub import HfApi

    server, _, index = hub
    pkg_a, pkg_b = packages
    _publish(pkg_a, index)
    api = HfApi()

    def replace_at_v1(path: str, data: bytes) -> None:
        info = api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=FRONT_REPO)
        api.delete_tag(FRONT_REPO, tag="v1")
        api.create_tag(FRONT_REPO, tag="v1", revision=info.oid)

    for path, data, detail in (
            ("package.json", b"{", "package.json is not valid JSON: Expecting property name enclosed in double "
                                   "quotes: line 1 column 2 (char 1)"),
            ("front.json", b"[]", "front.json: field '(top level)': Input should be a valid dictionary")):
        if path == "front.json":  # a valid package.json again, so that the previous front is read
            replace_at_v1("package.json", (pkg_a / "package.json").read_bytes())
        replace_at_v1(path, data)
        start = server.request_count
        with pytest.raises(PublishError) as exc:
            _publish(pkg_b, index)
        message = str(exc.value)
        assert message.startswith(f"{path} of {FRONT_REPO}@v1 on the Hub is invalid: {detail}"), message
        assert message.endswith("; nothing was published") and "ofa2-publish-" not in message
        assert not [r for r in server.requests[start:] if r.info.route in WRITES]
