"""Each shared convention has one home (issue 27), and a copy elsewhere cannot come back unseen.

The source of every module of ``ofa2_zoo`` is read (not imported), so the checks cost nothing and
cover modules whose extras are not installed. Below them, each home is tested for what it does.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import json
import math
import os
from pathlib import Path

import pytest
from pydantic import ConfigDict, Field, ValidationError, field_validator

from ofa2_zoo import errors
import hashlib
import re

from ofa2_zoo._io import canonical_json, digest, dumps_stable, sha256_file
from ofa2_zoo._schema import REPO_ID, Schema, field_error, first_problem, is_version_tag, version_number
from ofa2_zoo.profiles import LatencyTable, LookupTableError
from ofa2_zoo.profiles.lut import FORMAT

PACKAGE = Path(__file__).resolve().parents[1] / "ofa2_zoo"


@functools.cache
def _modules(package: Path = PACKAGE) -> dict[str, ast.Module]:
    """``path relative to the package`` -> its parsed source, for every module of the tree."""
    return {path.relative_to(package).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(package.rglob("*.py"))}


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def stable_dumps(modules: dict[str, ast.Module]) -> list[str]:
    """Where ``json.dumps`` is called with both ``indent`` and ``sort_keys`` (a stable JSON text)."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _name(node.func) == "dumps"
            and {"indent", "sort_keys"} <= {k.arg for k in node.keywords}]


def sorted_dumps(modules: dict[str, ast.Module]) -> list[str]:
    """Where ``json.dumps`` sorts keys (a text meant to compare or hash equal data equally)."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _name(node.func) == "dumps"
            and "sort_keys" in {k.arg for k in node.keywords}]


def repo_patterns(modules: dict[str, ast.Module]) -> list[str]:
    """Where a string literal spells the Hub repository-id pattern."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and "[A-Za-z0-9._-]*/" in node.value]


def definitions(modules: dict[str, ast.Module], name: str) -> list[str]:
    """Where a function or class called ``name`` is defined."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name]


def version_patterns(modules: dict[str, ast.Module]) -> list[str]:
    """Where a string literal spells the version-tag pattern (``v[1-9]`` ...)."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and any(s in node.value for s in ("v[1-9]", "v([1-9]"))]


def error_list_reads(modules: dict[str, ast.Module]) -> list[str]:
    """Where pydantic's error list is read (``exc.errors()``), i.e. where a message is formatted."""
    return [f"{where}:{node.lineno}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "errors"
            and not node.args and not node.keywords]


def base_model_subclasses(modules: dict[str, ast.Module]) -> list[str]:
    """Classes derived from pydantic's ``BaseModel`` directly (all others must derive from ``Schema``)."""
    return [f"{where}:{node.name}" for where, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and any(_name(b) in ("BaseModel", "RootModel") for b in node.bases)]


def exception_classes(modules: dict[str, ast.Module]) -> list[str]:
    """Every class derived (through classes of the tree, by name) from a builtin exception or warning."""
    known = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
             and issubclass(getattr(builtins, n), BaseException)}
    found: dict[str, str] = {}
    grew = True
    while grew:
        grew = False
        for where, tree in modules.items():
            for node in ast.walk(tree):
                if (isinstance(node, ast.ClassDef) and node.name not in found
                        and any(_name(b) in known or _name(b) in found for b in node.bases)):
                    found[node.name] = f"{where}:{node.name}"
                    grew = True
    return sorted(found.values())


def _files(found: list[str]) -> list[str]:
    return [where.split(":")[0] for where in found]


# ---------------------------------------------------------------------------- one home each
def test_stable_json_is_written_by_one_function():
    assert _files(stable_dumps(_modules())) == ["_io.py"]
    assert _files(definitions(_modules(), "dumps_stable")) == ["_io.py"]


def test_sorted_json_for_keys_and_digests_is_made_in_one_place():
    assert sorted(set(_files(sorted_dumps(_modules())))) == ["_io.py"]
    assert [_files(definitions(_modules(), n)) for n in ("canonical_json", "digest")] == [["_io.py"], ["_io.py"]]


def test_the_repo_id_pattern_is_written_once():
    assert _files(repo_patterns(_modules())) == ["_schema.py"]


def test_sha256_file_is_defined_once():
    assert _files(definitions(_modules(), "sha256_file")) == ["_io.py"]


def test_the_version_tag_pattern_is_written_once():
    assert _files(version_patterns(_modules())) == ["_schema.py"]


def test_pydantic_errors_are_formatted_in_one_place():
    modules = _modules()
    assert _files(error_list_reads(modules)) == ["_schema.py"]
    assert _files(definitions(modules, "field_error")) == ["_schema.py"]


def test_every_pydantic_model_derives_from_the_base():
    assert base_model_subclasses(_modules()) == ["_schema.py:Schema"]


def test_every_exception_class_is_defined_in_errors_py():
    assert set(_files(exception_classes(_modules()))) == {"errors.py"}


