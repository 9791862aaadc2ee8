"""Zoo index files (ofa2_zoo/zoo/index.py) on their own: each field's limit at the value just past
it, versions ordered by number across more than ten of them, where each index file is found (the
variable and the default both present), edits under the lock written only when they change
something, and the warnings of a bad file word for word. No package is built: members come from
the embedded digits-cpu package's package.json."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from ofa2_zoo.zoo import RegistryError, ZooIndex, ZooWarning
from ofa2_zoo.zoo.index import (EMBEDDED_ZOO_DIR, MAX_INDEX_DEPTH, SHIPPED_INDEX_PATH, IndexMember, PackageMember,
                                PackageRecord, _depth, edit_index, field_error, read_or_warn, shipped_index_path,
                                user_index_path, version_number)

MANIFEST = json.loads((EMBEDDED_ZOO_DIR / "digits-cpu" / "package.json").read_text())
ARCH = MANIFEST["members"][0]["arch"]
FIX = "Fix: do X"


def _member(k: int = 0, tag: str = "v1", **kw) -> dict:
    return {"k": k, "repo_id": f"o/r-{k}", "revision": tag, "arch": ARCH, "space": "ofa2_digits",
            "pretrained_cfg": {"input_size": [1, 4, 4]}, **kw}


def _record(**kw) -> dict:
    return {"path": "/abs/pkg", "profile": "digits-cpu", "front_version_id": "f", "recorded_at": 1.0,
            "manifest_stamp": [1, 2], "space": "ofa2_digits",
            "members": [{"k": 0, "arch": ARCH, "weights": "members/front_0/model.safetensors", "pretrained_cfg": {}}],
            **kw}


def _error(model, data: dict) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return field_error(err.value)


# ---------------------------------------------------------------------------- the format's limits
@pytest.mark.parametrize("field, bad, good", [
    ("k", -1, 0), ("top1", 100.0001, 100.0), ("top1", -0.0001, 0.0), ("latency_ms", 0.0, 1e-9),
    ("revision", "", "v"), ("repo_id", "o/r/x", "o/r"), ("repo_id", "-o/r", "o/r.x"),
    ("repo_id", "o/", "o/r"), ("endpoint", "ftp://h", "http://h"), ("endpoint", "https://h x", "https://h/x"),
    ("endpoint", "http://" + "h" * 2042, "http://" + "h" * 2041), ("top1", float("nan"), 50.0),
    ("latency_ms", float("inf"), 1.0), ("surprise", 1, None)])
def test_index_member_fields_at_their_limits(field, bad, good):
    assert _error(IndexMember, _member(**{field: bad})).startswith(f"field '{field}': ")
    if good is not None:
        assert getattr(IndexMember.model_validate(_member(**{field: good})), field) == good


def test_index_version_limits():
    from ofa2_zoo.zoo.index import IndexVersion

    ok = {"version": "v10", "front_version_id": "x", "members": [_member()]}
    assert IndexVersion.model_validate(ok).version == "v10"
    for field, bad in [("version", "v0"), ("version", "v01"), ("version", "v1 "), ("version", "1"),
                       ("front_version_id", ""), ("members", [])]:
        assert _error(IndexVersion, {**ok, field: bad}).startswith(f"field '{field}': "), (field, bad)


@pytest.mark.parametrize("weights, ok", [
    ("model.safetensors", True), ("a/b.safetensors", True), ("a\\b.safetensors", False), ("a/../b.safetensors", False),
    ("./b.safetensors", False), ("a/.safetensors", True), ("b.safetensor", False), ("", False)])
def test_package_member_weights(weights, ok):
    row = {"k": 0, "arch": ARCH, "weights": weights, "pretrained_cfg": {}}
    if ok:
        assert PackageMember.model_validate(row).weights == weights
    else:
        assert _error(PackageMember, row).startswith("field 'weights': ")


@pytest.mark.parametrize("field, bad, good", [
    ("path", "rel/pkg", "/abs/pkg"), ("path", "", "/"), ("profile", "Digits", "digits"), ("profile", "-a", "a-"),
    ("profile", "a" * 42, "a" * 41), ("manifest_stamp", [1], [1, 2]), ("manifest_stamp", [1, 2, 3], [3, 4]),
    ("front_version_id", "", "x"), ("members", [], None)])
def test_package_record_fields_at_their_limits(field, bad, good):
    assert _error(PackageRecord, _record(**{field: bad})).startswith(f"field '{field}': ")
    if good is not None:
        assert getattr(PackageRecord.model_validate(_record(**{field: good})), field) == good
    assert _error(PackageRecord, _record(path="rel")) == "field 'path': 'rel' is not an absolute path"


def test_field_error_names_the_whole_location():
    with pytest.raises(ValidationError) as err:
        PackageRecord.model_validate(_record(members=[{"k": -1}]))
    assert field_error(err.value, ("packages", 3)).startswith("field 'packages.3.members.0.k': Input should be "
                                                              "greater than or equal to 0")
    with pytest.raises(ValidationError) as err:
        ZooIndex.model_validate([])
    assert field_error(err.value).startswith("field '(top level)': ")


# ---------------------------------------------------------------------------- versions
def test_version_numbers():
    assert [version_number(t) for t in ["v1", "v9", "v10", "v123", "v0", "v01", "V1", "v1a", "1", "", "local",
                                        " v1"]] == [1, 9, 10, 123, 0, 0, 0, 0, 0, 0, 0, 0]


def test_twelve_versions_are_ordered_by_number_and_the_next_is_v13():
    index = ZooIndex()
    assert index.versions("digits-cpu") == [] and index.newest("digits-cpu") is None
    assert index.next_version("digits-cpu") == "v1"
    order = [3, 11, 1, 12, 2, 10, 9, 4, 8, 5, 7, 6]  # explicit versions, added out of order
    for n in order:
        assert index.add_version("digits-cpu", f"front-{n}", [_member(tag=f"v{n}")], version=f"v{n}") == f"v{n}"
    assert [v.version for v in index.versions("digits-cpu")] == [f"v{n}" for n in range(1, 13)]
    assert index.newest("digits-cpu").front_version_id == "front-12"
    assert index.next_version("digits-cpu") == "v13"
    assert index.add_version("digits-cpu", "front-13", [_member(tag="v13")]) == "v13"
    assert index.versions("other-cpu") == [] and index.next_version("other-cpu") == "v1"


def test_the_next_version_follows_the_newest_not_the_count():
    """Versions with a gap (v1, v3): the next is v4 (v3 again would be refused as existing)."""
    index = ZooIndex()
    for n in (1, 3):
        index.add_version("digits-cpu", f"front-{n}", [_member(tag=f"v{n}")], version=f"v{n}")
    assert index.next_version("digits-cpu") == "v4"
    assert index.add_version("digits-cpu", "front-4", [_member(tag="v4")]) == "v4"


def test_an_unchanged_front_adds_nothing_but_an_older_ones_id_does():
    index = ZooIndex()
    index.add_version("p", "a", [_member()])
    index.add_version("p", "b", [_member(tag="v2")])
    assert index.add_version("p", "b", [_member(tag="v3")]) == "v2"  # the newest: nothing added
    assert index.add_version("p", "a", [_member(tag="v3")]) == "v3"  # an older version's front again: a new version
    assert [v.front_version_id for v in index.versions("p")] == ["a", "b", "a"]


def test_add_version_refusals_word_for_word():
    index = ZooIndex()
    index.add_version("p", "a", [_member()])
    with pytest.raises(RegistryError) as err:
        index.add_version("p", "b", [_member()], version="v1")
    assert str(err.value) == "profile 'p' already has a front version v1; versions are immutable"
    with pytest.raises(RegistryError) as err:
        index.add_version("P", "b", [_member()])
    assert str(err.value) == "bad profile id 'P' (lower-case letters, digits and dashes)"
    with pytest.raises(RegistryError) as err:
        index.add_version("p", "b", [_member(k=-1)])
    assert str(err.value) == "bad zoo index entry: field 'k': Input should be greater than or equal to 0"
    with pytest.raises(RegistryError) as err:
        index.add_version("p", "b", [])
    assert str(err.value).startswith("bad zoo index entry: field 'members': ")
    with pytest.raises(RegistryError) as err:
        index.add_version("p", "b", [_member(), _member(k=1, arch={**ARCH, "r": [5]})])
    assert str(err.value).startswith("member k=1: ") and "5" in str(err.value)
    assert [v.version for v in index.versions("p")] == ["v1"]  # nothing half-added
    rows = [IndexMember.model_validate(_member(k=k)) for k in range(3)]  # members given as models are kept
    assert index.add_version("p", "c", rows) == "v2" and index.newest("p").members == rows


# ---------------------------------------------------------------------------- files
def test_where_the_index_files_are(tmp_path, monkeypatch):
    monkeypatch.delenv("OFA2_ZOO_INDEX", raising=False)
    monkeypatch.delenv("OFA2_USER_INDEX", raising=False)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    assert shipped_index_path() == SHIPPED_INDEX_PATH
    assert user_index_path() == tmp_path / "cache" / "zoo_index.json"
    monkeypatch.setenv("OFA2_ZOO_INDEX", "~/my/index.json")  # both present: the variable wins
    monkeypatch.setenv("OFA2_USER_INDEX", "~/my/user.json")
    assert shipped_index_path() == Path.home() / "my/index.json"
    assert user_index_path() == Path.home() / "my/user.json"
    monkeypatch.setenv("OFA2_ZOO_INDEX", "")  # set but empty: as if unset
    monkeypatch.setenv("OFA2_USER_INDEX", "")
    assert shipped_index_path() == SHIPPED_INDEX_PATH
    assert user_index_path() == tmp_path / "cache" / "zoo_index.json"


def test_load_reads_the_shipped_index_by_default_and_save_writes_it_back_sorted(tmp_path, monkeypatch):
    path = tmp_path / "index.json"
    monkeypatch.setenv("OFA2_ZOO_INDEX", str(path))
    index = ZooIndex(default_profile="digits-cpu")
    index.add_version("p", "a", [_member()])
    index.packages.append(PackageRecord.model_validate(_record()))
    assert index.save() == path  # no path: the shipped index in use
    text = path.read_text()
    assert text.endswith("}\n") and json.loads(text) == index.model_dump(mode="json")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert ZooIndex.load() == index
    assert ZooIndex.load(path) == index


def test_read_errors_name_the_file(tmp_path):
    cases = {"not-json.json": ("{", " is not valid JSON: "), "list.json": ("[]", ": format is 'list', expected"),
             "format.json": ('{"format": "x"}', ": format is 'x', expected 'ofa2-zoo-index/1'"),
             "noformat.json": ("{}", ": format is None, expected 'ofa2-zoo-index/1'"),
             "fronts.json": ('{"format": "ofa2-zoo-index/1", "fronts": []}', ": field 'fronts': not an object of "
                             "profile id -> {\"versions\": [...]}"),
             "packages.json": ('{"format": "ofa2-zoo-index/1", "packages": {}}', ": field 'packages': not a list"),
             "frame.json": ('{"format": "ofa2-zoo-index/1", "default_profile": 3}', ": field 'default_profile': "),
             "extra.json": ('{"format": "ofa2-zoo-index/1", "extra": 3}', ": field 'extra': "),
             "latin1.json": (b'{"format": "\xff"}', " is not valid JSON: ")}
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(RegistryError) as err:
            ZooIndex.read(path)
        assert str(err.value).startswith(f"zoo index {path}{message}"), name
    with pytest.raises(RegistryError) as err:
        ZooIndex.read(tmp_path / "absent.json")
    assert str(err.value) == f"zoo index {tmp_path / 'absent.json'} does not exist"
    with pytest.raises(RegistryError) as err:
        ZooIndex.read(tmp_path)
    assert str(err.value) == f"zoo index {tmp_path} is not a file"


def test_an_unreadable_index_says_why(tmp_path):
    path = tmp_path / ("x" * 300)  # longer than a file name may be: stat fails with an OSError
    with pytest.raises(RegistryError) as err:
        ZooIndex.read(path)
    assert str(err.value) == f"zoo index {path} cannot be read: File name too long"


def test_depth_counts_arrays_and_objects_without_recursion():
    assert _depth(3) == 0 and _depth([]) == 1 and _depth({}) == 1 and _depth([[], {}]) == 2
    assert _depth({"a": [1, {"b": [2]}]}) == 4
    deep: list = []
    for _ in range(MAX_INDEX_DEPTH + 5):
        deep = [deep]
    assert _depth(deep) == MAX_INDEX_DEPTH + 1  # it stops one level past the limit


def test_load_refuses_what_read_skips(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"format": "ofa2-zoo-index/1", "packages": [_record(), _record(path="rel")]}))
    index, bad = ZooIndex.read(path)
    assert bad == ["field 'packages.1.path': 'rel' is not an absolute path"] and len(index.packages) == 1
    with pytest.raises(RegistryError) as err:
        ZooIndex.load(path)
    assert str(err.value) == f"zoo index {path}: field 'packages.1.path': 'rel' is not an absolute path"


def test_fronts_of_a_bad_profile_or_shape_are_skipped_on_their_own(tmp_path):
    path = tmp_path / "index.json"
    versions = [{"version": "v1", "front_version_id": "a", "members": [_member()]}]
    path.write_text(json.dumps({"format": "ofa2-zoo-index/1", "fronts": {
        "ok": {"versions": versions}, "extra": {"versions": versions, "more": 1}, "nolist": {"versions": {}},
        "a" * 42: {"versions": versions}, "a" * 41: {"versions": versions}, "empty": {}}}))
    index, bad = ZooIndex.read(path)
    assert sorted(index.fronts) == sorted(["ok", "a" * 41, "empty"])
    assert bad == ["field 'fronts.extra': not an object with one field, 'versions' (a list)",
                   "field 'fronts.nolist': not an object with one field, 'versions' (a list)",
                   f"field 'fronts.{'a' * 42}': '{'a' * 42}' is not a profile id"]


# ---------------------------------------------------------------------------- editing under the lock
def test_editing_a_missing_index_creates_it(tmp_path):
    path = tmp_path / "new" / "zoo_index.json"
    with edit_index(path) as index:
        assert index == ZooIndex()
    assert ZooIndex.load(path) == ZooIndex()  # written even though nothing changed: the file now exists


def test_an_edit_that_changes_nothing_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "zoo_index.json"
    path.write_text(json.dumps({"format": "ofa2-zoo-index/1", "packages": [_record()]}))  # not as save writes it
    before = path.read_text()
    with edit_index(path) as index:
        index.packages = list(index.packages)
    assert path.read_text() == before
    with edit_index(path) as index:
        index.packages[0].recorded_at = 2.0  # a change inside a record counts
    assert ZooIndex.load(path).packages[0].recorded_at == 2.0 and path.read_text() != before


def test_editing_a_bad_index_says_how_to_repair_it(tmp_path):
    path = tmp_path / "zoo_index.json"
    path.write_text("{")
    with pytest.raises(RegistryError) as err:
        with edit_index(path):
            pass
    assert str(err.value).startswith(f"zoo index {path} is not valid JSON: ")
    assert str(err.value).endswith("; repair it or delete it (a deleted user index forgets the recorded packages, not "
                                   "the packages: record them again with `ofa2 zoo add PATH`)")
    assert path.read_text() == "{"


# ---------------------------------------------------------------------------- reading for import
def _read(path: Path) -> tuple[ZooIndex, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = read_or_warn(path, FIX)
    return index, [str(w.message) for w in caught if issubclass(w.category, ZooWarning)]


def test_a_missing_index_is_empty_and_silent_but_a_dangling_link_is_not(tmp_path):
    assert _read(tmp_path / "absent.json") == (ZooIndex(), [])
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "absent.json")
    index, caught = _read(link)
    assert index == ZooIndex()
    assert caught == [f"ofa2-zoo: zoo index {link} does not exist; ignoring it. {FIX}"]


@pytest.mark.parametrize("n_bad, shown", [
    (1, "skipping 1 bad record (field 'packages.0.path': 'rel0' is not an absolute path)"),
    (3, "skipping 3 bad records (field 'packages.0.path': 'rel0' is not an absolute path; field 'packages.1.path': "
        "'rel1' is not an absolute path; field 'packages.2.path': 'rel2' is not an absolute path)"),
    (4, "skipping 4 bad records (field 'packages.0.path': 'rel0' is not an absolute path; field 'packages.1.path': "
        "'rel1' is not an absolute path; field 'packages.2.path': 'rel2' is not an absolute path; and 1 more)"),
    (11, "skipping 11 bad records (field 'packages.0.path': 'rel0' is not an absolute path; field 'packages.1.path': "
         "'rel1' is not an absolute path; field 'packages.2.path': 'rel2' is not an absolute path; and 8 more)")])
def test_bad_records_are_one_warning_that_names_the_first_three(tmp_path, n_bad, shown):
    path = tmp_path / "zoo_index.json"
    records = [_record(path=f"rel{i}") for i in range(n_bad)] + [_record()]
    path.write_text(json.dumps({"format": "ofa2-zoo-index/1", "packages": records}))
    index, caught = _read(path)
    assert [p.path for p in index.packages] == ["/abs/pkg"]
    assert caught == [f"ofa2-zoo: zoo index {path}: {shown}; the others count. {FIX}"]


def test_a_good_index_reads_without_a_warning(tmp_path):
    path = tmp_path / "zoo_index.json"
    index = ZooIndex(default_profile="digits-cpu")
    index.add_version("digits-cpu", "a", [_member()])
    index.save(path)
    assert _read(path) == (index, [])
