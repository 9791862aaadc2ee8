"""The local zoo and the zoo's sources: recorded packages register in later processes, the
default version of a name follows local > Hub > embedded, and bad index files or moved
packages never break ``import ofa2_zoo`` (one warning each, the other sources still count)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ofa2_zoo.cli import main
from ofa2_zoo.package.errors import PackageError
from ofa2_zoo.zoo import RegistryError, ZooIndex, ZooWarning, collect, forget, record_package, tag_order
from ofa2_zoo.zoo.entries import local_entries
from ofa2_zoo.zoo.records import hub_index_members

from _package_helpers import tiny_package

NAMES = ["ofa2_tiny_test_front_0", "ofa2_tiny_test_front_1"]


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    return tiny_package(tmp_path_factory.mktemp("zoo"))


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """An empty user index and an empty shipped index of this test's own (both files absent)."""
    user, shipped = tmp_path / "user" / "zoo_index.json", tmp_path / "shipped.json"
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(shipped))
    return user, shipped


def _run(code: str, user: Path, shipped: Path | None = None) -> tuple[dict, list[str]]:
    """Run ``code`` after ``import ofa2_zoo`` in a new process; returns its printed JSON and its warnings."""
    env = {**os.environ, "OFA2_USER_INDEX": str(user), "HF_HUB_OFFLINE": "1"}
    env.pop("OFA2_ZOO_INDEX", None)
    if shipped is not None:
        env["OFA2_ZOO_INDEX"] = str(shipped)
    prog = ("import json, warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import ofa2_zoo, timm\n"
            "zoo_warnings = [str(w.message) for w in caught if w.category.__name__ == 'ZooWarning']\n"
            + code + "\nprint(json.dumps([out, zoo_warnings]))\n")
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    out, caught = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, caught


def _copy(package_dir: Path, dest: Path) -> Path:
    shutil.copytree(package_dir, dest)
    return dest


def _collect_quietly():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo = collect()
    return zoo, [str(w.message) for w in caught if issubclass(w.category, ZooWarning)]


# ---------------------------------------------------------------------------- recorded packages
def test_a_recorded_package_registers_in_every_new_process(package_dir, tmp_path):
    user = tmp_path / "zoo_index.json"
    record = record_package(package_dir, user)
    assert record.profile == "tiny-test" and [m.k for m in record.members] == [0, 1]
    assert ZooIndex.load(user).packages == [record]
    code = ("from safetensors.torch import load_file\n"
            "out = {}\n"
            "for name in ['ofa2_tiny_test_front_0', 'ofa2_tiny_test_front_1']:\n"
            "    m = timm.create_model(name, pretrained=True)\n"
            "    w = load_file(m.pretrained_cfg['file'])\n"
            "    out[name] = [m.pretrained_cfg['tag'], m.pretrained_cfg['file'],\n"
            "                 all(bool((v == w[k]).all()) for k, v in m.state_dict().items())]\n"
            "out['pretrained'] = timm.list_pretrained('ofa2_tiny_test_*')")
    out, caught = _run(code, user)
    assert caught == []
    assert out["pretrained"] == [f"{n}.local" for n in NAMES]
    for k, name in enumerate(NAMES):
        assert out[name] == ["local", str(package_dir / f"members/front_{k}/model.safetensors"), True]


def test_the_newest_local_package_of_a_profile_is_the_default(package_dir, tmp_path):
    user = tmp_path / "zoo_index.json"
    older, newer = _copy(package_dir, tmp_path / "older"), _copy(package_dir, tmp_path / "newer")
    record_package(older, user)
    record_package(newer, user)
    record_package(package_dir, user)
    assert [p.path for p in ZooIndex.load(user).packages] == [str(older), str(newer), str(package_dir)]
    record_package(older, user)  # recording a folder again makes it the newest, once
    assert [p.path for p in ZooIndex.load(user).packages] == [str(newer), str(package_dir), str(older)]
    entries = local_entries(ZooIndex.load(user))
    assert {e.where for e in entries} == {str(older)} and sorted(e.k for e in entries) == [0, 1]
    # the newest one moved away: the next newest is used, with one warning naming the fix
    shutil.rmtree(older)
    with pytest.warns(ZooWarning, match=r"1 moved or deleted \(.*older\).*ofa2 zoo forget PATH") as caught:
        entries = local_entries(ZooIndex.load(user))
    assert len(caught) == 1 and {e.where for e in entries} == {str(package_dir)}


