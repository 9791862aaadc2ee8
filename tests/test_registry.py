"""The zoo index and timm names: versions resolve to the right arch and revision, pretrained
weights load from a local package or through the Hugging Face cache, and bad input fails clearly."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

import ofa2_zoo
from ofa2_zoo.package import PackageError
from ofa2_zoo.registry import (DEFAULT_INDEX_PATH, RegistryError, ZooIndex, register_front, register_index,
                               registered_versions)

from _hf_cache import cache_put
from _package_helpers import TINY, tiny_package


CFG = {"input_size": [1, 16, 16], "mean": [0.3], "std": [0.4], "num_classes": 10, "interpolation": "bilinear",
       "crop_pct": 1.0, "first_conv": "conv_stem", "classifier": "classifier", "license": "mit"}


def _archs(seed: int, n: int) -> list[dict]:
    return [a.to_dict() for a in TINY.sample(n, seed)]


def _members(archs: list[dict], profile: str, tag: str) -> list[dict]:
    return [{"k": k, "repo_id": f"org/ofa2-{profile}-front-{k}", "revision": tag, "arch": a,
             "space": TINY.to_dict(), "pretrained_cfg": {**CFG, "input_size": [1, a["r"][0], a["r"][0]]}}
            for k, a in enumerate(archs)]


def _two_versions(profile: str) -> tuple[ZooIndex, list[dict], list[dict]]:
    v1, v2 = _archs(1, 3), _archs(2, 2)
    assert v1[1] != v2[1]
    index = ZooIndex(default_profile="digits-cpu")
    assert index.add_version(profile, "front-a", _members(v1, profile, "v1")) == "v1"
    assert index.add_version(profile, "front-b", _members(v2, profile, "v2")) == "v2"
    return index, v1, v2


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    return tiny_package(tmp_path_factory.mktemp("registry"))


# ---------------------------------------------------------------------------- index
def test_shipped_index_is_valid(monkeypatch):
    monkeypatch.delenv("OFA2_ZOO_INDEX", raising=False)
    index = ZooIndex.load()
    assert index.format == "ofa2-zoo-index/1" and index.default_profile == "fmnist-cpu"
    assert json.loads(DEFAULT_INDEX_PATH.read_text())["format"] == "ofa2-zoo-index/1"


def test_index_versions_are_idempotent_immutable_and_round_trip(tmp_path):
    index, v1, _ = _two_versions("tiny-idx")
    assert index.add_version("tiny-idx", "front-b", _members(v1, "tiny-idx", "v3")) == "v2"  # unchanged front
    assert [v.version for v in index.versions("tiny-idx")] == ["v1", "v2"]
    with pytest.raises(RegistryError, match="immutable"):
        index.add_version("tiny-idx", "front-c", _members(v1, "tiny-idx", "v1"), version="v1")
    bad = _members(v1, "tiny-idx", "v3")
    bad[0]["arch"]["ks"][0] = 4
    with pytest.raises(RegistryError, match=r"member k=0: kernel size"):
        index.add_version("tiny-idx", "front-c", bad)
    with pytest.raises(RegistryError, match="bad profile id"):
        index.add_version("Tiny Idx", "front-c", _members(v1, "tiny-idx", "v3"))
    path = index.save(tmp_path / "index.json")
    again = ZooIndex.load(path)
    assert again == index and path.read_text() == again.save(tmp_path / "index2.json").read_text()


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"),
    ('{"format": "something-else"}', "format is 'something-else'"),
    ('{"format": "ofa2-zoo-index/1", "fronts": {"x": {"versions": [{"version": "1"}]}}}', "field 'fronts.x.versions.0"),
])
def test_corrupt_index_is_a_clear_error(tmp_path, text, match):
    (tmp_path / "index.json").write_text(text)
    with pytest.raises(RegistryError, match=match):
        ZooIndex.load(tmp_path / "index.json")


# ---------------------------------------------------------------------------- tags
def test_tag_resolution_picks_the_arch_and_revision_of_each_version():
    index, v1, v2 = _two_versions("tiny-reg")
    names = register_index(index)
    assert names == [f"ofa2_tiny_reg_front_{k}" for k in range(3)]
    assert timm.list_models("ofa2_tiny_reg_*") == names
    assert set(timm.list_pretrained("ofa2_tiny_reg_*")) == {
        "ofa2_tiny_reg_front_0.v1", "ofa2_tiny_reg_front_0.v2", "ofa2_tiny_reg_front_1.v1",
        "ofa2_tiny_reg_front_1.v2", "ofa2_tiny_reg_front_2.v1"}
    assert registered_versions("ofa2_tiny_reg_front_1") == ["v2", "v1"]
    for name, arch, rev in [("ofa2_tiny_reg_front_1.v1", v1[1], "v1"), ("ofa2_tiny_reg_front_1.v2", v2[1], "v2"),
                            ("ofa2_tiny_reg_front_1", v2[1], "v2"), ("ofa2_tiny_reg_front_2", v1[2], "v1")]:
        model = timm.create_model(name)
        assert model.ofa2_arch.to_dict() == arch, name
        k = name.split(".")[0].rsplit("_", 1)[1]
        assert model.pretrained_cfg["hf_hub_id"] == f"org/ofa2-tiny-reg-front-{k}@{rev}"
        assert tuple(model.pretrained_cfg["input_size"]) == (1, arch["r"][0], arch["r"][0])
        assert model(torch.randn(1, 1, arch["r"][0], arch["r"][0])).shape == (1, 10)
    with pytest.raises(RegistryError, match=r"no version 'v9'; known: v2, v1"):
        timm.create_model("ofa2_tiny_reg_front_1.v9")
    with pytest.raises(RegistryError, match="no version 'v2'; known: v1"):
        timm.create_model("ofa2_tiny_reg_front_2.v2")


def test_import_registers_the_index_and_default_profile_aliases(tmp_path):
    index, v1, v2 = _two_versions("tiny-imp")
    index.default_profile = "tiny-imp"
    index.save(tmp_path / "index.json")
    code = ("import ofa2_zoo, timm, json; "
            "print(json.dumps([timm.list_models('ofa2_*'), timm.list_pretrained('ofa2_front_*'), "
            "timm.create_model('ofa2_front_1.v1').ofa2_arch.to_dict(), timm.create_model('ofa2_front_1').ofa2_arch.to_dict()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OFA2_ZOO_INDEX": str(tmp_path / "index.json")})
    models, pretrained, arch_v1, arch_new = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"ofa2_tiny_imp_front_0", "ofa2_front_0", "ofa2_front_2", "ofa2_subnet"} <= set(models)
    assert "ofa2_front_1.v1" in pretrained and "ofa2_front_1.v2" in pretrained
    assert arch_v1 == v1[1] and arch_new == v2[1]


# ---------------------------------------------------------------------------- weights
def test_register_local_package_loads_its_weights(package_dir):
    names = ofa2_zoo.register_front(package_dir)
    assert names == ["ofa2_tiny_test_front_0", "ofa2_tiny_test_front_1"]
    assert "ofa2_tiny_test_front_1.local" in timm.list_pretrained("ofa2_tiny_test_*")
    for k, name in enumerate(names):
        model = timm.create_model(name, pretrained=True)
        weights = load_file(package_dir / f"members/front_{k}/model.safetensors")
        assert all(torch.equal(v, weights[n]) for n, v in model.state_dict().items())
        cfg = timm.data.resolve_data_config({}, model=model)
        assert cfg["mean"] == (0.3,) and cfg["input_size"][0] == 1
    head = timm.create_model(names[0], pretrained=True, num_classes=4)
    assert head.get_classifier().out_features == 4




def test_hub_front_repo_registers_versions_and_loads_through_the_hf_cache(package_dir, offline_cache, tmp_path):
    # v1 is the package as made; v2 swaps the members (so each version has its own arch per k).
    v2 = tmp_path / "v2"
    shutil.copytree(package_dir, v2)
    manifest = json.loads((v2 / "package.json").read_text())
    for m in manifest["members"]:
        m["k"] = 1 - m["k"]
    (v2 / "front" / "package.json").write_text(json.dumps(manifest))
    for tag, pkg in (("v1", package_dir), ("v2", v2)):
        cache_put(offline_cache, "org/ofa2-tiny-test-front", tag, pkg / "front")
        for m in json.loads((pkg / "front" / "package.json").read_text())["members"]:
            cache_put(offline_cache, f"org/ofa2-tiny-test-front-{m['k']}", tag, pkg / m["folder"])
    names = register_front("org/ofa2-tiny-test-front")
    assert names == ["ofa2_tiny_test_front_0", "ofa2_tiny_test_front_1"]
    assert {"v1", "v2"} <= set(registered_versions("ofa2_tiny_test_front_0"))
    original = json.loads((package_dir / "package.json").read_text())["members"]
    for tag, k, src in (("v1", 0, 0), ("v1", 1, 1), ("v2", 0, 1), ("v2", 1, 0)):
        model = timm.create_model(f"ofa2_tiny_test_front_{k}.{tag}", pretrained=True)
        assert model.ofa2_arch.to_dict() == original[src]["arch"]
        assert model.pretrained_cfg["hf_hub_id"] == f"org/ofa2-tiny-test-front-{k}@{tag}"
        weights = load_file(package_dir / original[src]["folder"] / "model.safetensors")
        assert all(torch.equal(v, weights[n]) for n, v in model.state_dict().items())
    # timm's own Hub loader on a member repo and tag
    model = timm.create_model("hf-hub:org/ofa2-tiny-test-front-1@v2", pretrained=True)
    assert model.ofa2_arch.to_dict() == original[0]["arch"]


def test_register_front_errors_are_clear(package_dir, tmp_path, offline_cache):
    with pytest.raises(RegistryError, match="neither a package folder nor a Hub repo id"):
        register_front(str(tmp_path / "missing" / "x" / "y"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageError, match="not an ofa2 package folder"):
        register_front(tmp_path / "empty")
    broken = tmp_path / "broken"
    shutil.copytree(package_dir, broken)
    (broken / "package.json").write_text("{")
    with pytest.raises(PackageError, match="not valid JSON"):
        register_front(broken)
    shutil.copy(package_dir / "package.json", broken / "package.json")
    cfg_path = broken / "members" / "front_1" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_args"]["arch"]["ks"][0] = 4
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(PackageError, match=r"member k=1 .*front_1/config.json does not match its sha256"):
        register_front(broken)
    manifest = json.loads((broken / "package.json").read_text())  # the checksum updated too: the content is checked
    manifest["members"][1]["files"]["config.json"] = hashlib.sha256(cfg_path.read_bytes()).hexdigest()
    (broken / "package.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match=r"config.json: field 'model_args': kernel size of block 0"):
        register_front(broken)
    with pytest.raises(RegistryError, match="cannot list the versions of Hub front repo org/nothing-here"):
        register_front("org/nothing-here")
    with pytest.raises(RegistryError, match="unknown ofa2 model"):
        registered_versions("ofa2_nope_front_0")


def test_hub_front_repo_online_through_the_loopback_hub(package_dir, tmp_path):
    """Versions listed from the Hub's tags (list_repo_refs), weights downloaded at each tag."""
    from _hub_helpers import NAMESPACE, make_server, use_hub
    from huggingface_hub import HfApi

    members = json.loads((package_dir / "package.json").read_text())["members"]
    v2 = tmp_path / "v2-front"
    shutil.copytree(package_dir / "front", v2)
    swapped = json.loads((v2 / "package.json").read_text())
    for m in swapped["members"]:
        m["k"] = 1 - m["k"]
    (v2 / "package.json").write_text(json.dumps(swapped))
    front_repo = f"{NAMESPACE}/ofa2-tiny-test-front"
    server = make_server()
    try:
        with use_hub(server, tmp_path / "hf"):
            api = HfApi()
            for tag, front_folder, order in (("v1", package_dir / "front", [0, 1]), ("v2", v2, [1, 0])):
                uploads = [(front_repo, front_folder)] + [(f"{front_repo}-{k}", package_dir / members[src]["folder"])
                                                          for k, src in enumerate(order)]
                for repo, folder in uploads:
                    api.create_repo(repo, exist_ok=True)
                    api.upload_folder(repo_id=repo, folder_path=folder, commit_message=f"front {tag}")
                    api.create_tag(repo, tag=tag)
            names = register_front(front_repo)
            assert "ofa2_tiny_test_front_1" in names
            for tag, k, src in (("v1", 1, 1), ("v2", 1, 0), ("v2", 0, 1)):
                model = timm.create_model(f"ofa2_tiny_test_front_{k}.{tag}", pretrained=True)
                assert model.ofa2_arch.to_dict() == members[src]["arch"]
                weights = load_file(package_dir / members[src]["folder"] / "model.safetensors")
                assert all(torch.equal(v, weights[n]) for n, v in model.state_dict().items())
            only_v1 = register_front(f"{front_repo}@v1")
            assert only_v1 == names
    finally:
        server.stop()


