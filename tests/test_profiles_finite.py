"""Profiles (issue 23): NaN and infinity are refused in every number at load, and `ofa2 profile
show` exits 2 with one line when the profile's latency table is unusable."""

from __future__ import annotations

import hashlib
import json

import pytest

from _bad_input_helpers import refused, run_cli
from _profiles_helpers import TINY, profile_dict, write_profile
from ofa2_zoo.profiles import ProfileError, load_profile
from ofa2_zoo.profiles.lut import FORMAT, all_ops

FIX = "(fix: give a finite number, not .nan or .inf)"


@pytest.mark.parametrize("yaml_value, shown", [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf")])
def test_reference_point_must_be_finite(tmp_path, yaml_value, shown):
    text = write_profile(tmp_path, profile_dict()).read_text() + f"reference_point:\n  latency_ms: {yaml_value}\n"
    path = write_profile(tmp_path, text, name="tiny-cpu")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(exc.value) == (f"{path}: field 'reference_point.latency_ms': Input should be a finite number, "
                              f"got {shown} {FIX}")


@pytest.mark.parametrize("dotted, field", [
    (("constraints", {"latency_ms": {"max": float("nan")}}), "constraints.latency_ms.max"),
    (("constraints", {"latency_ms": {"min": float("-inf")}}), "constraints.latency_ms.min"),
])
def test_constraints_must_be_finite(tmp_path, dotted, field):
    key, value = dotted
    path = write_profile(tmp_path, profile_dict(**{key: value}))
    with pytest.raises(ProfileError, match=rf"^.*tiny-cpu.yaml: field '{field}': Input should be a finite number"):
        load_profile(path)


def test_measurement_seconds_must_be_finite(tmp_path):
    data = profile_dict()
    data["measurement"]["min_seconds"] = float("nan")
    with pytest.raises(ProfileError, match=r"field 'measurement.min_seconds': Input should be a finite number"):
        load_profile(write_profile(tmp_path, data))


def test_the_largest_finite_numbers_are_accepted(tmp_path):
    p = load_profile(write_profile(tmp_path, profile_dict(reference_point={"latency_ms": 1.7976931348623157e308},
                                                          constraints={"latency_ms": {"min": -1e308}})))
    assert p.spec.reference_point == {"latency_ms": 1.7976931348623157e308}
    assert p.spec.constraints["latency_ms"].min == -1e308


def test_cli_refuses_a_nan_profile_in_one_line(tmp_path, capsys):
    text = write_profile(tmp_path, profile_dict()).read_text() + "reference_point:\n  top1: .nan\n"
    path = write_profile(tmp_path, text, name="tiny-cpu")
    refused(capsys, "profile", "show", path,
            match=r"^error: .*tiny-cpu.yaml: field 'reference_point.top1': Input should be a finite number, got nan")


# ---------------------------------------------------------------------------- profile show and its table
def _table(folder) -> str:
    path = folder / "luts" / "tiny-cpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {k: {"median": 0.01 * (i + 1), "iqr": 0.0, "n": 5} for i, k in enumerate(all_ops(TINY))}
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "entries": entries}))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _with_pin(folder, sha256: str):
    data = profile_dict()
    data["latency"]["table"]["sha256"] = sha256
    return write_profile(folder, data)


def test_show_exits_2_when_the_table_fails_its_pinned_sha256(tmp_path, capsys):
    actual = _table(tmp_path)
    path = _with_pin(tmp_path, "0" * 64)
    line = refused(capsys, "profile", "show", path,
                   match=r"^error: profile tiny-cpu cannot be used: its latency table is unusable \(.*field "
                         r"'latency.table.sha256': .*tiny-cpu.json has sha256 " + actual + r", the profile pins 0{64}")
    assert line.endswith("`ofa2 search -p tiny-cpu` refuses it the same way")


def test_show_still_prints_the_profile_before_failing(tmp_path, capsys):
    _table(tmp_path)
    rc, out, err = run_cli(capsys, "profile", "show", _with_pin(tmp_path, "0" * 64))
    shown = json.loads(out)
    assert rc == 2 and shown["id"] == "tiny-cpu" and shown["lut"].startswith("unavailable: ")


def test_show_exits_2_when_the_table_is_missing(tmp_path, capsys):
    refused(capsys, "profile", "show", write_profile(tmp_path, profile_dict()),
            match=r"^error: profile tiny-cpu cannot be used: its latency table is unusable \(.*does not exist")


def test_show_exits_0_when_the_table_matches_its_pin(tmp_path, capsys):
    path = _with_pin(tmp_path, _table(tmp_path))
    rc, out, err = run_cli(capsys, "profile", "show", path)
    assert rc == 0, err
    shown = json.loads(out)
    assert shown["lut_sha256"] == hashlib.sha256((tmp_path / "luts/tiny-cpu.json").read_bytes()).hexdigest()
    assert len(shown["latency_range_ms"]) == 2


def test_search_refuses_the_same_profile(tmp_path):
    _table(tmp_path)
    p = load_profile(_with_pin(tmp_path, "0" * 64))
    with pytest.raises(ProfileError, match=r"field 'latency.table.sha256'"):
        p.latency(TINY.sample(1, 0))
