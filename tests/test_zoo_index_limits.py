"""The user zoo index as untrusted input: size and depth limits (checked before a bad file costs
time or memory), bad records skipped one by one, recorded paths held to the package's
containment rules, load failures as one line naming the record, and a profile's local package
as the only default of its names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from ofa2_zoo._schema import field_error
from ofa2_zoo.registry import register_entries
from ofa2_zoo.zoo import RegistryError, ZooIndex, ZooWarning, collect, record_package
from ofa2_zoo.zoo.entries import ZooEntry, default_tag, weights_cfg
from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR, MAX_INDEX_BYTES, MAX_INDEX_DEPTH, PackageMember
from ofa2_zoo.zoo.records import package_record

DIGITS = EMBEDDED_ZOO_DIR / "digits-cpu"


@pytest.fixture
def user_index(tmp_path, monkeypatch) -> Path:
    """This test's own user index (absent) and an empty shipped index."""
    user, shipped = tmp_path / "user" / "zoo_index.json", tmp_path / "shipped.json"
    user.parent.mkdir()
    shipped.write_text(json.dumps({"format": "ofa2-zoo-index/1"}))
    monkeypatch.setenv("OFA2_USER_INDEX", str(user))
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(shipped))
    return user


def _import_and(code: str, user: Path) -> tuple[object, list[str]]:
    """``import timm, ofa2_zoo`` in a fresh process with ``user`` as the user index, then ``code``
    (which sets ``out``); returns ``out`` and the ZooWarnings of the import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFA2_", "HF_"))}
    env.update(OFA2_USER_INDEX=str(user), HF_HUB_OFFLINE="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    prog = ("import json, warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import timm, ofa2_zoo\n"
            + code + "\nprint(json.dumps([out, [str(w.message) for w in caught "
                     "if w.category.__name__ == 'ZooWarning']]))\n")
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out, caught = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, caught


def _collect():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo = collect()
    return zoo, [str(w.message) for w in caught if issubclass(w.category, ZooWarning)]


def _copy_digits(dest: Path, members: int | None = None) -> Path:
    """A copy of the embedded digits package (profile digits-cpu), optionally cut to its first ``members``."""
    shutil.copytree(DIGITS, dest)
    if members is not None:
        manifest = json.loads((dest / "package.json").read_text())
        manifest["members"] = manifest["members"][:members]
        (dest / "package.json").write_text(json.dumps(manifest))
    return dest


def _record_dict(folder: Path) -> dict:
    return package_record(folder, recorded_at=1.0).model_dump(mode="json")


# ---------------------------------------------------------------------------- size
def test_an_index_one_byte_over_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "index.json"
    with path.open("wb") as f:
        f.truncate(MAX_INDEX_BYTES + 1)  # sparse: nothing is written, and nothing may be read
    with pytest.raises(RegistryError) as exc:
        ZooIndex.read(path)
    assert str(exc.value) == (f"zoo index {path} is {MAX_INDEX_BYTES + 1:,} bytes, more than a zoo index may have "
                              f"({MAX_INDEX_BYTES:,}); it was not read")


def test_an_index_of_exactly_the_size_limit_is_read(tmp_path):
    path = tmp_path / "index.json"
    text = json.dumps({"format": "ofa2-zoo-index/1", "default_profile": "digits-cpu"})
    path.write_text(text + " " * (MAX_INDEX_BYTES - len(text)))
    assert path.stat().st_size == MAX_INDEX_BYTES
    index, bad = ZooIndex.read(path)
    assert bad == [] and index.default_profile == "digits-cpu"


def test_a_128_mb_user_index_is_one_warning_and_the_embedded_zoo_still_loads(tmp_path):
    user = tmp_path / "zoo_index.json"
    with user.open("wb") as f:
        f.truncate(128 << 20)
    out, caught = _import_and("m = timm.create_model('ofa2_front_0', pretrained=True)\n"
                              "out = [m.pretrained_cfg['tag'], 'ofa2_digits_cpu_front_4' in timm.list_models()]", user)
    assert out == ["embedded", True]
    assert len(caught) == 1 and f"zoo index {user} is 134,217,728 bytes" in caught[0]
    assert "it was not read; ignoring it" in caught[0] and "Fix: repair or delete that file" in caught[0]


# ---------------------------------------------------------------------------- depth
def _nested(levels: int) -> dict:
    """A valid index whose deepest nesting is ``levels`` (root = 1): extra levels in a pretrained_cfg."""
    record = _record_dict(DIGITS)
    base = 6  # root, packages, a record, members, a member, its pretrained_cfg
    value: list = []
    for _ in range(levels - base - 1):
        value = [value]
    record["members"][0]["pretrained_cfg"]["note"] = value
    return {"format": "ofa2-zoo-index/1", "packages": [record]}


def test_an_index_nested_exactly_to_the_limit_is_read_and_one_level_more_is_not(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps(_nested(MAX_INDEX_DEPTH)))
    index, bad = ZooIndex.read(path)
    assert bad == [] and len(index.packages) == 1
    path.write_text(json.dumps(_nested(MAX_INDEX_DEPTH + 1)))
    with pytest.raises(RegistryError) as exc:
        ZooIndex.read(path)
    assert str(exc.value) == f"zoo index {path} is nested more than {MAX_INDEX_DEPTH} levels deep; it was not read"


def test_a_deeply_nested_user_index_is_one_warning_not_a_recursion_error(tmp_path):
    user = tmp_path / "zoo_index.json"
    user.write_text("[" * 200_000 + "]" * 200_000)
    out, caught = _import_and("out = timm.create_model('ofa2_front_0', pretrained=True).pretrained_cfg['tag']", user)
    assert out == "embedded"
    assert caught == [f"ofa2-zoo: zoo index {user} is nested more than {MAX_INDEX_DEPTH} levels deep; it was not "
                      "read; ignoring it. Fix: repair or delete that file (your packages stay where they are; record "
                      "them again with `ofa2 zoo add PATH`)"]


# ---------------------------------------------------------------------------- records
@pytest.mark.parametrize("weights, message", [
    ("../../etc/passwd.safetensors", "'../../etc/passwd.safetensors' is not a relative path inside the package folder"),
    ("/etc/model.safetensors", "'/etc/model.safetensors' is not a relative path inside the package folder"),
    ("members//model.safetensors", "'members//model.safetensors' is not a relative path inside the package folder"),
    ("members/./model.safetensors", "'members/./model.safetensors' is not a relative path inside the package folder"),
    ("members/front_0/model.pt", "'members/front_0/model.pt' is not a .safetensors file (weights load only from "
                                 "safetensors)"),
])
def test_recorded_weights_must_be_a_safetensors_file_inside_the_package(weights, message):
    row = {**_record_dict(DIGITS)["members"][0], "weights": weights}
    with pytest.raises(Exception) as exc:
        PackageMember.model_validate(row)
    assert field_error(exc.value) == f"field 'weights': {message}"
    row["weights"] = "members/front_0/model.safetensors"  # the value next to them that is fine
    assert PackageMember.model_validate(row).weights == "members/front_0/model.safetensors"


def test_a_bad_record_is_skipped_on_its_own(tmp_path, user_index):
    good = _copy_digits(tmp_path / "good")
    outside = _record_dict(_copy_digits(tmp_path / "other"))
    outside["members"][0]["weights"] = "../good/members/front_0/model.safetensors"
    outside["recorded_at"] = 2.0  # newer than the good one: it would be the default
    relative = {**_record_dict(good), "path": "relative/pkg"}
    bad_version = {"version": "latest", "front_version_id": "x", "members": []}
    user_index.write_text(json.dumps({"format": "ofa2-zoo-index/1", "packages": [_record_dict(good), outside, relative],
                                      "fronts": {"digits-cpu": {"versions": [bad_version]}}}))
    zoo, caught = _collect()
    assert caught == [
        f"ofa2-zoo: zoo index {user_index}: skipping 3 bad records (field 'packages.1.members.0.weights': "
        "'../good/members/front_0/model.safetensors' is not a relative path inside the package folder; field "
        "'packages.2.path': 'relative/pkg' is not an absolute path; field 'fronts.digits-cpu.versions.0.version': "
        "String should match pattern '^v[1-9]\\d*$'); the others count. Fix: repair or delete that file (your packages "
        "stay where they are; record them again with `ofa2 zoo add PATH`)"]
    local = [e for e in zoo.entries if e.source == "local"]
    assert len(local) == 5 and {e.where for e in local} == {str(good)}
    with pytest.raises(RegistryError, match=r"field 'packages.1.members.0.weights'"):
        ZooIndex.load(user_index)  # editing the file still refuses it as a whole


def test_weights_that_are_a_symbolic_link_out_of_the_package_are_refused(tmp_path, user_index):
    pkg = _copy_digits(tmp_path / "pkg")
    record_package(pkg)
    foreign = _copy_digits(tmp_path / "foreign") / "members" / "front_4" / "model.safetensors"
    weights = pkg / "members" / "front_0" / "model.safetensors"
    weights.unlink()
    weights.symlink_to(foreign)  # package.json untouched: the record's stamp still matches
    zoo, caught = _collect()
    assert len(caught) == 1 and "1 unreadable" in caught[0]
    assert f"recorded member k=0 of {pkg}: {weights} is a symbolic link (to {str(foreign)[:77]}...)" in caught[0]
    assert not [e for e in zoo.entries if e.source == "local"]
    assert zoo.default_tags()["ofa2_digits_cpu_front_0"] == "embedded"


# ---------------------------------------------------------------------------- load failures
def _entry(profile: str, weights: Path, folder: Path, k: int = 0) -> ZooEntry:
    record = package_record(DIGITS, recorded_at=0.0)
    m = record.members[k]
    return ZooEntry(profile, k, "local", "local", m.arch, record.space,
                    weights_cfg(m.pretrained_cfg, file=str(weights)), str(folder))


def test_a_load_failure_is_one_line_naming_the_record_and_the_fix(tmp_path):
    folder = _copy_digits(tmp_path / "pkg")
    weights = folder / "members" / "front_0" / "model.safetensors"
    register_entries([_entry("load-fail", weights, folder)])
    name = "ofa2_load_fail_front_0"
    assert timm.create_model(name, pretrained=True).pretrained_cfg["file"] == str(weights)
    fix = (f"(fix: re-package it with `ofa2 package` and record it again (`ofa2 zoo add {folder}`), or "
           f"`ofa2 zoo forget {folder}`)")
    torch.save({"w": torch.zeros(2)}, weights)  # a pickle where the safetensors file was
    with pytest.raises(RegistryError) as exc:
        timm.create_model(name, pretrained=True)
    text = str(exc.value)
    assert text.startswith(f"cannot load the weights of {name}.local from the local package {folder}: weights of "
                           f"{name}.local are not a readable safetensors file (Error while deserializing header")
    assert text.endswith(fix) and text.count("fix:") == 1 and "\n" not in text
    weights.unlink()
    with pytest.raises(RegistryError) as exc:
        timm.create_model(name, pretrained=True)
    assert str(exc.value).startswith(f"cannot load the weights of {name}.local from the local package {folder}: ")
    assert "FileNotFoundError" in str(exc.value) and str(exc.value).endswith(fix)
    assert timm.create_model(name).ofa2_arch  # without weights it still builds


def test_local_dir_config_naming_a_front_member_is_a_clear_error(tmp_path):
    member = shutil.copytree(DIGITS / "members" / "front_0", tmp_path / "front_0")
    cfg = json.loads((member / "config.json").read_text())
    cfg["architecture"] = "ofa2_digits_cpu_front_1"
    (member / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RegistryError) as exc:
        timm.create_model(f"local-dir:{member}", pretrained=True)
    assert str(exc.value) == (
        "ofa2_digits_cpu_front_1 is front member 1 of profile digits-cpu with a fixed arch; arch= and space= belong "
        "to the generic architecture 'ofa2_subnet' (a member's config.json names \"architecture\": \"ofa2_subnet\"; "
        "fix: set that, or re-package the member)")


# ---------------------------------------------------------------------------- a local package's default
def test_a_local_package_is_the_default_of_the_names_it_has(tmp_path):
    user = tmp_path / "zoo_index.json"
    pkg = _copy_digits(tmp_path / "scratch" / "pkg", members=2)
    record_package(pkg, user)
    code = ("from ofa2_zoo.registry import RegistryError\n"
            "out = {}\n"
            "for name in ['ofa2_digits_cpu_front_1', 'ofa2_digits_cpu_front_2', 'ofa2_digits_cpu_front_2.embedded']:\n"
            "    try:\n"
            "        out[name] = timm.create_model(name, pretrained=True).pretrained_cfg['tag']\n"
            "    except RegistryError as exc:\n"
            "        out[name] = str(exc)\n"
            "out['front_0'] = timm.create_model('ofa2_front_0', pretrained=True).pretrained_cfg['tag']\n")
    out, caught = _import_and(code, user)
    assert caught == []
    assert out["ofa2_digits_cpu_front_1"] == "local" and out["ofa2_digits_cpu_front_2.embedded"] == "embedded"
    # a name the package lacks loads its next version: timm lists it, so it must build
    assert out["ofa2_digits_cpu_front_2"] == "embedded"
    assert out["front_0"] == "embedded"  # another profile (fmnist-cpu) keeps its own default


def test_default_tag_rule():
    def versions(*tags, profile="p"):
        return {t: ZooEntry(profile, 0, t, "x", {}, "s", {}, "w") for t in tags}

    assert default_tag(versions("embedded", "v1", "local")) == "local"
    assert default_tag(versions("embedded", "v1", "v2")) == "v2"  # a name a local package lacks: its next version
    assert default_tag(versions("embedded")) == "embedded"


def test_package_and_run_record_only_when_asked_and_say_what_it_takes_over(tmp_path, user_index, capsys):
    from ofa2_zoo.cli.zoo import record_in_local_zoo

    pkg = _copy_digits(tmp_path / "scratch" / "pkg", members=2)
    record_in_local_zoo(pkg, record=False)
    out = " ".join(capsys.readouterr().out.split())
    assert not user_index.exists()
    assert out.startswith("not recorded in the local zoo (--no-record): its names load only through "
                          f"ofa2_zoo.register_front('{pkg}') or after `ofa2 zoo add {pkg}`")
    record_in_local_zoo(pkg)
    out = " ".join(capsys.readouterr().out.split())
    assert [p.path for p in ZooIndex.load(user_index).packages] == [str(pkg)]
    assert ("it is now the default version of profile digits-cpu's names it has a member for (the others load "
            f"their next version). Undo: `ofa2 zoo forget {pkg}`") in out


def test_a_bad_profile_entry_or_version_skips_only_itself(tmp_path):
    from ofa2_zoo.zoo.records import hub_index_members

    good = ZooIndex()
    good.add_version("digits-cpu", "front-a", hub_index_members(DIGITS, {k: f"o/r-{k}" for k in range(5)}, "v1",
                                                                  "http://127.0.0.1:1"))
    data = good.model_dump(mode="json")
    data["fronts"]["digits-cpu"]["versions"].append(data["fronts"]["digits-cpu"]["versions"][0])  # v1 twice
    data["fronts"]["note10"] = ["not", "an", "object"]
    data["fronts"]["Bad Id"] = {"versions": []}
    path = tmp_path / "index.json"
    path.write_text(json.dumps(data))
    index, bad = ZooIndex.read(path)
    assert bad == ["field 'fronts.digits-cpu.versions.1': profile 'digits-cpu' lists version v1 twice",
                   "field 'fronts.note10': not an object with one field, 'versions' (a list)",
                   "field 'fronts.Bad Id': 'Bad Id' is not a profile id"]
    assert [v.version for v in index.versions("digits-cpu")] == ["v1"]
    assert {m.endpoint for m in index.versions("digits-cpu")[0].members} == {"http://127.0.0.1:1"}
    data["fronts"]["digits-cpu"]["versions"][0]["members"][0]["endpoint"] = "not a url"
    path.write_text(json.dumps(data))
    assert ZooIndex.read(path)[1][0].startswith("field 'fronts.digits-cpu.versions.0.members.0.endpoint': String "
                                                "should match pattern")