# ---------------------------------------------------------------------------- in-process registration
def test_register_zoo_in_this_process(tmp_path, monkeypatch):
    """What ``import ofa2_zoo`` runs, called again: the zoo it is given (or the one the indexes
    describe), its default profile's ``ofa2_front_<k>`` aliases, and that default kept for later."""
    from ofa2_zoo import registry
    from ofa2_zoo.zoo import entries as zoo_entries

    index, v1, v2 = _two_versions("tiny-zoo")
    index.default_profile = "tiny-zoo"
    index.save(tmp_path / "shipped.json")
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(tmp_path / "shipped.json"))
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "user.json"))
    monkeypatch.setattr(registry, "_DEFAULT_PROFILE", registry._DEFAULT_PROFILE)
    # as in a fresh process with only the embedded zoo: versions that earlier tests registered
    # under the ofa2_front_<k> aliases (a local package of theirs) are set aside for this test
    monkeypatch.setattr(registry, "_VERSIONS", {
        name: ({t: e for t, e in tags.items() if t == "embedded"} if name.startswith("ofa2_front_") else tags)
        for name, tags in registry._VERSIONS.items()})
    try:
        names = registry.register_zoo()
        assert {f"ofa2_tiny_zoo_front_{k}" for k in range(3)} | {f"ofa2_front_{k}" for k in range(3)} <= set(names)
        assert names == sorted(names) and registry._DEFAULT_PROFILE == "tiny-zoo"
        assert timm.create_model("ofa2_front_1").ofa2_arch.to_dict() == v2[1]
        assert registered_versions("ofa2_front_2") == ["v1", "embedded"]  # the embedded zoo's stays last
        # a later registration without a default profile keeps the zoo's
        more = ZooIndex(default_profile="digits-cpu")
        more.add_version("tiny-zoo", "front-c", _members(_archs(3, 1), "tiny-zoo", "v3"), version="v3")
        assert registry.register_entries(zoo_entries.hub_entries(more)) == ["ofa2_front_0", "ofa2_tiny_zoo_front_0"]
        assert registered_versions("ofa2_front_0") == ["v3", "v2", "v1", "embedded"]
        # a zoo given as an argument is the one registered (not the indexes')
        other, w1, _ = _two_versions("tiny-given")
        given = zoo_entries.Zoo("tiny-given", zoo_entries.hub_entries(other))
        assert registry.register_zoo(given) == sorted([f"ofa2_front_{k}" for k in range(3)]
                                                      + [f"ofa2_tiny_given_front_{k}" for k in range(3)])
        assert registry._DEFAULT_PROFILE == "tiny-given"
        assert timm.create_model("ofa2_front_2").ofa2_arch.to_dict() == w1[2]
        # an index with its own default profile: its members become the ofa2_front_<k> aliases
        own, u1, _ = _two_versions("tiny-own")
        own.default_profile = "tiny-own"
        assert register_index(own) == sorted([f"ofa2_front_{k}" for k in range(3)]
                                             + [f"ofa2_tiny_own_front_{k}" for k in range(3)])
        assert timm.create_model("ofa2_front_2").ofa2_arch.to_dict() == u1[2]
    finally:
        monkeypatch.undo()
        registry.register_zoo()  # the real zoo's aliases again for the tests after this one


