"""``package.json`` (``ofa2_zoo.package.manifest``) without packaging: a hand-made manifest, each
rule at the value just past its boundary with its whole message, what ``read_manifest`` refuses
before validating, and the JSON written read back."""

from __future__ import annotations

import copy
import json

import pytest

from ofa2_zoo.package import PackageError
from ofa2_zoo.package.manifest import (FIX_PACKAGE, MAX_MANIFEST_BYTES, PackageManifest, check_relative_folder,
                                       read_manifest, timm_name)

from _package_helpers import TINY

SHA = "0123456789abcdef" * 4
ARCH = TINY.genes_to_archs(TINY.sample_genes(2, 0))


def member(k: int, **changes) -> dict:
    m = {"k": k, "name": f"ofa2_tiny_test_front_{k}", "folder": f"members/front_{k}", "front_index": k,
         "arch": ARCH[k % 2].to_dict(), "objectives": {"latency_ms": 0.5 + k, "top1": 50.0 + k},
         "files": {"config.json": SHA, "model.safetensors": SHA},
         "parity": {"n_images": 10, "max_abs_diff": 0.0, "tolerance": 1e-4, "top1_agreement": 1.0,
                    "top1_mismatches": 0, "unexplained_mismatches": 0, "passed": True}}
    m.update(changes)
    return m


def manifest(n: int = 2, **changes) -> dict:
    d = {"format": "ofa2-package/1", "profile": "tiny-test", "front_version_id": "f" * 64, "space": TINY.to_dict(),
         "members": [member(k) for k in range(n)], "package_version": "1.2.3"}
    d.update(changes)
    return d


def runtime(name: str = "openvino", **changes) -> dict:
    r = {"runtime": name, "file": "model.xml", "files": ["model.xml", "model.bin"], "bytes": 10,
         "parity": member(0)["parity"], "packaged": True}
    r.update(changes)
    return r


