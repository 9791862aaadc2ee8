"""``_io.read_json_capped``: the one bounded JSON read behind front.json, package.json,
config.json, arch files and the zoo index (each reader words its own error; see their tests)."""

from __future__ import annotations

import json
import os

import pytest

from ofa2_zoo import _io
from ofa2_zoo._io import json_loads, read_json_capped
from ofa2_zoo.errors import FileTooLarge, JsonTooDeep


def test_a_file_of_exactly_the_cap_is_read_and_one_byte_more_is_not(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": 1}')
    assert read_json_capped(path, 8) == {"a": 1}
    with pytest.raises(FileTooLarge) as exc:
        read_json_capped(path, 7)
    assert (exc.value.size, exc.value.limit) == (8, 7)
    assert str(exc.value) == "8 bytes, more than 7"


def test_a_file_that_grows_after_its_size_was_checked_is_still_refused(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    path.write_bytes(b"[" + b"1," * 100 + b"1]")
    real_stat = os.stat

    class Small:
        st_size = 2

    monkeypatch.setattr(_io.os, "stat", lambda p, *a, **k: Small() if str(p) == str(path) else real_stat(p, *a, **k))
    with pytest.raises(FileTooLarge) as exc:
        read_json_capped(path, 10)
    assert exc.value.size == 11  # read stops one byte past the cap


def test_deep_nesting_is_malformed_json_of_its_own_kind(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(JsonTooDeep) as exc:
        read_json_capped(path, 1 << 20)
    assert isinstance(exc.value, json.JSONDecodeError)
    assert exc.value.msg == "nested too deeply (more levels than Python's recursion limit)"
    with pytest.raises(JsonTooDeep):
        json_loads("[" * 100_000)


def test_bad_json_and_a_missing_file_keep_their_builtin_errors(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    with pytest.raises(json.JSONDecodeError) as exc:
        read_json_capped(path, 100)
    assert not isinstance(exc.value, JsonTooDeep)
    with pytest.raises(FileNotFoundError):
        read_json_capped(tmp_path / "missing.json", 100)


# ---------------------------------------------------------------------------- atomic writes
def test_a_write_that_fails_before_the_rename_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    from ofa2_zoo._io import write_bytes_atomic

    target = tmp_path / "front.json"
    target.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_io.os, "replace", fail)
    with pytest.raises(OSError, match="No space left on device"):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.json"]  # the temp file is gone too


def test_an_atomic_write_to_a_folder_is_one_typed_error(tmp_path):
    from ofa2_zoo._io import write_json_atomic
    from ofa2_zoo.errors import OutputFileError

    (tmp_path / "out.json").mkdir()
    with pytest.raises(OutputFileError) as exc:
        write_json_atomic(tmp_path / "out.json", {"a": 1})
    assert str(exc.value) == f"{tmp_path / 'out.json'} is a folder; give the path of a file to write"
    assert list((tmp_path / "out.json").iterdir()) == []