def test_hub_tags_from_the_cache_in_version_order(offline_cache, tmp_path):
    from ofa2_zoo.registry import _hub_tags

    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "package.json").write_text("{}")
    for tag in ("v2", "v10", "v1", "main-copy"):
        cache_put(offline_cache, "org/ofa2-x-front", tag, folder)
    cache_put(offline_cache, "org/other-front", "v3", folder)
    assert _hub_tags("org/ofa2-x-front") == ["v1", "v2", "v10"]
    with pytest.raises(RegistryError) as exc:
        _hub_tags("org/ofa2-y-front")  # only other repos are cached
    assert str(exc.value) == "cannot list the versions of Hub front repo org/ofa2-y-front (offline, and nothing cached)"


def test_hub_tags_without_a_cache_folder_or_a_reachable_hub(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from ofa2_zoo.registry import _hub_tags

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "no-cache-yet"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RegistryError) as exc:
        _hub_tags("org/a-front")
    assert str(exc.value) == "cannot list the versions of Hub front repo org/a-front (offline, and nothing cached)"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(RegistryError) as exc:
        _hub_tags("org/a-front")
    message = str(exc.value)
    assert message.startswith("cannot list the versions of Hub front repo org/a-front (") and message.endswith(")")
    reason = message.split(" (", 1)[1]
    assert reason.split(":")[0] in ("ConnectError", "ConnectionError", "LocalEntryNotFoundError"), message
    assert "offline" not in reason and "NoneType" not in reason


