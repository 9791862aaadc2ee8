"""Recording packages in the user zoo (ofa2_zoo/zoo/records.py), on copies of the embedded
digits-cpu package (five members, no package to build): every recorded value read back and
compared with package.json and each member's config.json, a re-recorded package replacing its
earlier record, forgetting by path before profile (both present), and each refusal word for word."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ofa2_zoo.package.manifest import FIX_PACKAGE
from ofa2_zoo.package.errors import PackageError
from ofa2_zoo.package.verify import ContainmentError
from ofa2_zoo.zoo import RegistryError, ZooIndex, forget, record_package
from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR, IndexVersion, ProfileFronts
from ofa2_zoo.zoo.records import hub_index_members, manifest_stamp, package_record

SOURCE = EMBEDDED_ZOO_DIR / "digits-cpu"


@pytest.fixture
def package(tmp_path) -> Path:
    return Path(shutil.copytree(SOURCE, tmp_path / "pkg"))


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_record_holds_what_the_package_and_its_configs_say(package, monkeypatch):
    manifest = json.loads((package / "package.json").read_text())
    monkeypatch.chdir(package.parent)
    record = package_record("pkg", recorded_at=1234.5)  # a relative path: recorded resolved
    assert record.path == str(package.resolve())
    assert record.profile == manifest["profile"] == "digits-cpu"
    assert record.front_version_id == manifest["front_version_id"]
    assert record.space == manifest["space"]
    assert record.recorded_at == 1234.5
    st = (package / "package.json").stat()
    assert record.manifest_stamp == [st.st_mtime_ns, st.st_size]
    assert [m.k for m in record.members] == [m["k"] for m in manifest["members"]] == [0, 1, 2, 3, 4]
    for got, want in zip(record.members, manifest["members"], strict=True):
        cfg = json.loads((package / want["folder"] / "config.json").read_text())
        assert got.arch == cfg["model_args"]["arch"] == want["arch"]
        assert got.pretrained_cfg == cfg["pretrained_cfg"]
        assert got.weights == f"{want['folder']}/model.safetensors"
        assert got.top1 == want["measured"]["top1"]
        assert got.latency_ms == want["objectives"]["latency_ms"]
    # the member's own config wins over package.json for the arch: both present and different
    other = record.members[1].arch
    _edit(package / "members/front_0/config.json", lambda c: c["model_args"].__setitem__("arch", other))
    assert package_record(package, recorded_at=0.0).members[0].arch == other


def test_a_record_made_now_is_stamped_now(package):
    before = time.time()
    record = package_record(package)
    assert before <= record.recorded_at <= time.time()


def test_a_member_config_of_another_space_is_refused(package):
    cfg = package / "members/front_2/config.json"
    _edit(cfg, lambda c: c["model_args"]["space"].__setitem__("description", "another space"))
    with pytest.raises(RegistryError) as err:
        package_record(package)
    assert str(err.value) == (f"{package / 'members/front_2/config.json'}: its space differs from the package's "
                              f"({package / 'package.json'})")


def test_a_member_arch_outside_its_space_is_refused(package):
    cfg = package / "members/front_3/config.json"
    _edit(cfg, lambda c: c["model_args"]["arch"].__setitem__("r", [5]))
    with pytest.raises(RegistryError, match=r"^" + str(cfg).replace(".", r"\.") + r": .*\b5\b"):
        package_record(package)


def test_a_member_without_config_or_with_a_bad_one_is_named(package):
    what = f"package {package}: member k=2 (ofa2_digits_cpu_front_2)"
    cfg = package / "members/front_2/config.json"
    cfg.write_text("{")
    with pytest.raises(PackageError) as err:
        package_record(package)
    assert str(err.value).startswith(f"{what}: {cfg} is not valid JSON (")
    _edit(package / "members/front_1/config.json", lambda c: c.pop("pretrained_cfg"))
    with pytest.raises(PackageError) as err:
        package_record(package)
    assert str(err.value).startswith(f"package {package}: member k=1 (ofa2_digits_cpu_front_1): "
                                     f"{package / 'members/front_1/config.json'}: field 'pretrained_cfg'")
    (package / "members/front_0/config.json").unlink()
    with pytest.raises(ContainmentError) as err:
        package_record(package)
    assert str(err.value) == (f"package {package}: member k=0 (ofa2_digits_cpu_front_0): "
                              f"{package / 'members/front_0/config.json'} is missing; the package is incomplete "
                              f"({FIX_PACKAGE})")


def test_a_member_without_weights_is_named(package):
    (package / "members/front_4/model.safetensors").unlink()
    with pytest.raises(RegistryError) as err:
        package_record(package)
    assert str(err.value) == (f"package {package}: member k=4 has no model.safetensors in "
                              f"{package / 'members/front_4'}")


def test_weights_that_are_a_folder_or_a_link_are_refused(package, tmp_path):
    weights = package / "members/front_1/model.safetensors"
    outside = tmp_path / "outside.safetensors"
    shutil.move(weights, outside)
    weights.symlink_to(outside)
    with pytest.raises(ContainmentError, match="is a symbolic link"):
        package_record(package)
    weights.unlink()
    weights.mkdir()
    with pytest.raises(ContainmentError) as err:
        package_record(package)
    assert str(err.value) == (f"package {package}: member k=1 (ofa2_digits_cpu_front_1): {weights} is not a regular "
                              f"file ({FIX_PACKAGE})")


def test_a_member_folder_that_is_a_link_is_refused(package, tmp_path):
    shutil.move(package / "members/front_0", tmp_path / "front_0")
    (package / "members/front_0").symlink_to(tmp_path / "front_0")
    with pytest.raises(ContainmentError, match=r"member k=0 .*front_0 is a symbolic link"):
        package_record(package)


def test_manifest_stamp_follows_the_file(package):
    st = (package / "package.json").stat()
    assert manifest_stamp(package) == [st.st_mtime_ns, st.st_size]
    assert manifest_stamp(str(package)) == [st.st_mtime_ns, st.st_size]
    (package / "package.json").write_text((package / "package.json").read_text() + " ")
    os.utime(package / "package.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert manifest_stamp(package) == [st.st_mtime_ns + 10**9, st.st_size + 1]
    (package / "package.json").unlink()
    assert manifest_stamp(package) is None
    assert manifest_stamp(package / "absent") is None


def _copies(tmp_path: Path, n: int) -> list[Path]:
    return [Path(shutil.copytree(SOURCE, tmp_path / f"p{i:02d}")) for i in range(n)]


def test_recording_again_replaces_the_record_and_keeps_the_rest(tmp_path, monkeypatch):
    index_path = tmp_path / "user" / "zoo_index.json"
    monkeypatch.setenv("OFA2_USER_INDEX", str(index_path))
    packages = _copies(tmp_path, 10)
    existing = ZooIndex(default_profile="fmnist-cpu")
    existing.fronts["digits-cpu"] = ProfileFronts(versions=[IndexVersion.model_validate(
        {"version": "v1", "front_version_id": "abc", "members": [
            {"k": 0, "repo_id": "me/x", "revision": "v1", "arch": {"r": [4]}, "space": "ofa2_digits",
             "pretrained_cfg": {}}]})])
    existing.save(index_path)
    records = [record_package(p) for p in packages]  # the default index: $OFA2_USER_INDEX
    index = ZooIndex.load(index_path)
    assert index.packages == records
    assert [p.path for p in index.packages] == [str(p) for p in packages]
    again = record_package(packages[3], index_path)
    index = ZooIndex.load(index_path)
    assert [p.path for p in index.packages] == [str(p) for p in packages[:3] + packages[4:] + [packages[3]]]
    assert index.packages[-1] == again and again.recorded_at >= records[3].recorded_at
    assert index.fronts == existing.fronts and index.default_profile == "fmnist-cpu"


def _recorded(tmp_path: Path, names: list[str], profiles: list[str]) -> tuple[Path, list[Path]]:
    index_path = tmp_path / "zoo_index.json"
    folders = []
    for name, profile in zip(names, profiles, strict=True):
        folder = Path(shutil.copytree(SOURCE, tmp_path / name))
        _edit(folder / "package.json", lambda m, p=profile: m.__setitem__("profile", p))
        record_package(folder, index_path)
        folders.append(folder)
    return index_path, folders


def test_forget_by_path_by_a_gone_path_or_by_profile(tmp_path, monkeypatch):
    index_path, (a, b, c, d) = _recorded(tmp_path, ["a", "b", "c", "d"],
                                         ["digits-cpu", "digits-cpu", "other-cpu", "digits-cpu"])
    gone = forget(b, index_path)
    assert [g.path for g in gone] == [str(b)]
    assert [p.path for p in ZooIndex.load(index_path).packages] == [str(a), str(c), str(d)]
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(c)  # the folder is gone: its recorded path still names it
    assert [g.path for g in forget("c", index_path)] == [str(c)]
    gone = forget("digits-cpu", index_path)  # every package of the profile
    assert [g.path for g in gone] == [str(a), str(d)]
    assert ZooIndex.load(index_path).packages == []
    assert a.is_dir() and d.is_dir()  # the folders themselves stay


def test_forget_a_path_named_like_a_profile_forgets_only_that_path(tmp_path, monkeypatch):
    # both sources present and different: the folder "digits-cpu" and the profile digits-cpu
    index_path, (named, other) = _recorded(tmp_path, ["digits-cpu", "elsewhere"], ["digits-cpu", "digits-cpu"])
    monkeypatch.chdir(tmp_path)
    assert [g.path for g in forget("digits-cpu", index_path)] == [str(named)]
    assert [p.path for p in ZooIndex.load(index_path).packages] == [str(other)]


def test_forget_a_stored_path_that_no_longer_resolves_to_itself(tmp_path):
    index_path, (a,) = _recorded(tmp_path, ["a"], ["digits-cpu"])
    link = tmp_path / "link"
    link.symlink_to(a)
    index = ZooIndex.load(index_path)
    index.packages[0] = index.packages[0].model_copy(update={"path": str(link)})  # recorded through a link
    index.save(index_path)
    assert [g.path for g in forget(str(link), index_path)] == [str(link)]  # the text itself matches


def test_forget_nothing_recorded_names_what_is(tmp_path):
    index_path, (a, b) = _recorded(tmp_path, ["a", "b"], ["digits-cpu", "zeta-gpu"])
    with pytest.raises(RegistryError) as err:
        forget("digits-cpy", index_path)
    assert str(err.value) == (f"no package recorded at 'digits-cpy' and no recorded package of profile 'digits-cpy' in "
                              f"{index_path}; did you mean digits-cpu?")
    with pytest.raises(RegistryError) as err:
        forget("q", index_path)
    assert str(err.value) == (f"no package recorded at 'q' and no recorded package of profile 'q' in {index_path}; "
                              f"recorded: {', '.join(sorted([str(a), str(b), 'digits-cpu', 'zeta-gpu']))}")
    assert len(ZooIndex.load(index_path).packages) == 2  # nothing forgotten
    empty = tmp_path / "empty.json"
    with pytest.raises(RegistryError) as err:
        forget("digits-cpu", empty)
    assert str(err.value) == (f"no package recorded at 'digits-cpu' and no recorded package of profile 'digits-cpu' in "
                              f"{empty}; the local zoo is empty")


def test_forget_suggests_at_most_three_close_names(tmp_path):
    names = ["digits-cpa", "digits-cpb", "digits-cpc", "digits-cpd"]
    index_path, _ = _recorded(tmp_path, ["w", "x", "y", "z"], names)
    with pytest.raises(RegistryError) as err:
        forget("digits-cp", index_path)
    assert str(err.value).endswith("; did you mean digits-cpd, digits-cpc, digits-cpb?")  # (ties: difflib's order)
    # close from a similarity of 0.5: 'ab' and 'abcde' (2 * 2 / 7 = 0.57) are, 'ab' and 'abcdef' (0.5) are,
    # 'ab' and 'abcdefg' (0.44) are not
    more, _ = _recorded(tmp_path / "more", ["m", "n"], ["abcde", "abcdef"])
    with pytest.raises(RegistryError) as err:
        forget("ab", more)
    assert str(err.value).endswith("; did you mean abcde, abcdef?")
    less, (m,) = _recorded(tmp_path / "less", ["m"], ["abcdefg"])
    with pytest.raises(RegistryError) as err:
        forget("ab", less)
    assert str(err.value).endswith(f"; recorded: {m}, abcdefg")


def test_hub_index_rows_hold_each_members_record(package):
    record = package_record(package, recorded_at=0.0)
    repos = {k: f"me/digits-{k}" for k in range(5)}
    rows = hub_index_members(package, repos, "v3", endpoint="http://127.0.0.1:9/hub")
    assert [r["k"] for r in rows] == [0, 1, 2, 3, 4]
    for row, m in zip(rows, record.members, strict=True):
        assert row == {"k": m.k, "repo_id": f"me/digits-{m.k}", "revision": "v3", "arch": m.arch, "space": record.space,
                       "pretrained_cfg": m.pretrained_cfg, "top1": m.top1, "latency_ms": m.latency_ms,
                       "runtime_latency_ms": m.runtime_latency_ms, "endpoint": "http://127.0.0.1:9/hub"}
        assert set(m.runtime_latency_ms) == {"onnxruntime"} and m.runtime_latency_ms["onnxruntime"] > 0
    assert {r["endpoint"] for r in hub_index_members(package, repos, "v3")} == {None}
    del repos[3]
    with pytest.raises(RegistryError) as err:
        hub_index_members(package, repos, "v3")
    assert str(err.value) == "no Hub repo given for member k=3"