def test_default_version_is_local_then_newest_hub_then_embedded(package_dir, tmp_path):
    assert tag_order(["embedded", "v1", "local", "v10", "v2"]) == ["local", "v10", "v2", "v1", "embedded"]
    user, shipped = tmp_path / "zoo_index.json", tmp_path / "shipped.json"
    index = ZooIndex()
    repos = {k: f"org/ofa2-tiny-test-front-{k}" for k in (0, 1)}
    index.add_version("tiny-test", "front-a", hub_index_members(package_dir, repos, "v1"))
    index.save(shipped)
    code = ("from ofa2_zoo.registry import registered_versions\n"
            "out = [registered_versions('ofa2_tiny_test_front_1'), timm.create_model('ofa2_tiny_test_front_1')"
            ".pretrained_cfg.get('hf_hub_id')]")
    out, caught = _run(code, user, shipped)
    assert caught == [] and out == [["v1"], "org/ofa2-tiny-test-front-1@v1"]
    record_package(package_dir, user)
    out, caught = _run(code, user, shipped)
    assert caught == [] and out == [["local", "v1"], None]


def test_a_rewritten_package_is_read_again_and_a_deleted_one_is_one_warning(package_dir, tmp_path, zoo_env):
    user, _ = zoo_env
    pkg = _copy(package_dir, tmp_path / "pkg")
    record_package(pkg)
    manifest = json.loads((pkg / "package.json").read_text())
    manifest["members"] = manifest["members"][:1]  # re-packaged with one member
    (pkg / "package.json").write_text(json.dumps(manifest))
    zoo, caught = _collect_quietly()
    assert caught == [] and [(e.name, e.tag) for e in zoo.entries if e.source == "local"] == [(NAMES[0], "local")]
    (pkg / "members" / "front_0" / "model.safetensors").unlink()
    zoo, caught = _collect_quietly()
    assert len(caught) == 1 and "1 unreadable" in caught[0] and "model.safetensors" in caught[0]
    assert not [e for e in zoo.entries if e.source == "local"]
    shutil.rmtree(pkg)
    out, caught = _run("out = timm.list_pretrained('ofa2_tiny_test_*')", user)
    assert out == [] and len(caught) == 1 and f"moved or deleted ({pkg})" in caught[0]
    assert str(user) in caught[0] and "ofa2 zoo forget PATH" in caught[0]


def test_forget_by_path_or_profile(package_dir, tmp_path, zoo_env):
    a, b = _copy(package_dir, tmp_path / "a"), _copy(package_dir, tmp_path / "b")
    record_package(a)
    record_package(b)
    shutil.rmtree(a)
    assert [r.path for r in forget(str(a))] == [str(a)]  # a package that is gone already
    with pytest.raises(RegistryError, match=r"no package recorded at 'tiny-tset'.*did you mean tiny-test\?"):
        forget("tiny-tset")
    assert [r.path for r in forget("tiny-test")] == [str(b)]
    assert ZooIndex.load(zoo_env[0]).packages == []
    with pytest.raises(RegistryError, match="the local zoo is empty"):
        forget("tiny-test")


def test_a_package_with_a_member_folder_outside_it_is_refused(package_dir, tmp_path, zoo_env):
    pkg = _copy(package_dir, tmp_path / "pkg")
    manifest = json.loads((pkg / "package.json").read_text())
    manifest["members"][0]["folder"] = "../../elsewhere"
    (pkg / "package.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match=r"field 'members.0.folder': '../../elsewhere' is not a relative folder "
                                           r"inside the package"):
        record_package(pkg)


# ---------------------------------------------------------------------------- bad index files
@pytest.mark.parametrize("which", ["shipped", "user"])
@pytest.mark.parametrize("text, why", [
    ("{", "is not valid JSON"),
    ('{"format": "something-else"}', "format is 'something-else'"),
    ('{"format": "ofa2-zoo-index/1", "packages": [{"path": 3}]}', "field 'packages.0.path'"),
])
def test_a_bad_index_is_one_warning_and_the_other_sources_still_count(package_dir, zoo_env, which, text, why):
    user, shipped = zoo_env
    good, bad = (user, shipped) if which == "shipped" else (shipped, user)
    if which == "shipped":
        record_package(package_dir)
    else:
        index = ZooIndex()
        index.add_version("tiny-test", "front-a", hub_index_members(package_dir, {0: "o/r-0", 1: "o/r-1"}, "v1"))
        index.save(good)
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(text)
    zoo, caught = _collect_quietly()
    assert len(caught) == 1 and f"zoo index {bad}" in caught[0] and why in caught[0] and "Fix:" in caught[0]
    fix = "OFA2_ZOO_INDEX" if which == "shipped" else "delete that file"
    assert fix in caught[0]
    assert {e.name for e in zoo.entries if e.profile == "tiny-test"} == set(NAMES)