def _cache_front(cache: Path, package_dir: Path, repo: str, tags: tuple[str, ...], change=None) -> None:
    """The package's front and member folders in the HF cache as ``repo`` (and ``repo-<k>``) at ``tags``;
    ``change`` edits the front's package.json first."""
    front = Path(str(cache) + "-src") / repo.replace("/", "--")
    shutil.copytree(package_dir / "front", front)
    manifest = json.loads((front / "package.json").read_text())
    if change:
        change(manifest)
    (front / "package.json").write_text(json.dumps(manifest))
    for tag in tags:
        cache_put(cache, repo, tag, front)
        for m in json.loads((package_dir / "package.json").read_text())["members"]:
            cache_put(cache, f"{repo}-{m['k']}", tag, package_dir / m["folder"])


def test_hub_front_repo_at_one_tag_and_its_errors(package_dir, offline_cache):
    def rename(manifest):
        manifest["profile"] = "tiny-one"

    _cache_front(offline_cache, package_dir, "org/ofa2-tiny-one-front", ("v1", "v2"), rename)
    assert register_front("org/ofa2-tiny-one-front@v1") == ["ofa2_tiny_one_front_0", "ofa2_tiny_one_front_1"]
    assert registered_versions("ofa2_tiny_one_front_0") == ["v1"]  # only the tag asked for
    from ofa2_zoo.registry import resolve_name

    members = {m["k"]: m for m in json.loads((package_dir / "package.json").read_text())["members"]}
    for k in (0, 1):
        entry = resolve_name(f"ofa2_tiny_one_front_{k}")
        assert (entry.profile, entry.k, entry.tag, entry.source, entry.where) == (
            "tiny-one", k, "v1", "hub", f"org/ofa2-tiny-one-front-{k}@v1")
        assert entry.top1 == members[k]["measured"].get("top1") and entry.top1 is not None
        assert entry.latency_ms == members[k]["objectives"]["latency_ms"]
        assert entry.pretrained_cfg["hf_hub_id"] == f"org/ofa2-tiny-one-front-{k}@v1"
    with pytest.raises(RegistryError) as exc:
        register_front("org/ofa2-tiny-one-front@v7")
    assert str(exc.value).startswith("cannot read package.json of Hub front repo org/ofa2-tiny-one-front@v7: ")

    def bad_kernel(manifest):
        manifest["members"][0]["arch"]["ks"][0] = 4

    _cache_front(offline_cache, package_dir, "org/ofa2-bad-front", ("v1",), bad_kernel)
    with pytest.raises(RegistryError) as exc:
        register_front("org/ofa2-bad-front@v1")
    assert str(exc.value).startswith("org/ofa2-bad-front@v1 member k=0: kernel size"), str(exc.value)

    def other_arch(manifest):  # package.json and the member's config.json now disagree
        manifest["members"][1]["arch"] = manifest["members"][0]["arch"]

    _cache_front(offline_cache, package_dir, "org/ofa2-two-front", ("v1",), other_arch)
    with pytest.raises(RegistryError) as exc:
        register_front("org/ofa2-two-front@v1")
    assert str(exc.value).startswith("org/ofa2-two-front-1@v1: config.json describes arch ")
    assert str(exc.value).endswith(", the front's package.json another; the Hub repos disagree (fix: publish the "
                                   "package again)")


