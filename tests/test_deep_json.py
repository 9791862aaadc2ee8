"""JSON a user gives, nested deeper than Python can decode (issue 23): every reader ends in its
own one-line refusal (exit 2), never ``internal error RecursionError``."""

from __future__ import annotations

import json
import sys

import pytest

from _bad_input_helpers import refused
from ofa2_zoo._io import json_loads
from ofa2_zoo.errors import ArchError
from ofa2_zoo.package.errors import PackageError
from ofa2_zoo.package.manifest import read_manifest
from ofa2_zoo.space import ArchSpec

DEEP = sys.getrecursionlimit() * 2  # far past what the C decoder can recurse
MESSAGE = "nested too deeply (more levels than Python's recursion limit)"


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_json_loads_decodes_ordinary_nesting_like_json_loads():
    text = _deep(100)
    assert json_loads(text) == json.loads(text)
    assert json_loads(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}


@pytest.mark.parametrize("data", [_deep(DEEP), _deep(DEEP).encode()])
def test_json_loads_turns_too_deep_into_a_decode_error(data):
    with pytest.raises(json.JSONDecodeError) as exc:
        json_loads(data)
    assert exc.value.msg == MESSAGE


def test_json_loads_keeps_the_usual_decode_errors():
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        json_loads("[1,")


def test_arch_show_of_a_deep_file(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text(_deep(DEEP))
    refused(capsys, "arch", "show", f"@{path}",
            match=r"^error: arch file .*deep.json is not JSON: nested too deeply .*\(fix: write the arch as JSON")


def test_arch_show_of_deep_inline_json(capsys):
    refused(capsys, "arch", "show", '{"ks": ' + _deep(DEEP) + "}", "--space", "ofa_mbv3_w1.2",
            match=r"^error: arch JSON does not parse: nested too deeply")


def test_arch_spec_from_deep_json_is_an_arch_error():
    with pytest.raises(ArchError, match=r"^arch JSON does not parse: nested too deeply"):
        ArchSpec.from_json(_deep(DEEP), space="ofa_mbv3_w1.2")


def test_front_show_of_a_deep_file(tmp_path, capsys):
    path = tmp_path / "front.json"
    path.write_text(_deep(DEEP))
    refused(capsys, "front", "show", path, match=r"^error: .*front.json: not valid JSON \(nested too deeply")


def test_a_deep_package_json_is_a_package_error(tmp_path):
    (tmp_path / "package.json").write_text(_deep(DEEP))
    with pytest.raises(PackageError, match=r"package.json is not valid JSON: nested too deeply"):
        read_manifest(tmp_path)


def test_train_space_file_nested_too_deeply(tmp_path, capsys):
    path = tmp_path / "space.json"
    path.write_text(_deep(DEEP))
    refused(capsys, "train-supernet", "digits", "--space", path, "--out", tmp_path / "out",
            match=r"^error: cannot read the space file .*space.json: nested too deeply", watch=(tmp_path,))
