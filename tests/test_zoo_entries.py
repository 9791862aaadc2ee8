"""The zoo's entries from its three sources (ofa2_zoo/zoo/entries.py), without building a package:
copies of the embedded digits-cpu package stand for local packages, hand-written indexes for the
Hub. Version order with more than ten versions, the user index winning over the shipped one for
the same tag (both present), the newest of many local packages, a package re-written or losing a
file between its recording and its use, and each warning word for word."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from ofa2_zoo.zoo import ZooIndex, ZooWarning, collect, record_package
from ofa2_zoo.zoo.entries import (Zoo, ZooEntry, default_tag, embedded_entries, hub_entries, local_entries,
                                  package_entries, suggest, tag_order, weights_cfg)
from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR
from ofa2_zoo.zoo.records import package_record

SOURCE = EMBEDDED_ZOO_DIR / "digits-cpu"


def _entry(tag="v1", profile="p", k=0, **kw) -> ZooEntry:
    return ZooEntry(profile, k, tag, kw.pop("source", "hub"), {}, "s", kw.pop("cfg", {}), kw.pop("where", "w"), **kw)


def _quietly(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [str(w.message) for w in caught if issubclass(w.category, ZooWarning)]


# ---------------------------------------------------------------------------- order and names
def test_tag_order_with_more_than_ten_versions():
    tags = ["v3", "embedded", "v10", "v1", "beta", "v12", "local", "v2", "v11", "v9", "v4", "v5", "v6", "v7", "v8",
            "alpha"]
    assert tag_order(tags) == ["local", "v12", "v11", "v10", "v9", "v8", "v7", "v6", "v5", "v4", "v3", "v2", "v1",
                               "alpha", "beta", "embedded"]
    assert tag_order(reversed(tags)) == tag_order(tags)


@pytest.mark.parametrize("tags, default", [
    (["embedded", "v1", "local"], "local"), (["v9", "v10", "embedded"], "v10"), (["embedded"], "embedded"),
    (["v1"], "v1"), (["local"], "local"), (["embedded", "v2", "v11", "v3"], "v11")])
def test_default_tag_is_local_then_newest_hub_version_then_embedded(tags, default):
    assert default_tag({t: _entry(t) for t in tags}) == default


def test_entry_name_alias_and_input_size():
    e = _entry("v1", profile="digits-cpu", k=3, cfg={"input_size": [1, 8, 8]})
    assert e.name == "ofa2_digits_cpu_front_3" and e.input_size == (1, 8, 8)
    assert _entry().input_size == () and _entry(cfg={"input_size": None}).input_size == ()
    zoo = Zoo("digits-cpu", [e, _entry("v1", profile="fmnist-cpu", k=3)])
    assert zoo.aliases(e) == ["ofa2_front_3"] and zoo.aliases(zoo.entries[1]) == []


def test_by_name_keeps_the_first_entry_of_each_tag_and_adds_the_default_profiles_aliases():
    first, second = _entry("v2", profile="d", where="first"), _entry("v2", profile="d", where="second")
    old, emb = _entry("v1", profile="d"), _entry("embedded", profile="d", source="embedded")
    other = _entry("v5", profile="o")
    zoo = Zoo("d", [first, second, old, emb, other])
    table = zoo.by_name()
    assert set(table) == {"ofa2_d_front_0", "ofa2_front_0", "ofa2_o_front_0"}
    assert table["ofa2_d_front_0"] == {"v2": first, "v1": old, "embedded": emb} == table["ofa2_front_0"]
    assert table["ofa2_o_front_0"] == {"v5": other}
    assert zoo.default_tags() == {"ofa2_d_front_0": "v2", "ofa2_front_0": "v2", "ofa2_o_front_0": "v5"}


def test_suggest_the_closest_names():
    known = ["ofa2_front_0", "ofa2_front_1", "ofa2_front_2", "ofa2_front_3", "ofa2_digits_cpu_front_0"]
    assert suggest("ofa2_front_9.v2", known) == " (did you mean ofa2_front_3, ofa2_front_2, ofa2_front_1?)"
    assert suggest("ofa2_front_9", known, n=1) == " (did you mean ofa2_front_3?)"
    assert suggest("resnet50", known) == ""
    assert suggest("ofa2_front_0", ["ofa2_front_0", "ofa2_front_0"]) == " (did you mean ofa2_front_0?)"
    # 0.6 is still close: 'abc' and 'abcde' (2 * 3 / 8 = 0.75), 'ab' and 'abcde' (4 / 7 = 0.57) not
    assert suggest("abc", ["abcde"]) == " (did you mean abcde?)" and suggest("ab", ["abcde"]) == ""
    assert suggest("abc", ["abcxx"]) == " (did you mean abcxx?)"  # exactly 0.6


def test_weights_cfg_replaces_every_weight_source_and_keeps_the_rest():
    cfg = {"url": "u", "file": "f", "hf_hub_id": "h", "hf_hub_filename": "n", "source": "s", "state_dict": {},
           "architecture": "a", "tag": "t", "input_size": [1, 8, 8], "mean": [0.3], "num_classes": 10}
    assert weights_cfg(cfg, file="/x/model.safetensors") == {"input_size": [1, 8, 8], "mean": [0.3], "num_classes": 10,
                                                              "file": "/x/model.safetensors"}
    assert weights_cfg(cfg, hf_hub_id="me/r@v1") == {"input_size": [1, 8, 8], "mean": [0.3], "num_classes": 10,
                                                      "hf_hub_id": "me/r@v1"}
    assert cfg["file"] == "f"  # the member's own cfg is not changed


# ---------------------------------------------------------------------------- the Hub versions
def _index(profile_versions: dict[str, dict[str, tuple[str, str | None]]], default="digits-cpu") -> ZooIndex:
    """{profile: {tag: (repo owner, endpoint)}} -> an index with one member (k=0) and one (k=1) per version."""
    index = ZooIndex(default_profile=default)
    for profile, versions in profile_versions.items():
        for tag, (owner, endpoint) in versions.items():
            members = [{"k": k, "repo_id": f"{owner}/{profile}-{k}", "revision": tag, "endpoint": endpoint,
                        "arch": {"d": [1, 1, 1], "e": [2] * 9, "ks": [3] * 9, "r": [4]}, "space": "ofa2_digits",
                        "pretrained_cfg": {"input_size": [1, 4, 4], "file": "stale", "hf_hub_id": "stale"},
                        "top1": 80.0 + k, "latency_ms": 0.5 + k} for k in (0, 1)]
            index.add_version(profile, f"id-{owner}-{tag}", members, version=tag)
    return index


def test_hub_entries_hold_each_members_index_row_and_the_later_index_wins_a_tag():
    shipped = _index({"digits-cpu": {f"v{i}": ("ci", None) for i in range(1, 12)}})
    user = _index({"digits-cpu": {"v11": ("me", "http://127.0.0.1:1/hub"), "v12": ("me", None)},
                   "other-cpu": {"v1": ("me", None)}})
    entries = hub_entries(shipped, user)
    tags = {(e.profile, e.tag, e.k): e for e in entries}
    assert len(entries) == len(tags) == 2 * 13
    assert {t for p, t, k in tags if p == "digits-cpu"} == {f"v{i}" for i in range(1, 13)}
    mine = tags["digits-cpu", "v11", 1]
    assert mine.where == "me/digits-cpu-1@v11" and mine.endpoint == "http://127.0.0.1:1/hub"
    assert mine.pretrained_cfg == {"input_size": [1, 4, 4], "hf_hub_id": "me/digits-cpu-1@v11"}
    assert (mine.source, mine.top1, mine.latency_ms, mine.space) == ("hub", 81.0, 1.5, "ofa2_digits")
    assert mine.arch == {"d": [1, 1, 1], "e": [2] * 9, "ks": [3] * 9, "r": [4]}
    assert tags["digits-cpu", "v10", 0].where == "ci/digits-cpu-0@v10" and tags["digits-cpu", "v10", 0].endpoint is None
    assert {e.where for e in hub_entries(user, shipped) if e.tag == "v11"} == {"ci/digits-cpu-0@v11",
                                                                                "ci/digits-cpu-1@v11"}


# ---------------------------------------------------------------------------- local packages
def _package(tmp_path: Path, name: str, profile: str = "digits-cpu") -> Path:
    folder = Path(shutil.copytree(SOURCE, tmp_path / name))
    if profile != "digits-cpu":
        manifest = json.loads((folder / "package.json").read_text())
        manifest["profile"] = profile
        (folder / "package.json").write_text(json.dumps(manifest))
    return folder


def test_package_entries_point_at_the_packages_own_weights(tmp_path):
    folder = _package(tmp_path, "a")
    record = package_record(folder, recorded_at=5.0)
    entries = package_entries(record, "local", "local")
    assert [e.k for e in entries] == [0, 1, 2, 3, 4]
    for e, m in zip(entries, record.members, strict=True):
        assert e.pretrained_cfg == weights_cfg(m.pretrained_cfg, file=str(folder / m.weights))
        assert Path(e.pretrained_cfg["file"]).is_file()
        assert (e.profile, e.tag, e.source, e.where, e.arch, e.space, e.top1, e.latency_ms, e.endpoint) == (
            "digits-cpu", "local", "local", str(folder), m.arch, record.space, m.top1, m.latency_ms, None)


def test_the_newest_of_many_local_packages_of_a_profile_wins(tmp_path):
    index = ZooIndex()
    stamps = [7.0, 3.0, 11.0, 1.0, 9.0, 2.0, 10.0, 5.0, 4.0, 8.0, 6.0]  # newest: the third
    for i, at in enumerate(stamps):
        index.packages.append(package_record(_package(tmp_path, f"p{i:02d}"), recorded_at=at))
    index.packages.append(package_record(_package(tmp_path, "o", profile="other-cpu"), recorded_at=0.5))
    entries, caught = _quietly(local_entries, index)
    assert caught == []
    assert {e.where for e in entries if e.profile == "digits-cpu"} == {str(tmp_path / "p02")}
    assert {e.where for e in entries if e.profile == "other-cpu"} == {str(tmp_path / "o")}
    assert [e.k for e in entries] == [0, 1, 2, 3, 4] * 2 and {e.tag for e in entries} == {"local"}


def test_a_moved_package_gives_way_to_the_next_newest_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "u.json"))
    new, old = _package(tmp_path, "new"), _package(tmp_path, "old")
    index = ZooIndex(packages=[package_record(old, recorded_at=1.0), package_record(new, recorded_at=2.0)])
    shutil.rmtree(new)
    entries, caught = _quietly(local_entries, index)
    assert {e.where for e in entries} == {str(old)}
    assert caught == [f"ofa2-zoo: skipping recorded local package(s) of the user zoo {tmp_path / 'u.json'}: "
                      f"1 moved or deleted ({new}). Fix: `ofa2 zoo forget PATH` (and `ofa2 zoo add NEW_PATH` for a "
                      "package that moved)"]


def test_a_package_rewritten_since_its_record_is_read_again(tmp_path):
    folder = _package(tmp_path, "a")
    record = package_record(folder, recorded_at=3.0)
    manifest = json.loads((folder / "package.json").read_text())
    arch = manifest["members"][1]["arch"]
    cfg_path = folder / "members/front_0/config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_args"]["arch"] = arch
    cfg_path.write_text(json.dumps(cfg))
    # package.json re-written (one byte longer): its stamp differs, so the configs are read again
    (folder / "package.json").write_text(json.dumps(manifest) + " ")
    entries, caught = _quietly(local_entries, ZooIndex(packages=[record]))
    assert caught == [] and entries[0].arch == arch and entries[0].arch != record.members[0].arch
    # the stamp unchanged: the record is used as it is (nothing read again)
    fresh = package_record(folder, recorded_at=3.0)
    cfg["model_args"]["arch"] = manifest["members"][2]["arch"]
    cfg_path.write_text(json.dumps(cfg))
    entries, _ = _quietly(local_entries, ZooIndex(packages=[fresh]))
    assert entries[0].arch == arch


def test_weights_removed_or_replaced_by_a_link_after_recording_skip_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "u.json"))
    a, b, c = _package(tmp_path, "a"), _package(tmp_path, "b"), _package(tmp_path, "c")
    index = ZooIndex(packages=[package_record(p, recorded_at=t) for p, t in ((a, 1.0), (b, 2.0), (c, 3.0))])
    (b / "members/front_2/model.safetensors").unlink()  # between the record (the check) and the use
    weights = c / "members/front_4/model.safetensors"
    shutil.move(weights, tmp_path / "elsewhere.safetensors")
    weights.symlink_to(tmp_path / "elsewhere.safetensors")
    entries, caught = _quietly(local_entries, index)
    assert {e.where for e in entries} == {str(a)}
    assert len(caught) == 1, caught
    assert caught[0].startswith(f"ofa2-zoo: skipping recorded local package(s) of the user zoo {tmp_path / 'u.json'}: "
                                f"2 unreadable ({c} (recorded member k=4 of {c}: {weights} is a symbolic link (to ")
    assert f"; {b} (package {b}: member k=2 has no model.safetensors in {b / 'members/front_2'})). Fix: " in caught[0]


def test_a_moved_and_a_broken_package_are_both_named(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "u.json"))
    a, b = _package(tmp_path, "a"), _package(tmp_path, "b")
    index = ZooIndex(packages=[package_record(a, recorded_at=1.0), package_record(b, recorded_at=2.0)])
    shutil.rmtree(a)
    (b / "members/front_0/model.safetensors").unlink()
    entries, caught = _quietly(local_entries, index)
    assert entries == []
    assert caught == [f"ofa2-zoo: skipping recorded local package(s) of the user zoo {tmp_path / 'u.json'}: "
                      f"1 moved or deleted ({a}); 1 unreadable ({b} (package {b}: member k=0 has no model.safetensors "
                      f"in {b / 'members/front_0'})). Fix: `ofa2 zoo forget PATH` (and `ofa2 zoo add NEW_PATH` for a "
                      "package that moved)"]


# ---------------------------------------------------------------------------- embedded and all together
def test_embedded_entries_skip_only_a_broken_package(tmp_path):
    zoo = tmp_path / "zoo"
    _package(zoo, "b-cpu", profile="b-cpu"), _package(zoo, "a-cpu", profile="a-cpu"), _package(zoo, "c-cpu")
    (zoo / "c-cpu/members/front_1/model.safetensors").unlink()
    (zoo / "notes").mkdir()  # a folder without package.json is not a package
    entries, caught = _quietly(embedded_entries, zoo)
    assert [(e.profile, e.k) for e in entries] == [("a-cpu", k) for k in range(5)] + [("b-cpu", k) for k in range(5)]
    assert {(e.tag, e.source) for e in entries} == {("embedded", "embedded")}
    assert caught == [f"ofa2-zoo: skipping the embedded package {zoo / 'c-cpu'}: package {zoo / 'c-cpu'}: member k=1 "
                      f"has no model.safetensors in {zoo / 'c-cpu/members/front_1'}. Fix: reinstall ofa2-zoo"]
    shipped, _ = _quietly(embedded_entries)  # the wheel's own: digits-cpu and fmnist-cpu
    assert sorted({e.profile for e in shipped}) == ["digits-cpu", "fmnist-cpu"]
    assert all(Path(e.pretrained_cfg["file"]).is_relative_to(EMBEDDED_ZOO_DIR) for e in shipped)


def test_collect_reads_both_indexes_from_their_variables(tmp_path, monkeypatch):
    shipped, user = tmp_path / "shipped.json", tmp_path / "user.json"
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(shipped))
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    _index({"digits-cpu": {"v1": ("ci", None), "v2": ("ci", None)}}, default="fmnist-cpu").save(shipped)
    _index({"digits-cpu": {"v2": ("me", None)}}).save(user)
    record_package(_package(tmp_path, "mine"), user)
    zoo, caught = _quietly(collect)
    assert caught == [] and zoo.default_profile == "fmnist-cpu"
    sources = [e.source for e in zoo.entries]
    assert sources == sorted(sources, key=["local", "hub", "embedded"].index)  # local, then Hub, then embedded
    table = zoo.by_name()["ofa2_digits_cpu_front_0"]
    assert set(table) == {"local", "v1", "v2", "embedded"}
    assert table["v2"].where == "me/digits-cpu-0@v2"  # the user's version wins the tag over the shipped one
    assert table["local"].where == str(tmp_path / "mine")
    assert zoo.default_tags()["ofa2_front_0"] == "embedded"  # fmnist-cpu: only its embedded version


def test_collect_survives_a_bad_shipped_index_and_names_the_variable(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.json"
    shipped.write_text("{")
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(shipped))
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "absent.json"))
    zoo, caught = _quietly(collect)
    assert len(caught) == 1 and caught[0].startswith(f"ofa2-zoo: zoo index {shipped} is not valid JSON: ")
    assert caught[0].endswith("; ignoring it. Fix: unset OFA2_ZOO_INDEX or point it at a valid zoo index")
    assert {e.source for e in zoo.entries} == {"embedded"}
    user = tmp_path / "user.json"
    user.write_text("[]")
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    monkeypatch.delenv("OFA2_ZOO_INDEX")
    zoo, caught = _quietly(collect)
    assert caught == [f"ofa2-zoo: zoo index {user}: format is 'list', expected 'ofa2-zoo-index/1'; ignoring it. "
                      "Fix: repair or delete that file (your packages stay where they are; record them again with "
                      "`ofa2 zoo add PATH`)"]
    assert zoo.default_profile == ZooIndex.load().default_profile


def test_a_broken_shipped_index_of_the_install_says_to_reinstall(tmp_path, monkeypatch):
    from ofa2_zoo.zoo import index as index_module

    broken = tmp_path / "zoo_index.json"  # the install's own file, damaged (no variable set)
    broken.write_text("[]")
    monkeypatch.setattr(index_module, "SHIPPED_INDEX_PATH", broken)
    monkeypatch.delenv("OFA2_ZOO_INDEX", raising=False)
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "absent.json"))
    zoo, caught = _quietly(collect)
    assert caught == [f"ofa2-zoo: zoo index {broken}: format is 'list', expected 'ofa2-zoo-index/1'; ignoring it. "
                      "Fix: reinstall ofa2-zoo"]
    assert {e.source for e in zoo.entries} == {"embedded"}


def test_two_moved_packages_are_both_named(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "u.json"))
    a, b = _package(tmp_path, "a"), _package(tmp_path, "b", profile="other-cpu")
    index = ZooIndex(packages=[package_record(a, recorded_at=1.0), package_record(b, recorded_at=2.0)])
    shutil.rmtree(a), shutil.rmtree(b)
    entries, caught = _quietly(local_entries, index)
    assert entries == []
    assert caught == [f"ofa2-zoo: skipping recorded local package(s) of the user zoo {tmp_path / 'u.json'}: "
                      f"2 moved or deleted ({b}, {a}). Fix: `ofa2 zoo forget PATH` (and `ofa2 zoo add NEW_PATH` for "
                      "a package that moved)"]