def test_a_local_package_registers_as_local(package_dir):
    from ofa2_zoo.registry import resolve_name

    register_front(package_dir)
    entry = resolve_name("ofa2_tiny_test_front_0.local")
    assert (entry.source, entry.tag, Path(entry.where)) == ("local", "local", package_dir.resolve())


# ---------------------------------------------------------------------------- timm's view of a registered name
@pytest.fixture
def restore_aliases(monkeypatch):
    """Registrations a test makes under the ``ofa2_front_<k>`` aliases are taken back afterwards
    (the registry's versions and timm's cfgs of every name registered before the test)."""
    from ofa2_zoo import registry

    before = {name: dict(tags) for name, tags in registry._VERSIONS.items()}
    monkeypatch.setattr(registry, "_DEFAULT_PROFILE", registry._DEFAULT_PROFILE)
    yield registry
    monkeypatch.undo()
    for name, tags in before.items():
        registry._VERSIONS.pop(name, None)
        registry._register(name, tags)


def test_register_front_with_a_default_profile_makes_it_the_alias_target(package_dir, restore_aliases):
    registry = restore_aliases
    names = register_front(package_dir, default_profile="tiny-test")
    assert names == ["ofa2_front_0", "ofa2_front_1", "ofa2_tiny_test_front_0", "ofa2_tiny_test_front_1"]
    for k in (0, 1):
        alias, own = registry.resolve_name(f"ofa2_front_{k}"), registry.resolve_name(f"ofa2_tiny_test_front_{k}")
        assert (alias.profile, alias.k, alias.tag, alias.source) == ("tiny-test", k, "local", "local")
        assert alias.arch == own.arch
        assert registered_versions(f"ofa2_front_{k}")[0] == "local"