# The checks themselves, on a small tree with one copy of each: they must find it.
def test_the_checks_find_a_copy(tmp_path):
    (tmp_path / "stage.py").write_text(
        "import json, re\nfrom pydantic import BaseModel\n"
        "TAG = re.compile(r'^v([1-9]\\d*)$')\n"
        "class M(BaseModel):\n    x: int\n"
        "class Bad(ValueError):\n    pass\n"
        "class Worse(Bad):\n    pass\n"
        "def sha256_file(p):\n    return p\n"
        "def f(exc, obj):\n    exc.errors()\n    return json.dumps(obj, indent=1, sort_keys=True)\n"
        "KEY = json.dumps({}, sort_keys=True)\nREPO = r'[A-Za-z0-9][A-Za-z0-9._-]*/[a-z]+'\n")
    modules = _modules(tmp_path)
    assert stable_dumps(modules) == ["stage.py:14"]
    assert sorted(sorted_dumps(modules)) == ["stage.py:14", "stage.py:15"]
    assert repo_patterns(modules) == ["stage.py:16"]
    assert definitions(modules, "sha256_file") == ["stage.py:10"]
    assert version_patterns(modules) == ["stage.py:3"]
    assert error_list_reads(modules) == ["stage.py:13"]
    assert base_model_subclasses(modules) == ["stage.py:M"]
    assert exception_classes(modules) == ["stage.py:Bad", "stage.py:Worse"]


# ---------------------------------------------------------------------------- _io.dumps_stable
def test_dumps_stable_sorts_keys_indents_and_ends_with_a_newline():
    assert dumps_stable({"b": [1, 2.5], "a": {"d": None, "c": "é"}}) == (
        '{\n  "a": {\n    "c": "\\u00e9",\n    "d": null\n  },\n  "b": [\n    1,\n    2.5\n  ]\n}\n')
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            dumps_stable({"x": bad})