def test_missing_index_files_are_empty_and_import_survives_a_corrupt_one(tmp_path):
    zoo_missing = tmp_path / "nothing" / "here.json"
    out, caught = _run("out = timm.list_models('ofa2_*')", zoo_missing, zoo_missing)
    assert caught == [] and "ofa2_subnet" in out
    (tmp_path / "bad.json").write_text("not json")
    out, caught = _run("out = timm.list_models('ofa2_subnet')", tmp_path / "bad.json", tmp_path / "bad.json")
    assert out == ["ofa2_subnet"] and len(caught) == 2 and all("bad.json is not valid JSON" in w for w in caught)


# ---------------------------------------------------------------------------- the CLI
def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_cli_zoo_add_list_forget(package_dir, zoo_env, capsys):
    code, out, _ = _cli(capsys, "zoo", "add", str(package_dir))
    assert code == 0 and "ofa2_tiny_test_front_0, ofa2_tiny_test_front_1 (tag local)" in out
    code, out, _ = _cli(capsys, "zoo", "list", "ofa2_tiny_*", "--json")
    rows = json.loads(out)
    assert code == 0 and [(r["name"], r["tag"], r["default"], r["source"]) for r in rows] == [
        (n, "local", True, "local") for n in NAMES]
    record = json.loads((package_dir / "package.json").read_text())["members"]
    assert [r["top1"] for r in rows] == [m["measured"]["top1"] for m in record]
    assert [r["latency_ms"] for r in rows] == [m["objectives"]["latency_ms"] for m in record]
    assert [r["input_size"] for r in rows] == [[1] + m["arch"]["r"] * 2 for m in record]
    assert {r["where"] for r in rows} == {str(package_dir)}
    code, out, _ = _cli(capsys, "zoo", "list")
    assert code == 0 and "ofa2_tiny_test_front_1" in out and "local*" in out and f"tiny-test local: {package_dir}" in out
    code, _, err = _cli(capsys, "zoo", "list", "ofa2_tiny_tst_front_1")
    assert code == 2 and "did you mean ofa2_tiny_test_front_1" in err and "Traceback" not in err
    code, _, err = _cli(capsys, "zoo", "list", "--source", "nowhere")
    assert code == 2 and "choose from local, hub, embedded" in err
    code, out, _ = _cli(capsys, "zoo", "forget", "tiny-test")
    assert code == 0 and f"forgot {package_dir} (tiny-test, 2 members)" in out
    code, out, _ = _cli(capsys, "zoo", "list", "ofa2_tiny_*", "--json")
    assert code == 0 and json.loads(out) == []


def test_cli_zoo_forget_counts_one_member_in_the_singular(tmp_path, zoo_env, capsys):
    single = tiny_package(tmp_path, members=1)
    assert _cli(capsys, "zoo", "add", str(single))[0] == 0
    code, out, _ = _cli(capsys, "zoo", "forget", str(single))
    words = " ".join(out.split())  # rich may wrap the line
    assert code == 0 and f"forgot {single} (tiny-test, 1 member)" in words and "1 members" not in words


def test_zoo_list_orders_a_front_of_twelve_members_by_k(tmp_path, monkeypatch, capsys):
    """``ofa2 zoo list``: members in k order (front_2 before front_10), not as text."""
    from ofa2_zoo.space import DIGITS_SPACE

    arch = DIGITS_SPACE.largest(8).to_dict()
    members = [{"k": k, "repo_id": f"o/ofa2-digits-cpu-front-{k}", "revision": "v1", "arch": arch,
                "space": "ofa2_digits", "pretrained_cfg": {"input_size": [1, 8, 8]}} for k in range(12)]
    index = ZooIndex()
    index.add_version("digits-cpu", "twelve", members)
    index.save(tmp_path / "zoo_index.json")
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(tmp_path / "zoo_index.json"))
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "user.json"))
    code, out, err = _cli(capsys, "zoo", "list", "ofa2_digits_cpu_front_*", "--source", "hub", "--json")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)] == [f"ofa2_digits_cpu_front_{k}" for k in range(12)]


def test_zoo_list_of_a_source_with_nothing_in_it_is_an_empty_table(zoo_env, capsys):
    code, out, err = _cli(capsys, "zoo", "list", "--source", "local")
    assert code == 0, err
    assert "ofa2 zoo: 0 model versions" in " ".join(out.split()) and "error" not in err
