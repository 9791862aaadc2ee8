"""``pull`` (ofa2_zoo/publish/pull.py) without a Hub: names resolved against hand-written zoo
indexes (more than ten versions, the user index beside the shipped one), and offline pulls from a
Hugging Face cache folder the test writes from the embedded digits-cpu package's members, so each
check of the downloaded files (arch, config, weights, links out of the cache) runs on real files.
The online paths are test_publish.py's (a loopback Hub)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ofa2_zoo.publish import PullError, pull, resolve_target
# the weight checks build the network on the meta device: torch and timm imported once, at collection
from ofa2_zoo.supernet.subnet import create_subnet  # noqa: F401
from ofa2_zoo.publish.pull import PullTarget
from ofa2_zoo.zoo import ZooIndex
from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR

from _hf_cache import cache_put

PACKAGE = EMBEDDED_ZOO_DIR / "digits-cpu"
MANIFEST = json.loads((PACKAGE / "package.json").read_text())
ARCHS = {m["k"]: m["arch"] for m in MANIFEST["members"]}


def _member_row(k: int, version: str, owner: str = "ci", endpoint: str | None = None, arch: dict | None = None) -> dict:
    return {"k": k, "repo_id": f"{owner}/digits-{k}", "revision": version, "endpoint": endpoint,
            "arch": arch or ARCHS[k], "space": "ofa2_digits", "pretrained_cfg": {"input_size": [1, 4, 4]}}


def _index(path: Path, versions: dict[str, list[int]], owner: str = "ci", default: str = "digits-cpu",
           profile: str = "digits-cpu", endpoint: str | None = None) -> Path:
    index = ZooIndex(default_profile=default)
    for tag, ks in versions.items():
        index.add_version(profile, f"{owner}-{tag}", [_member_row(k, tag, owner, endpoint) for k in ks], version=tag)
    index.save(path)
    return path


# ---------------------------------------------------------------------------- names
def test_a_name_without_a_version_is_the_newest_version_that_has_the_member(tmp_path):
    versions = {f"v{i}": [0, 1, 2] for i in range(1, 12)}
    versions["v11"] = [0, 2]  # the newest lacks member 1
    versions["v12"] = [0]
    index = _index(tmp_path / "i.json", versions)
    assert resolve_target("ofa2_digits_cpu_front_1", index) == PullTarget("ofa2_digits_cpu_front_1", "ci/digits-1", "v10",
                                                                           ARCHS[1], None)
    assert resolve_target("ofa2_digits_cpu_front_2", index).revision == "v11"
    assert resolve_target("ofa2_digits_cpu_front_0", index).revision == "v12"
    assert resolve_target("ofa2_front_2", index) == PullTarget("ofa2_front_2", "ci/digits-2", "v11", ARCHS[2], None)
    assert resolve_target("ofa2_digits_cpu_front_1.v9", index).revision == "v9"
    assert resolve_target("ofa2_front_0.v2", index).revision == "v2"


def test_the_endpoint_and_arch_come_from_the_index(tmp_path):
    index = _index(tmp_path / "i.json", {"v1": [3]}, endpoint="http://127.0.0.1:9/hub")
    target = resolve_target("ofa2_digits_cpu_front_3", index)
    assert target.endpoint == "http://127.0.0.1:9/hub" and target.arch == ARCHS[3]


def test_a_profile_with_dashes_is_found_by_its_underscored_name(tmp_path):
    index = _index(tmp_path / "i.json", {"v1": [0], "v2": [0]}, profile="a-b-cpu", default="a-b-cpu")
    assert resolve_target("ofa2_a_b_cpu_front_0", index).revision == "v2"


def test_the_users_published_versions_count_beside_the_shipped_ones(tmp_path, monkeypatch):
    shipped = _index(tmp_path / "shipped.json", {"v1": [0, 1], "v2": [0, 1]})
    user = _index(tmp_path / "user.json", {"v2": [0, 1], "v3": [1]}, owner="me")
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(shipped))
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    assert resolve_target("ofa2_front_1") == PullTarget("ofa2_front_1", "me/digits-1", "v3", ARCHS[1], None)
    assert resolve_target("ofa2_front_0").repo_id == "me/digits-0"  # v2 of both: the user's entry wins
    assert resolve_target("ofa2_front_0.v1").repo_id == "ci/digits-0"
    user.unlink()  # a user who published nothing: the shipped index alone
    assert resolve_target("ofa2_front_1").repo_id == "ci/digits-1"


def test_repo_ids_with_a_tag_are_taken_as_they_are(tmp_path):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    assert resolve_target("org/model.x_1@v7", index) == PullTarget("org/model.x_1@v7", "org/model.x_1", "v7")
    assert resolve_target("a/b@main", index).revision == "main"


@pytest.mark.parametrize("name, message", [
    ("ofa2_digits_cpu_front_1.v3", "ofa2_digits_cpu_front_1.v3: the digits-cpu front has no version v3 with a member 1 "
                                   "(published versions: v1, v2)"),
    ("ofa2_digits_cpu_front_7", "ofa2_digits_cpu_front_7: the digits-cpu front has no version with a member 7 "
                                "(published versions: v1, v2)"),
    ("ofa2_nothing_front_0", "no published front of profile 'nothing' in the zoo index (published: digits-cpu)"),
])
def test_names_the_index_lacks_say_what_it_has(tmp_path, name, message):
    index = _index(tmp_path / "i.json", {"v2": [0, 1], "v1": [0]})
    with pytest.raises(PullError) as err:
        resolve_target(name, index)
    assert str(err.value).startswith(message)


def test_an_empty_index_says_none(tmp_path):
    index = tmp_path / "i.json"
    ZooIndex().save(index)
    with pytest.raises(PullError, match=r"^no published front of profile 'x' in the zoo index \(published: none\)"):
        resolve_target("ofa2_x_front_0", index)


@pytest.mark.parametrize("name", ["resnet50", "ofa2_front_", "ofa2_front_1.v0", "ofa2_front_1.v01", "ofa2_Front_1",
                                  "org/repo@", "/repo", "org/", "ofa2_front_1.latest"])
def test_neither_a_name_nor_a_repo(tmp_path, name):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    with pytest.raises(PullError) as err:
        resolve_target(name, index)
    assert str(err.value).startswith(f"{name!r} is neither an ofa2 model name (ofa2_<profile>_front_<k>[.vN], "
                                     "ofa2_front_<k>[.vN]) nor a Hub repo id (org/repo[@vN])")


def test_a_misspelt_name_gets_the_close_published_ones(tmp_path):
    index = _index(tmp_path / "i.json", {"v1": [0, 1]})
    with pytest.raises(PullError) as err:
        resolve_target("ofa2_digits_cpu_frnt_1", index)
    assert "(did you mean ofa2_digits_cpu_front_1" in str(err.value)
    with pytest.raises(PullError) as err:
        resolve_target("zzzzzzzz", index)
    assert str(err.value).endswith("; `ofa2 zoo list` shows every known name")


def test_an_index_row_that_points_at_a_branch_is_refused(tmp_path):
    path = _index(tmp_path / "i.json", {"v1": [0]})
    data = json.loads(path.read_text())
    data["fronts"]["digits-cpu"]["versions"][0]["members"][0]["revision"] = "main"
    path.write_text(json.dumps(data))
    with pytest.raises(PullError) as err:
        resolve_target("ofa2_front_0", path)
    assert str(err.value) == "ofa2_front_0: the zoo index points at revision 'main', not a version tag"


def test_a_bad_index_is_a_pull_error_naming_it(tmp_path):
    bad = tmp_path / "i.json"
    bad.write_text("[]")
    with pytest.raises(PullError) as err:
        resolve_target("ofa2_front_0", bad)
    assert str(err.value) == f"zoo index {bad}: format is 'list', expected 'ofa2-zoo-index/1'"


# ---------------------------------------------------------------------------- offline pulls from the cache
def _member_files(k: int) -> dict[str, bytes]:
    folder = PACKAGE / f"members/front_{k}"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_an_offline_pull_returns_the_cached_snapshot(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [2], "v2": [2]})
    cache_put(offline_cache, "ci/digits-2", "v1", _member_files(1))  # v1: another member's files (not asked for)
    snap = cache_put(offline_cache, "ci/digits-2", "v2", _member_files(2))
    result = pull("ofa2_front_2", index_path=index)
    assert result.target == PullTarget("ofa2_front_2", "ci/digits-2", "v2", ARCHS[2], None)
    assert result.path == snap and result.commit == snap.name and len(result.commit) == 40
    assert result.files == ("README.md", "config.json", "model.safetensors")
    assert pull("ci/digits-2@v2", index_path=index).path == snap  # the repo form: config checked as ofa2's


def test_an_offline_pull_of_a_repo_without_a_tag_takes_its_newest_cached_version(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    for i in range(1, 12):
        cache_put(offline_cache, "org/m", f"v{i}", {"config.json": b'{"x": %d}' % i, "a/b.txt": b"x"})
    cache_put(offline_cache, "org/m", "main", {"config.json": b'{"x": 0}'})  # a branch is never taken
    cache_put(offline_cache, "org/m", "v12b", {"config.json": b'{"x": 0}'})  # nor a tag that is not v<N>
    result = pull("org/m", index_path=index)
    assert result.target.revision == "v11" and json.loads((result.path / "config.json").read_text()) == {"x": 11}
    assert result.files == ("a/b.txt", "config.json")  # a model of another kind: nothing of ours checked


def test_an_offline_repo_with_no_version_tags(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    with pytest.raises(PullError) as err:
        pull("org/none", index_path=index)
    assert str(err.value) == "org/none has no version tags (v1, v2, ...) in the local cache (offline)"
    cache_put(offline_cache, "org/none", "main", {"config.json": b"{}"})
    with pytest.raises(PullError) as err:
        resolve_target("org/none", index)
    assert str(err.value) == "org/none has no version tags (v1, v2, ...) in the local cache (offline)"


def test_an_offline_pull_of_what_is_not_cached_says_so(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    with pytest.raises(PullError) as err:
        pull("ofa2_front_0", index_path=index)
    assert str(err.value).startswith("cannot pull ofa2_front_0 (ci/digits-0@v1): ")
    assert str(err.value).endswith(" (offline mode is on and it is not in the local cache: pull it once online)")


def _pull_error(tmp_path, offline_cache, files: dict[str, bytes], k: int = 0, name: str = "ofa2_front_0") -> str:
    index = _index(tmp_path / "i.json", {"v1": [k]})
    cache_put(offline_cache, f"ci/digits-{k}", "v1", files)
    with pytest.raises(PullError) as err:
        pull(name, index_path=index)
    return str(err.value)


def test_a_member_repo_holding_another_arch_is_refused(tmp_path, offline_cache):
    assert _pull_error(tmp_path, offline_cache, _member_files(1)) == (
        "ci/digits-0@v1 does not hold the arch the zoo index lists for ofa2_front_0; the index and the Hub disagree "
        "(fix: update the zoo index, or publish the package again)")


def test_a_member_repo_without_config_or_weights_is_refused(tmp_path, offline_cache):
    files = _member_files(0)
    assert _pull_error(tmp_path, offline_cache, {"model.safetensors": files["model.safetensors"]}) == \
        "ci/digits-0@v1 has no config.json: not an ofa2 member repo"
    shutil.rmtree(offline_cache / "models--ci--digits-0")
    assert _pull_error(tmp_path, offline_cache, {"config.json": files["config.json"]}) == \
        "ci/digits-0@v1 has no model.safetensors"


def test_a_member_config_that_is_not_json_is_refused(tmp_path, offline_cache):
    message = _pull_error(tmp_path, offline_cache, {**_member_files(0), "config.json": b"{not json"})
    assert message.startswith("ci/digits-0@v1: config.json is not valid JSON (Expecting property name")
    assert message.endswith("; fix: publish the package again)")


def test_a_member_config_over_the_size_cap_is_refused_unread(tmp_path, offline_cache):
    from ofa2_zoo.package.verify import MAX_CONFIG_BYTES

    big = b" " * MAX_CONFIG_BYTES + b"{}"
    assert _pull_error(tmp_path, offline_cache, {**_member_files(0), "config.json": big}) == (
        f"ci/digits-0@v1: config.json has {MAX_CONFIG_BYTES + 2:,} bytes, more than a member's config.json may have "
        f"({MAX_CONFIG_BYTES:,}; fix: publish the package again)")


def test_weights_of_another_member_are_refused(tmp_path, offline_cache):
    files = {**_member_files(4), "model.safetensors": _member_files(0)["model.safetensors"]}
    message = _pull_error(tmp_path, offline_cache, files, k=4, name="ofa2_front_4")
    assert message.startswith("ci/digits-4@v1") and "model.safetensors" in message


def test_a_bad_member_config_is_one_pull_error(tmp_path, offline_cache):
    cfg = json.loads(_member_files(0)["config.json"])
    cfg["model_args"]["arch"]["r"] = [5]
    message = _pull_error(tmp_path, offline_cache, {**_member_files(0), "config.json": json.dumps(cfg).encode()})
    assert message.startswith("ci/digits-0@v1") and "5" in message


def test_a_cached_file_linking_out_of_the_repo_is_refused(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    snap = cache_put(offline_cache, "ci/digits-0", "v1", _member_files(0))
    outside = tmp_path / "outside.md"
    outside.write_text("x")
    (snap / "README.md").unlink()
    (snap / "README.md").symlink_to(outside)
    with pytest.raises(PullError) as err:
        pull("ofa2_front_0", index_path=index)
    home = snap.parents[1]
    assert str(err.value) == (f"ci/digits-0@v1: {snap / 'README.md'} resolves outside {home} ({outside}); refusing to "
                              "use it (fix: delete the folder and pull again)")
    (snap / "README.md").unlink()  # a .cache folder inside the snapshot is huggingface_hub's own: not checked
    (snap / ".cache").mkdir()
    (snap / ".cache" / "x.lock").symlink_to(outside)
    result = pull("ofa2_front_0", index_path=index)
    assert result.files == ("config.json", "model.safetensors")


def test_a_repo_of_another_kind_of_model_is_not_checked_but_an_ofa2_one_is(tmp_path, offline_cache):
    index = _index(tmp_path / "i.json", {"v1": [0]})
    cache_put(offline_cache, "org/other", "v1", {"config.json": b'{"architecture": "resnet50"}'})
    assert pull("org/other@v1", index_path=index).files == ("config.json",)
    cache_put(offline_cache, "org/list", "v1", {"config.json": b'[1]'})
    assert pull("org/list@v1", index_path=index).files == ("config.json",)
    cache_put(offline_cache, "org/plain", "v1", {"weights.bin": b"x"})  # no config.json at all
    assert pull("org/plain@v1", index_path=index).files == ("weights.bin",)
    cfg = json.loads(_member_files(0)["config.json"])  # an ofa2 member by repo id: its weights are checked
    cache_put(offline_cache, "org/ours", "v1", {"config.json": json.dumps(cfg).encode()})
    with pytest.raises(PullError) as err:
        pull("org/ours@v1", index_path=index)
    assert str(err.value) == "org/ours@v1 has no model.safetensors"