def refused(data: dict, tmp_path) -> str:
    path = tmp_path / "package.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PackageError) as exc:
        read_manifest(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and text.endswith(f" ({FIX_PACKAGE})"), text
    return text[len(f"{path}: "):-len(f" ({FIX_PACKAGE})")]


def test_timm_names_and_the_prefix_follow_the_profile_id():
    assert timm_name("tiny-test-2", 10) == "ofa2_tiny_test_2_front_10"
    m = PackageManifest.model_validate(manifest(profile="a-b-c"))
    assert m.timm_prefix == "ofa2_a_b_c"


def test_the_json_written_reads_back_to_the_same_manifest(tmp_path):
    m = PackageManifest.model_validate(manifest(3, provenance={"seed": 4}, data={"b": 1, "a": [1.5]}))
    text = m.to_json()
    assert text.endswith("}\n") and json.loads(text) == m.model_dump(mode="json")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"  # sorted keys, indent 2
    (tmp_path / "package.json").write_text(text)
    back = read_manifest(tmp_path)  # a folder: its package.json
    assert back == m and read_manifest(tmp_path / "package.json") == m
    assert [x.k for x in back.members] == [0, 1, 2] and back.member(2).folder == "members/front_2"


def test_member_lookup_by_k_among_ten_or_more():
    members = [member(k, name=f"ofa2_tiny_test_front_{k}", folder=f"members/front_{k}") for k in (11, 2, 10, 1)]
    m = PackageManifest.model_validate(manifest(members=members))
    assert [m.member(k).name for k in (1, 2, 10, 11)] == [f"ofa2_tiny_test_front_{k}" for k in (1, 2, 10, 11)]
    with pytest.raises(PackageError) as exc:
        m.member(3)
    assert str(exc.value) == "package of profile 'tiny-test' has no member k=3 (members: [11, 2, 10, 1])"


@pytest.mark.parametrize("folder", ["a" * 256, "members/front_0", "a/b/c", "x..y", "front.0"])
def test_relative_folders_that_are_allowed(folder):
    assert check_relative_folder(folder) == folder


@pytest.mark.parametrize("folder", ["a" * 257, "", "/abs", "a\\b", "c:x", "a//b", "a/", "./a", "a/.", "..", "a/../b"])
def test_relative_folders_that_are_refused(folder):
    with pytest.raises(ValueError) as exc:
        check_relative_folder(folder)
    want = repr(folder) if len(folder) < 60 else None
    assert str(exc.value).endswith(" is not a relative folder inside the package (no '..', no absolute path)")
    if want:
        assert str(exc.value).startswith(want + " ")


def test_member_folder_and_front_folder_are_checked_as_relative_folders(tmp_path):
    msg = "is not a relative folder inside the package (no '..', no absolute path)"
    assert refused(manifest(members=[member(0, folder="../x")]), tmp_path) == \
        f"field 'members.0.folder': '../x' {msg}"
    assert refused(manifest(front_folder="/front"), tmp_path) == f"field 'front_folder': '/front' {msg}"


def test_file_names_and_checksums_of_a_member(tmp_path):
    files = {"config.json": SHA, "a" * 128: SHA}
    assert PackageManifest.model_validate(manifest(members=[member(0, files=files)])).members[0].files == files
    why = refused(manifest(members=[member(0, files={"a" * 129: SHA})]), tmp_path)
    assert why.startswith("field 'members.0.files': 'aaaa") and "..." in why and why.endswith(
        "aaa' is not a plain file name (no folder, no '..', no absolute path)")
    for name in ("sub/x.json", ".hidden", "-x", "", "a\\b"):
        why = refused(manifest(members=[member(0, files={name: SHA})]), tmp_path)
        assert why == f"field 'members.0.files': {name!r} is not a plain file name (no folder, no '..', no absolute " \
                      "path)", name
    for sha in (SHA[:-1], SHA + "0", SHA.upper(), SHA[:-1] + "g"):
        why = refused(manifest(members=[member(0, files={"config.json": sha})]), tmp_path)
        assert why == f"field 'members.0.files': the sha256 of config.json is {sha!r}, not 64 lowercase hex digits"
    assert refused(manifest(members=[member(0, files={})]), tmp_path).startswith(
        "field 'members.0.files': Dictionary should have at least 1 item")


def test_members_may_not_share_a_k_a_folder_or_a_name(tmp_path):
    ms = [member(k) for k in range(12)]
    assert len(PackageManifest.model_validate(manifest(members=ms)).members) == 12
    for what, key, value in (("k", "k", 3), ("folder", "folder", "members/front_3"),
                             ("name", "name", "ofa2_tiny_test_front_3")):
        bad = copy.deepcopy(ms)
        bad[11][key] = value
        assert refused(manifest(members=bad), tmp_path) == \
            f"field '(top level)': members share a {what} ([{value!r}]); each member needs its own"
    bad = copy.deepcopy(ms)
    bad[10]["k"], bad[11]["k"] = 1, 0
    assert "members share a k ([0, 1]);" in refused(manifest(members=bad), tmp_path)  # sorted, each once
    bad = copy.deepcopy(ms)
    for i, k in zip(range(7, 12), (9, 3, 5, 1, 4)):
        bad[i]["k"] = k
    assert "members share a k ([1, 3, 4]);" in refused(manifest(members=bad), tmp_path)  # the first three of five
    assert refused(manifest(front_folder="members/front_1", members=ms), tmp_path) == \
        "field '(top level)': front_folder 'members/front_1' is also a member folder"
    assert refused(manifest(members=[]), tmp_path).startswith("field 'members': List should have at least 1 item")


def test_objective_values_are_checked_by_their_range(tmp_path):
    ok = PackageManifest.model_validate(manifest(members=[member(0, objectives={"top1": 100.0, "macs_m": 0.0})]))
    assert ok.members[0].objectives == {"top1": 100.0, "macs_m": 0.0}
    assert refused(manifest(members=[member(0, objectives={"top1": 100.0001})]), tmp_path) == \
        "field 'members.0.objectives': top1: 100 % is outside the valid range [0, 100]"
    assert refused(manifest(members=[member(0, objectives={"latency_ms": 0.0})]), tmp_path) == \
        "field 'members.0.objectives': latency_ms: 0 ms is outside the valid range > 0"
    long = "n" * 50
    assert refused(manifest(members=[member(0, objectives={long: -1.0})]), tmp_path) == \
        f"field 'members.0.objectives': {'n' * 37}...: -1 is outside the valid range >= 0"


def test_runtime_records_consistent_with_the_member_files(tmp_path):
    files = {"config.json": SHA, "model.xml": SHA, "model.bin": SHA}
    ok = PackageManifest.model_validate(manifest(members=[member(0, files=files, runtimes={"openvino": runtime()})]))
    assert ok.members[0].runtimes["openvino"].file == "model.xml"
    assert refused(manifest(members=[member(0, files=files, runtimes={"litert": runtime()})]), tmp_path) == \
        "field 'members.0': runtimes.litert records runtime 'openvino'"
    assert refused(manifest(members=[member(0, runtimes={"openvino": runtime()})]), tmp_path) == \
        "field 'members.0': runtime openvino: model.xml, model.bin not among the member's files"
    long = "r" * 50
    assert refused(manifest(members=[member(0, files=files, runtimes={long: runtime()})]), tmp_path) == \
        f"field 'members.0': runtimes.{'r' * 37}... records runtime 'openvino'"
    partly = {"config.json": SHA, "model.xml": SHA}
    assert refused(manifest(members=[member(0, files=partly, runtimes={"openvino": runtime()})]), tmp_path) == \
        "field 'members.0': runtime openvino: model.bin not among the member's files"


PACKAGED = ("field 'members.0.runtimes.openvino': runtime openvino: a packaged export needs its file "
            "among its files and a passed parity check, and no reason")
NOT_PACKAGED = ("field 'members.0.runtimes.openvino': runtime openvino: an export that was not packaged "
                "has no files and says why")


@pytest.mark.parametrize("changes, why", [
    ({"file": None}, PACKAGED), ({"file": "other.xml"}, PACKAGED), ({"parity": None}, PACKAGED),
    ({"parity": {**member(0)["parity"], "passed": False}}, PACKAGED), ({"reason": "why not"}, PACKAGED),
    ({"packaged": False, "reason": "conversion failed"}, NOT_PACKAGED),
    ({"packaged": False, "files": [], "reason": "conversion failed"}, NOT_PACKAGED),
    ({"packaged": False, "files": [], "file": None}, NOT_PACKAGED),
    ({"packaged": False, "files": [], "file": None, "reason": ""}, NOT_PACKAGED),
])
def test_a_runtime_record_packaged_or_not_is_consistent(changes, why, tmp_path):
    files = {"config.json": SHA, "model.xml": SHA, "model.bin": SHA, "other.xml": SHA}
    assert refused(manifest(members=[member(0, files=files, runtimes={"openvino": runtime(**changes)})]),
                   tmp_path) == why


def test_a_runtime_not_packaged_says_why_and_has_no_files():
    rec = runtime(packaged=False, files=[], file=None, reason="conversion failed", parity=None)
    m = PackageManifest.model_validate(manifest(members=[member(0, runtimes={"openvino": rec})]))
    assert m.members[0].runtimes["openvino"].reason == "conversion failed"


def test_read_manifest_refuses_what_is_not_a_manifest(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(PackageError) as exc:
        read_manifest(missing)
    assert str(exc.value) == f"{missing} does not exist: not an ofa2 package folder (run `ofa2 package` first)"
    with pytest.raises(PackageError) as exc:
        read_manifest(tmp_path)  # a folder without package.json
    assert str(exc.value) == (f"{tmp_path / 'package.json'} does not exist: not an ofa2 package folder (run `ofa2 "
                              "package` first)")
    path = tmp_path / "package.json"
    path.write_text('{"format": "ofa2-package/1",')
    with pytest.raises(PackageError) as exc:
        read_manifest(path)
    assert str(exc.value).startswith(f"{path} is not valid JSON: Expecting property name enclosed in double quotes")
    assert str(exc.value).endswith(f" ({FIX_PACKAGE})")
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(PackageError, match=r"is not valid JSON: 'utf-8' codec can't decode"):
        read_manifest(path)
    for data, got in (([1, 2], "'list'"), ({"format": "ofa2-package/2"}, "'ofa2-package/2'"), ({}, "None"),
                      ("ofa2-package/1", "'str'")):
        path.write_text(json.dumps(data))
        with pytest.raises(PackageError) as exc:
            read_manifest(path)
        assert str(exc.value) == (f"{path}: field 'format': {got} is not 'ofa2-package/1' (not a package of this "
                                  f"version of ofa2-zoo; {FIX_PACKAGE})")


def test_the_size_limit_holds_at_its_boundary(tmp_path):
    text = PackageManifest.model_validate(manifest()).to_json()
    path = tmp_path / "package.json"
    path.write_text(text + " " * (MAX_MANIFEST_BYTES - len(text)))  # exactly the limit: read
    assert path.stat().st_size == MAX_MANIFEST_BYTES and read_manifest(path).profile == "tiny-test"
    path.write_text(text + " " * (MAX_MANIFEST_BYTES + 1 - len(text)))
    with pytest.raises(PackageError) as exc:
        read_manifest(path)
    assert str(exc.value) == (f"{path}: {MAX_MANIFEST_BYTES + 1:,} bytes is too large for a package.json (at most "
                              f"{MAX_MANIFEST_BYTES:,}; {FIX_PACKAGE})")
    assert MAX_MANIFEST_BYTES == 16 * 1024 * 1024


def test_a_validation_error_names_the_first_field(tmp_path):
    assert refused(manifest(profile="Tiny"), tmp_path) == \
        "field 'profile': String should match pattern '^[a-z0-9][a-z0-9-]{0,63}$'"
    assert refused(manifest(members=[{**member(0), "k": -1}]), tmp_path) == \
        "field 'members.0.k': Input should be greater than or equal to 0"