def test_registered_names_are_pretrained_models_for_timm():
    from ofa2_zoo import registry

    index, _, _ = _two_versions("tiny-pre")
    names = register_index(index)
    assert timm.list_models("ofa2_tiny_pre_*", pretrained=True) == sorted(
        [f"{n}.v1" for n in names] + [f"{n}.v2" for n in names[:2]])
    for name in names:
        default = registry.default_cfgs[name]
        assert default.is_pretrained is True
        assert list(default.tags) == registered_versions(name) and set(default.cfgs) == set(default.tags)
        assert timm.models.is_model_pretrained(name)
        entry = timm.models.model_entrypoint(name)
        assert entry.__name__ == entry.__qualname__ == name and entry.__module__ == "ofa2_zoo.registry"
        assert entry.__doc__ == (f"ofa2-zoo front member {name} (versions: "
                                 f"ofa2_zoo.registry.registered_versions({name!r})).")


def test_the_cfg_follows_the_arch_whatever_the_file_says():
    archs = _archs(1, 2)
    members = _members(archs, "tiny-cfg", "v1")
    members[0]["pretrained_cfg"].update(input_size=[3, 99, 99], pool_size=[1, 1], num_classes=7)
    index = ZooIndex(default_profile="digits-cpu")
    index.add_version("tiny-cfg", "front-a", members)
    register_index(index)
    r = archs[0]["r"][0]
    f = TINY.feature_size(r)
    cfg = timm.models.get_pretrained_cfg("ofa2_tiny_cfg_front_0.v1")
    assert (cfg.input_size, cfg.pool_size, cfg.num_classes) == ((1, r, r), (f, f), 10)
    assert (cfg.mean, cfg.std, cfg.interpolation, cfg.crop_pct) == ((0.3,), (0.4,), "bilinear", 1.0)
    model = timm.create_model("ofa2_tiny_cfg_front_0")
    assert model(torch.randn(2, 1, r, r)).shape == (2, 10)
    assert model.forward_features(torch.randn(1, 1, r, r)).shape[-2:] == (f, f)