def test_canonical_json_and_digest():
    assert canonical_json({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == '{"a": [2, {"c": 4, "d": 3}], "b": 1}'
    assert canonical_json({"b": 1, "a": "é"}, ensure_ascii=False, separators=(",", ":")) == '{"a":"é","b":1}'
    full = hashlib.sha256(b'{"a": 1, "b": [1, 2]}').hexdigest()
    assert digest({"b": [1, 2], "a": 1}) == full and digest({"a": 1, "b": [1, 2]}, 16) == full[:16]
    assert digest({"a": 1, "b": [2, 1]}) != full  # list order counts, key order does not


def test_the_embedded_fronts_keep_their_version_ids():
    from ofa2_zoo.catalog import DATA_DIR
    from ofa2_zoo.front import Front
    from ofa2_zoo.package.manifest import read_manifest

    for profile in ("digits-cpu", "fmnist-cpu"):
        front = Front.load(DATA_DIR / "zoo" / profile / "front" / "front.json")
        # the id its package recorded when it was built, before digest() existed
        assert front.version_id == read_manifest(DATA_DIR / "zoo" / profile).front_version_id
    ident = {"space": front.space.to_dict(), "profile": front.profile_id,
             "members": [{"arch": m.arch.to_dict(), "objectives": m.objectives} for m in front.members]}
    assert front.version_id == hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("repo, ok", [("a/b", True), ("ofa2-test/ofa2-fmnist_cpu.front-0", True), ("A9/9z", True),
                                      ("-a/b", False), ("a/.b", False), ("a/b/c", False), ("a", False),
                                      ("a/", False), ("a b/c", False)])
def test_repo_ids(repo, ok):
    from ofa2_zoo.registry import _REPO_RE

    pull_module = importlib.import_module("ofa2_zoo.publish.pull")
    assert bool(re.fullmatch(REPO_ID, repo)) is ok
    assert bool(_REPO_RE.match(repo)) is ok and bool(_REPO_RE.match(repo + "@v2")) is ok
    assert bool(pull_module._REPO_RE.match(repo + "@v2")) is ok


def test_the_shipped_index_and_a_shipped_manifest_are_rewritten_byte_for_byte(tmp_path):
    from ofa2_zoo.package.manifest import read_manifest
    from ofa2_zoo.zoo.index import SHIPPED_INDEX_PATH, ZooIndex

    ZooIndex.load(SHIPPED_INDEX_PATH).save(tmp_path / "index.json")
    assert (tmp_path / "index.json").read_bytes() == SHIPPED_INDEX_PATH.read_bytes()
    manifest = PACKAGE / "data" / "zoo" / "digits-cpu" / "package.json"
    assert read_manifest(manifest).to_json().encode() == manifest.read_bytes()


# ---------------------------------------------------------------------------- _io.sha256_file
def test_sha256_file_memo_is_keyed_by_size_and_mtime_and_can_be_bypassed(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 10)
    first = sha256_file(path)
    assert first == hashlib.sha256(b"a" * 10).hexdigest() == sha256_file(path, memo=False)
    st = os.stat(path)
    path.write_bytes(b"b" * 10)  # same size; the old modification time put back
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sha256_file(path) == first  # the memo's key is unchanged: this is what memo=False is for
    assert sha256_file(path, memo=False) == hashlib.sha256(b"b" * 10).hexdigest()
    path.write_bytes(b"b" * 11)  # another size: read again
    assert sha256_file(path) == hashlib.sha256(b"b" * 11).hexdigest()


# ---------------------------------------------------------------------------- _schema
@pytest.mark.parametrize("tag, ok", [("v1", True), ("v10", True), ("v123456", True), ("v0", False), ("v01", False),
                                     ("v", False), ("V1", False), ("v1\n", False), (" v1", False), ("v1.0", False),
                                     ("local", False), (1, False)])
def test_version_tags(tag, ok):
    assert is_version_tag(tag) is ok
    assert version_number(tag) == (int(tag[1:]) if ok else 0)


class _Inner(Schema):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=1)


class _Outer(Schema):
    model_config = ConfigDict(extra="forbid")
    items: list[_Inner]
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v != v.strip():
            raise ValueError("has spaces around it")
        return v


def _error(data) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        _Outer.model_validate(data)
    return exc.value


def test_field_error_names_the_first_bad_field():
    assert field_error(_error({"items": [{"n": 1}, {"n": 0}], "name": "x"})) == (
        "field 'items.1.n': Input should be greater than or equal to 1")
    assert field_error(_error({"items": [], "name": " x"})) == "field 'name': has spaces around it"  # no "Value error, "
    assert field_error(_error([1])) == "field '(top level)': Input should be a valid dictionary or instance of _Outer"
    assert field_error(_error({"items": [], "name": "x", "k" * 100: 1}), ("packages", 3)) == (
        f"field '{('packages.3.' + 'k' * 100)[:77]}...': Extra inputs are not permitted")  # 80 characters


def test_first_problem_keeps_the_parts():
    problem = first_problem(_error({"items": [{"n": "many"}], "name": "x"}))
    assert (problem.loc, problem.kind, problem.input, problem.where) == (("items", 0, "n"), "int_parsing", "many",
                                                                         "items.0.n")


# ---------------------------------------------------------------------------- the lookup-table file
def _table(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": {"median": 1.0}}, **fields}))
    return path


def test_a_table_keeps_the_fields_it_does_not_check(tmp_path):
    path = _table(tmp_path, machine={"cpu": "x"}, statistic="median", call_overhead={"median": 0.25, "n": 3})
    table = LatencyTable.from_json(path)
    assert table.entries == {"Conv-x": 1.0}
    assert table.meta == {k: v for k, v in json.loads(path.read_text()).items() if k != "entries"}
    assert table.call_overhead_ms == 0.25


@pytest.mark.parametrize("fields, message", [
    ({"entries": {"Conv-x": {"median": 10 ** 400}}}, "entry 'Conv-x' needs a non-negative numeric 'median' (ms)"),
    ({"entries": {"Conv-x": {"median": 0.0}}, "calibration": {"scale": 1, "offset": 10 ** 400}},
     "'calibration' needs numeric 'scale' and 'offset'"),
    ({"statistic": None}, "statistic must be median, p10 or min, got None"),
    ({"unit": "m" * 200}, f"unit must be 'ms', got {errors.shorten('m' * 200)}"),  # quoted input is cut short
    ({"entries": {"k" * 200: {"median": -1.0}}}, f"entry {errors.shorten('k' * 200)} needs a non-negative numeric "
                                                 "'median' (ms)"),
])
def test_table_values_just_past_the_limits_are_refused(tmp_path, fields, message):
    path = _table(tmp_path, **fields)
    with pytest.raises(LookupTableError) as exc:
        LatencyTable.from_json(path)
    assert str(exc.value) == f"{path}: {message}"


def test_a_zero_latency_entry_is_accepted(tmp_path):
    assert LatencyTable.from_json(_table(tmp_path, entries={"Conv-x": {"median": 0}})).entries == {"Conv-x": 0.0}


def test_a_deeply_nested_table_is_one_error(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("[" * 100_000)
    with pytest.raises(LookupTableError, match="not a readable ofa2 lookup table: nested too deeply"):
        LatencyTable.from_json(path)


# ---------------------------------------------------------------------------- errors.py
def test_each_stage_re_exports_its_errors_from_errors_py():
    from ofa2_zoo import profiles, zoo
    from ofa2_zoo.front import FrontError

    publish = importlib.import_module("ofa2_zoo.publish")  # (``from ofa2_zoo import publish`` is the function)
    assert (profiles.ProfileError, profiles.LookupTableError) == (errors.ProfileError, errors.LookupTableError)
    assert (publish.PublishError, publish.PullError, publish.TagConflict, publish.errors.PublishFailed) == (
        errors.PublishError, errors.PullError, errors.TagConflict, errors.PublishFailed)
    assert (zoo.RegistryError, zoo.ZooWarning, FrontError) == (errors.RegistryError, errors.ZooWarning,
                                                               errors.FrontError)
    assert all(c.__module__ == "ofa2_zoo.errors" for c in (profiles.ProfileError, publish.PullError, FrontError))