def test_the_entrypoint_builds_without_weights_unless_asked(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    index, v1, _ = _two_versions("tiny-ent")
    register_index(index)
    model = timm.models.model_entrypoint("ofa2_tiny_ent_front_2")()  # timm's own default: pretrained=False
    assert model.ofa2_arch.to_dict() == v1[2] and model.pretrained_cfg["tag"] == "v1"
    # pretrained=True goes for the Hub weights (offline, not cached): one line naming the version and the fix
    with pytest.raises(RegistryError, match=r"^cannot load the weights of ofa2_tiny_ent_front_2\.v1 from Hub repo "
                                            r"org/ofa2-tiny-ent-front-2@v1: LocalEntryNotFoundError: .* \(fix: `ofa2 "
                                            r"pull ofa2_tiny_ent_front_2\.v1` while online"):
        timm.models.model_entrypoint("ofa2_tiny_ent_front_2")(pretrained=True)


def test_a_pretrained_cfg_given_to_create_model_picks_the_version_and_is_used():
    from timm.models import get_pretrained_cfg

    index, v1, v2 = _two_versions("tiny-given-cfg")
    register_index(index)
    name = "ofa2_tiny_given_cfg_front_1"
    v1_cfg = get_pretrained_cfg(f"{name}.v1")
    mine = timm.models.PretrainedCfg(**{**v1_cfg.to_dict(), "mean": (0.5,), "std": (0.25,)})
    model = timm.create_model(name, pretrained_cfg=mine)
    assert model.ofa2_arch.to_dict() == v1[1]
    assert (model.pretrained_cfg["tag"], model.pretrained_cfg["mean"], model.pretrained_cfg["std"]) == ("v1", (0.5,), (0.25,))
    as_dict = {**v1_cfg.to_dict(), "mean": (0.25,)}
    model = timm.create_model(name, pretrained_cfg=as_dict)
    assert model.ofa2_arch.to_dict() == v1[1] and model.pretrained_cfg["mean"] == (0.25,)
    model = timm.create_model(name)  # no cfg, no tag: the default version (v2) with its registered cfg
    assert model.ofa2_arch.to_dict() == v2[1] and model.pretrained_cfg["mean"] == (0.3,)


def test_resolve_name_takes_a_tag_in_every_form():
    from timm.models import PretrainedCfg

    from ofa2_zoo.registry import resolve_name

    index, v1, v2 = _two_versions("tiny-rn")
    register_index(index)
    name = "ofa2_tiny_rn_front_1"
    for how in (PretrainedCfg(tag="v1"), {"tag": "v1"}, "v1"):
        entry = resolve_name(name, how)
        assert (entry.tag, entry.arch) == ("v1", v1[1]), how
    assert resolve_name(f"{name}.v1").arch == v1[1]
    assert resolve_name(f"{name}.v2", "v1").tag == "v1"  # an explicit tag wins over the one in the name
    for how in (None, "", {}, PretrainedCfg()):
        entry = resolve_name(name, how)
        assert (entry.tag, entry.arch) == ("v2", v2[1]), how
    with pytest.raises(RegistryError) as exc:
        resolve_name(name, {"tag": "v5"})
    assert str(exc.value) == "ofa2_tiny_rn_front_1 has no version 'v5'; known: v2, v1"
    with pytest.raises(RegistryError) as exc:
        resolve_name("ofa2_tiny_rn_front_3.v1")
    assert str(exc.value) == ("unknown ofa2 model 'ofa2_tiny_rn_front_3' (did you mean ofa2_tiny_rn_front_2, "
                              "ofa2_tiny_rn_front_1, ofa2_tiny_rn_front_0?); see `ofa2 zoo list`")
    with pytest.raises(RegistryError) as exc:
        registered_versions("ofa2_tiny_rn_front_3")
    assert str(exc.value) == ("unknown ofa2 model 'ofa2_tiny_rn_front_3' (did you mean ofa2_tiny_rn_front_2, "
                              "ofa2_tiny_rn_front_1, ofa2_tiny_rn_front_0?); see `ofa2 zoo list`")
    with pytest.raises(RegistryError) as exc:
        resolve_name("zzzz")
    assert str(exc.value) == "unknown ofa2 model 'zzzz'; see `ofa2 zoo list`"


def test_registering_hides_only_timms_overwrite_notice(monkeypatch):
    import warnings

    from ofa2_zoo import registry

    index, _, _ = _two_versions("tiny-warn")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        register_index(index)
        register_index(index)  # the same names again: timm's "Overwriting ... in registry" stays hidden
    assert [str(w.message) for w in seen] == []
    real = registry.register_model

    def noisy(fn):
        warnings.warn(f"something else about {fn.__name__}", UserWarning)
        return real(fn)

    monkeypatch.setattr(registry, "register_model", noisy)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        register_index(index)
    assert [str(w.message) for w in seen] == [f"something else about ofa2_tiny_warn_front_{k}" for k in range(3)]


def test_an_invalid_member_config_on_the_hub_names_the_repo_and_file(package_dir, offline_cache):
    fix = "(fix: re-package the front with `ofa2 package` instead of editing the package)"
    for case, repo in (("no model_args", "org/ofa2-cfg-front"), ("kernel 4", "org/ofa2-ks-front")):
        _cache_front(offline_cache, package_dir, repo, ("v1",))
        member = offline_cache / ("models--" + repo.replace("/", "--") + "-1")
        link = member / "snapshots" / (member / "refs" / "v1").read_text() / "config.json"
        cfg = json.loads(link.read_text())
        if case == "no model_args":  # the file's schema
            del cfg["model_args"]
        else:  # a valid file whose arch does not fit the space
            cfg["model_args"]["arch"]["ks"][0] = 4
        link.unlink()
        link.write_text(json.dumps(cfg))
        with pytest.raises(PackageError) as exc:
            register_front(f"{repo}@v1")
        message = str(exc.value)
        assert message.startswith(f"{repo}-1@v1: {link}: "), message
        assert message.endswith(fix)
        if case == "no model_args":
            assert "model_args" in message
        else:
            assert message.startswith(f"{repo}-1@v1: {link}: field 'model_args': kernel size of block 0"), message
