"""Malformed profiles: one clear line naming the file, the field and the fix."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from ofa2_zoo.cli import main
from ofa2_zoo.profiles import LatencyTable, LookupTableError, ProfileError, load_profile
from ofa2_zoo.profiles.lut import FORMAT, all_ops, write_table

from _profiles_helpers import TINY, profile_dict, write_profile


def _set(d: dict, dotted: str, value) -> dict:
    d = copy.deepcopy(d)
    *parents, last = dotted.split(".")
    node = d
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


class _Delete:
    """Marks a field to remove; a fixed repr keeps the test ids the same in every process."""

    def __repr__(self) -> str:
        return "<deleted>"


_DELETE = _Delete()

# (change, field named in the message, words of the fix or reason)
MALFORMED = [
    ("device", "tpu", "device", "unknown field; remove it or fix its spelling (allowed here: id, device_class"),
    ("measurement.thread", 2, "measurement.thread", "allowed here: backend, batch_size"),
    ("latency.table.sha", "0" * 64, "latency.table.sha", "allowed here: format, asset_prefix, path, sha256"),
    ("hub", _DELETE, "hub", "Field required (fix: add it)"),
    ("device_class", "tpu", "device_class", "'gpu', 'cpu' or 'mobile', got 'tpu' (fix: use one of the listed"),
    ("resolutions", "160", "resolutions", "fix: give a YAML list"),
    ("measurement.repeats", "many", "measurement.repeats", "fix: give a whole number"),
    ("measurement.warmup", 2.5, "measurement.warmup", "fix: give a whole number"),
    ("id", "Tiny_CPU", "id", "fix: use lowercase letters, digits and '-'"),
    ("objectives", ["latency_ms", "speed"], "objectives", "unknown objective(s) ['speed']; choose from"),
    ("objectives", ["latency_ms"], "objectives", "fix: add entries"),
    ("objectives", ["latency_ms", "latency_ms"], "objectives", "must not repeat"),
    ("resolutions", [16, 16], "resolutions", "must not repeat"),
    ("latency.table", _DELETE, "latency", "source lut needs a table"),
    ("latency.table.path", _DELETE, "latency.table", "format ofa2-json needs path"),
    ("latency.table.format", "csv", "latency.table.format", "'ofa-yaml' or 'ofa2-json'"),
    ("latency.table.sha256", "abc", "latency.table.sha256", "64 lowercase hex digits"),
    ("measurement.precision", "fp16", "measurement", "precision fp16 needs backend tensorrt"),
    ("measurement.rounds", 100, "measurement", "rounds (100) cannot exceed repeats (20)"),
    ("measurement.statistic", "mean", "measurement.statistic", "'median', 'p10' or 'min'"),
    ("measurement.backend", "openvino", "measurement.backend", "'onnxruntime', 'torch', 'litert' or 'tensorrt'"),
    ("export", ["onnx", "tensorrt-fp16"], "(top level)", "tensorrt exports need device_class gpu"),
    ("constraints", {"latency_ms": {"min": 5, "max": 1}}, "constraints.latency_ms", "swap them"),
    ("constraints", {"energy": {"max": 1}}, "constraints", "unknown objective(s) ['energy']"),
    ("constraints", {"latency_ms": {"max": 1, "maxi": 2}}, "constraints.latency_ms.maxi", "allowed here: max, min"),
    ("package.members", 0, "package.members", "greater than or equal to 1"),
    ("hub.repo_prefix", "bad name!", "hub.repo_prefix", "a Hub repo name"),
    ("latency", {"source": "measure", "table": {"format": "ofa2-json", "path": "x.json"}}, "latency",
     "remove latency.table or use source lut"),
    ("measurement.clock", "tsc", "measurement.clock", "'wall' or 'cpu'"),
    ("measurement", {"backend": "onnxruntime", "threads": 2, "clock": "cpu"}, "measurement",
     "clock cpu times the calling thread, so it needs a CPU backend (onnxruntime, torch, litert) with threads: 1"),
    ("accuracy", "no such source", "accuracy", "fix: name an accuracy source"),
]


@pytest.mark.parametrize("dotted, value, field, fix", MALFORMED, ids=[f"{m[0]}={m[1]!r}"[:40] for m in MALFORMED])
def test_malformed_profile_names_file_field_and_fix(tmp_path, dotted, value, field, fix):
    path = write_profile(tmp_path, _set(profile_dict(), dotted, value), name="tiny-cpu")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: field '{field}'"), msg
    assert fix in msg, msg
    assert "\n" not in msg


MORE_MALFORMED = [
    ("latency.table", {"format": "ofa-yaml"}, "latency.table", "format ofa-yaml needs asset_prefix (the official"),
    ("latency.table", {"format": "ofa-yaml", "asset_prefix": "note10", "path": "x.json"}, "latency.table",
     "format ofa-yaml reads official assets (checksums pinned in ofa2_zoo.assets); remove path/sha256"),
    ("latency.table", {"format": "ofa-yaml", "asset_prefix": "note10", "sha256": "0" * 64}, "latency.table",
     "remove path/sha256 or use format ofa2-json"),
    ("latency.table", {"format": "ofa2-json", "path": "x.json", "asset_prefix": "note10"}, "latency.table",
     "asset_prefix is only for format ofa-yaml; remove it"),
    ("constraints", {"latency_ms": {}}, "constraints.latency_ms", "a constraint needs max and/or min"),
    ("reference_point", {"energy": 1.0}, "reference_point", "unknown objective(s) ['energy']"),
    ("measurement", _DELETE, "(top level)", "latency source 'measure' needs a measurement section"),
    ("measurement.backend", "tensorrt", "(top level)", "measurement backend tensorrt needs device_class gpu"),
    ("objectives", ["top1", "macs_m"], "(top level)",
     "latency source 'measure' is only useful with latency_ms in objectives or constraints"),
    ("resolutions", [], "resolutions", "fix: add entries"),
]
MEASURE = {"source": "measure"}


@pytest.mark.parametrize("dotted, value, field, fix", MORE_MALFORMED,
                         ids=[f"{m[0]}={m[1]!r}"[:40] for m in MORE_MALFORMED])
def test_more_malformed_profiles(tmp_path, dotted, value, field, fix):
    data = profile_dict()
    if field == "(top level)":  # the cross-field rules are about measured latency
        data["latency"] = MEASURE
    if dotted == "measurement.backend":
        data["measurement"]["precision"] = "fp32"
    path = write_profile(tmp_path, _set(data, dotted, value), name="tiny-cpu")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: field '{field}'") and fix in msg and "\n" not in msg, msg


OBJECTIVE_CHOICES = "['top1', 'latency_ms', 'macs_m', 'params_m']"
# Every rule of the profile schema, with its whole message: (latency section, change, field, message).
# The latency section is the lut profile's unless a case says "measure".
RULES = [
    ("lut", "measurement.rounds", 100, "measurement", "rounds (100) cannot exceed repeats (20); lower rounds"),
    ("lut", "measurement", {"backend": "onnxruntime", "threads": 2, "clock": "cpu"}, "measurement",
     "clock cpu times the calling thread, so it needs a CPU backend (onnxruntime, torch, litert) with threads: 1; "
     "use clock: wall"),
    ("lut", "measurement", {"backend": "tensorrt", "threads": 1, "clock": "cpu"}, "measurement",
     "clock cpu times the calling thread, so it needs a CPU backend (onnxruntime, torch, litert) with threads: 1; "
     "use clock: wall"),
    ("lut", "measurement.precision", "fp16", "measurement",
     "precision fp16 needs backend tensorrt; onnxruntime runs fp32 (set precision: fp32 or backend: tensorrt)"),
    ("lut", "latency.table", {"format": "ofa-yaml"}, "latency.table",
     "format ofa-yaml needs asset_prefix (the official folder, e.g. note10)"),
    ("lut", "latency.table", {"format": "ofa-yaml", "asset_prefix": "note10", "sha256": "0" * 64}, "latency.table",
     "format ofa-yaml reads official assets (checksums pinned in ofa2_zoo.assets); remove path/sha256 or use "
     "format ofa2-json"),
    ("lut", "latency.table", {"format": "ofa2-json"}, "latency.table",
     "format ofa2-json needs path (the table file, relative to the profile)"),
    ("lut", "latency.table", {"format": "ofa2-json", "path": "x.json", "asset_prefix": "note10"}, "latency.table",
     "asset_prefix is only for format ofa-yaml; remove it"),
    ("lut", "latency.table", _DELETE, "latency",
     "source lut needs a table (add latency.table with format and path/asset_prefix)"),
    ("lut", "latency", {"source": "measure", "table": {"format": "ofa2-json", "path": "x.json"}}, "latency",
     "source measure measures every network and uses no table; remove latency.table or use source lut"),
    ("lut", "constraints", {"top1": {}}, "constraints.top1", "a constraint needs max and/or min"),
    ("lut", "constraints", {"top1": {"min": 80, "max": 70.5}}, "constraints.top1",
     "min 80.0 is above max 70.5; swap them"),
    ("lut", "resolutions", [24, 16, 24], "resolutions", "resolutions must not repeat; list each once"),
    ("lut", "objectives", ["top1", "speed"], "objectives",
     f"unknown objective(s) ['speed']; choose from {OBJECTIVE_CHOICES}"),
    ("lut", "objectives", ["top1", "latency_ms", "top1"], "objectives", "objectives must not repeat; list each once"),
    ("lut", "constraints", {"energy": {"max": 1}, "top1": {"min": 1}}, "constraints",
     f"unknown objective(s) ['energy']; choose from {OBJECTIVE_CHOICES}"),
    ("lut", "reference_point", {"top1": 1.0, "watts": 2.0}, "reference_point",
     f"unknown objective(s) ['watts']; choose from {OBJECTIVE_CHOICES}"),
    ("measure", "measurement", _DELETE, "(top level)",
     "latency source 'measure' needs a measurement section (backend, threads, ...)"),
    ("lut", "export", ["onnx", "tensorrt-int8"], "(top level)",
     "tensorrt exports need device_class gpu; remove them from export"),
    ("measure", "measurement", {"backend": "tensorrt"}, "(top level)",
     "measurement backend tensorrt needs device_class gpu"),
    ("measure", "objectives", ["top1", "macs_m"], "(top level)",
     "latency source 'measure' is only useful with latency_ms in objectives or constraints"),
]


@pytest.mark.parametrize("latency, dotted, value, field, message", RULES,
                         ids=[f"{r[0]}-{r[1]}={r[2]!r}"[:50] for r in RULES])
def test_each_schema_rule_gives_its_whole_message(tmp_path, latency, dotted, value, field, message):
    """The whole line, word for word: a rule's message is its user interface."""
    data = profile_dict()
    if latency == "measure":
        data["latency"] = {"source": "measure"}
    path = write_profile(tmp_path, _set(data, dotted, value), name="tiny-cpu")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(exc.value) == f"{path}: field '{field}': {message}"


@pytest.mark.parametrize("change", [
    {"objectives": ["top1", "macs_m"], "constraints": {"latency_ms": {"max": 5.0}}},  # latency only as a limit
    {"objectives": ["latency_ms", "top1"]},  # latency searched, no constraint
    {"device_class": "gpu", "measurement": {"backend": "tensorrt", "precision": "fp16", "threads": 4},
     "export": ["onnx", "tensorrt-fp16", "tensorrt-int8"]},
    {"measurement": {"backend": "torch", "threads": 1, "clock": "cpu"}},
])
def test_measured_latency_profiles_the_rules_allow(tmp_path, change):
    data = profile_dict(**change)
    data["latency"] = {"source": "measure"}
    spec = load_profile(write_profile(tmp_path, data)).spec
    assert spec.latency.source == "measure" and spec.latency.table is None
    for key, value in change.items():
        got = getattr(spec, key)
        if key == "measurement":
            assert got.model_dump(include=set(value)) == value
        elif key == "constraints":
            assert {k: c.model_dump() for k, c in got.items()} == {"latency_ms": {"max": 5.0, "min": None}}
        else:
            assert got == value, key


# (field, lowest valid value, highest valid value) of every bounded number in a profile
BOUNDS = [("measurement.batch_size", 1, 1024), ("measurement.threads", 1, 256), ("measurement.warmup", 0, 10_000),
          ("measurement.repeats", 1, 100_000), ("measurement.rounds", 1, 1000), ("measurement.min_seconds", 0, 3600),
          ("package.members", 1, 100)]


@pytest.mark.parametrize("dotted, low, high", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_bounded_numbers_accept_their_range_and_refuse_beyond(tmp_path, dotted, low, high):
    base = _set(_set(profile_dict(), "measurement.rounds", 1), "measurement.repeats", 1000)
    section, name = dotted.split(".")
    for value in (low, high):
        spec = load_profile(write_profile(tmp_path, _set(base, dotted, value))).spec
        assert getattr(getattr(spec, section), name) == value
    step = 0.5 if name == "min_seconds" else 1
    for value, words in ((low - step, f"greater than or equal to {low}"), (high + step, f"less than or equal to {high}")):
        with pytest.raises(ProfileError, match=re.escape(f"field '{dotted}': Input should be {words}")):
            load_profile(write_profile(tmp_path, _set(base, dotted, value)))


def test_defaults_and_normalisation(tmp_path):
    data = profile_dict(resolutions=[24, 16])
    data["measurement"] = {"backend": "torch"}
    del data["export"], data["package"]
    spec = load_profile(write_profile(tmp_path, data)).spec
    assert spec.resolutions == [16, 24]  # sorted
    m = spec.measurement
    assert (m.batch_size, m.precision, m.threads, m.warmup, m.repeats, m.rounds, m.min_seconds, m.statistic) == \
        (1, "fp32", 1, 10, 50, 1, 0.0, "median")
    assert spec.export == ["onnx"] and spec.package.members == 5 and spec.constraints == {}
    assert spec.reference_point == {}
    c = load_profile(write_profile(tmp_path, profile_dict(constraints={"latency_ms": {"min": 2, "max": 2}}))).spec
    assert (c.constraints["latency_ms"].min, c.constraints["latency_ms"].max) == (2.0, 2.0)  # min == max is fine


def test_resolution_outside_the_space(tmp_path):
    path = write_profile(tmp_path, profile_dict(resolutions=[16, 17]))
    with pytest.raises(ProfileError, match=r"field 'resolutions': resolutions \[17\] are not in space"):
        load_profile(path)


def test_unknown_supernet(tmp_path):
    path = write_profile(tmp_path, profile_dict(supernet="ofa_mbv3_w9"))
    with pytest.raises(ProfileError, match="field 'supernet': unknown search space 'ofa_mbv3_w9'.*fix: use a regis"):
        load_profile(path)


def test_accuracy_source_must_score_the_profiles_space(tmp_path):
    """The (space, accuracy source) pairing is checked when the profile loads, in one line."""
    path = write_profile(tmp_path, profile_dict(supernet="ofa_mbv3_w1.0", accuracy="ofa_mbv3_w1.2",
                                                resolutions=[160, 224]))
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(exc.value) == (f"{path}: field 'accuracy': 'ofa_mbv3_w1.2' scores space ofa_mbv3_w1.2, but the "
                              "profile's supernet is ofa_mbv3_w1.0 (fix: use a supernet in space ofa_mbv3_w1.2)")
    path = write_profile(tmp_path, profile_dict(supernet="ofa2_digits", accuracy="ofa_mbv3_d234_e346_k357_w1.2",
                                                resolutions=[8, 16]))
    with pytest.raises(ProfileError, match=r"field 'accuracy': 'ofa_mbv3_d234_e346_k357_w1.2' scores space "
                                           r"ofa_mbv3_w1.2, but .* is ofa2_digits \(fix: use ofa2_digits\)"):
        load_profile(path)
    path = write_profile(tmp_path, profile_dict(accuracy="ofa_mbv3_v9"))
    with pytest.raises(ProfileError, match="field 'accuracy': unknown accuracy source 'ofa_mbv3_v9'; known: "):
        load_profile(path)


def test_accuracy_source_defaults_to_the_one_declared_for_the_space(tmp_path):
    assert load_profile(write_profile(tmp_path, profile_dict(supernet="ofa_mbv3_w1.2", resolutions=[160]))
                        ).accuracy_source == "ofa_mbv3_w1.2"
    assert load_profile(write_profile(tmp_path, profile_dict(accuracy="ofa_mbv3_d234_e346_k357_w1.2",
                                                             supernet="ofa_mbv3_d234_e346_k357_w1.2",
                                                             resolutions=[160]))).accuracy_source == "ofa_mbv3_w1.2"
    assert load_profile(write_profile(tmp_path, profile_dict())).accuracy_source is None  # nothing for TINY


def test_id_must_match_the_file_name(tmp_path):
    path = write_profile(tmp_path, profile_dict(), name="other-name")
    with pytest.raises(ProfileError, match="field 'id': 'tiny-cpu' does not match the file name "
                                           r"\(fix: name the file tiny-cpu.yaml or set id: other-name\)"):
        load_profile(path)


@pytest.mark.parametrize("text, message", [
    ("id: [unclosed\n", r"not valid YAML \(line \d+\).*fix: check indentation"),
    ("- just\n- a list\n", "a profile must be a YAML mapping of fields .* got list"),
    ("", "a profile must be a YAML mapping .* got NoneType"),
])
def test_not_a_yaml_mapping(tmp_path, text, message):
    path = write_profile(tmp_path, text, name="tiny-cpu")
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_unknown_profile_name_and_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="unknown hardware profile 'no-such-device'; known: .*note10"):
        load_profile("no-such-device")
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "absent.yaml")


# ---------------------------------------------------------------------------- table files
def _write_table(folder, entries, **extra):
    path = folder / "luts" / "tiny-cpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "entries": entries, **extra}))
    return path


def _full_entries():
    return {k: {"median": 0.01 * (i + 1), "iqr": 0.0, "n": 5} for i, k in enumerate(all_ops(TINY))}


def test_missing_table_file_names_the_field_and_how_to_build_it(tmp_path):
    p = load_profile(write_profile(tmp_path, profile_dict()))
    with pytest.raises(ProfileError, match=r"field 'latency.table.path': table .*tiny-cpu.json does not exist "
                                           r"\(fix: build it by measuring on the device: ofa2 profile build-lut"):
        p.latency(TINY.sample(2, 0))


def test_checksum_mismatch(tmp_path):
    table = _write_table(tmp_path, _full_entries())
    data = profile_dict()
    data["latency"]["table"]["sha256"] = "0" * 64
    p = load_profile(write_profile(tmp_path, data))
    with pytest.raises(ProfileError, match=r"field 'latency.table.sha256': .*tiny-cpu.json has sha256 [0-9a-f]{64}, "
                                           "the profile pins 0{64} .fix: restore the shipped table"):
        p.latency(TINY.sample(2, 0))
    import hashlib

    data["latency"]["table"]["sha256"] = hashlib.sha256(table.read_bytes()).hexdigest()
    assert load_profile(write_profile(tmp_path, data)).latency(TINY.sample(2, 0)).shape == (2,)


def test_missing_table_entry_names_the_operator_key(tmp_path):
    entries = _full_entries()
    gone = "expanded_conv-input:4x4x24-output:4x4x24-expand:96-kernel:5-stride:1-idskip:1-se:1-hs:1"
    del entries[gone]
    _write_table(tmp_path, entries)
    p = load_profile(write_profile(tmp_path, profile_dict(resolutions=[16])))
    with pytest.raises(LookupTableError) as exc:
        p.latency(TINY.restrict(resolutions=[16]).sample(2, 0))
    assert f"has no entry for operator '{gone}'" in str(exc.value)
    assert "ofa2 profile build-lut" in str(exc.value)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable ofa2 lookup table"),
    (json.dumps({"format": "other", "entries": {}}), "not an ofa2-lut/1 or ofa2-lut/2 table"),
    (json.dumps({"format": FORMAT, "unit": "s", "entries": {}}), "unit must be 'ms', got 's'"),
    (json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": {"mean": 1}}}),
     "entry 'Conv-x' needs a non-negative numeric 'median'"),
    (json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": {"median": 0.5}, "Conv_1-y": {"median": -3.0}}}),
     r"entry 'Conv_1-y' needs a non-negative numeric 'median' \(ms\)"),
    (json.dumps({"format": FORMAT, "unit": "ms", "statistic": "min",
                 "entries": {"Conv-x": {"median": 1.0, "min": -0.001}}}),
     r"entry 'Conv-x' needs a non-negative numeric 'min' \(ms\)"),
    (json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": {"median": "1"}}}),
     "entry 'Conv-x' needs a non-negative numeric 'median'"),
    (json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": {"median": True}}}),
     "entry 'Conv-x' needs a non-negative numeric 'median'"),
    (json.dumps({"format": FORMAT, "unit": "ms", "entries": {}, "calibration": {"scale": "x"}}),
     "'calibration' needs numeric 'scale' and 'offset'"),
])
def test_corrupt_table_files(tmp_path, content, message):
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(LookupTableError, match=message):
        LatencyTable.from_json(path)


def test_corrupt_ofa_yaml_table(tmp_path):
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text("Conv-input:160x160x3-output:80x80x24: {count: 1, std: 0.1}\n")
    with pytest.raises(LookupTableError, match="entry 'Conv-input:160x160x3-output:80x80x24' has no numeric 'mean'"):
        LatencyTable.from_ofa_yaml({160: path})


@pytest.mark.parametrize("content, message", [
    ("- a list\n", "expected a mapping of operator keys to {count, mean, std}"),
    ("key: {mean: .nan}\n", "entry 'key' has no numeric 'mean'"),
    ("key: {mean: true}\n", "entry 'key' has no numeric 'mean'"),
    ("key: [1, 2]\n", "entry 'key' has no numeric 'mean'"),
    ("key: {mean: 1\n", "not a readable YAML lookup table"),
    (b"\xff\xfe", "not a readable YAML lookup table"),
])
def test_more_corrupt_ofa_yaml_tables(tmp_path, content, message):
    path = tmp_path / "160_lookup_table.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(LookupTableError, match=re.escape(f"{path}: {message}")):
        LatencyTable.from_ofa_yaml({160: path})
    with pytest.raises(LookupTableError, match="not a readable YAML lookup table"):
        LatencyTable.from_ofa_yaml({160: tmp_path / "absent.yaml"})


@pytest.mark.parametrize("extra, message", [
    ({"call_overhead": {"median": "fast"}}, "'call_overhead' needs a numeric 'median' (ms)"),
    ({"call_overhead": 0.1}, "'call_overhead' needs a numeric 'median' (ms)"),
    ({"statistic": "p10", "call_overhead": {"median": 0.1}}, "'call_overhead' needs a numeric 'p10' (ms)"),
    ({"calibration": {"scale": 1.0}}, "'calibration' needs numeric 'scale' and 'offset'"),
    ({"calibration": {"scale": float("inf"), "offset": 0}}, "'calibration' needs numeric 'scale' and 'offset'"),
    ({"calibration": [1, 2]}, "'calibration' needs numeric 'scale' and 'offset'"),
    ({"unit": None}, "unit must be 'ms', got None"),
    ({"entries": []}, "not an ofa2-lut/1 or ofa2-lut/2 table"),
])
def test_corrupt_table_metadata(tmp_path, extra, message):
    path = tmp_path / "t.json"
    entry = {"median": 1.0, "p10": 0.5}
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "entries": {"Conv-x": entry}, **extra}))
    with pytest.raises(LookupTableError, match=re.escape(f"{path}: {message}")):
        LatencyTable.from_json(path)
    assert str(LookupTableError("plain text")) == "plain text"  # not quoted as a KeyError would be


def test_a_table_round_trips_through_write_table(tmp_path):
    entries = {"b-key": {"median": 2.0, "p10": 1.5, "min": 1.0, "iqr": 0.5, "n": 7},
               "a-key": {"median": 1.0, "p10": 0.5, "min": 0.25, "iqr": 0.0, "n": 7}}
    path = write_table(tmp_path / "sub" / "t.json", {"space": "s", "statistic": "p10", "format": "other"}, entries)
    data = json.loads(path.read_text())
    assert list(data["entries"]) == ["a-key", "b-key"] and data["format"] == FORMAT and data["unit"] == "ms"
    assert data["space"] == "s" and "HxWxC" in data["shapes"] and list(tmp_path.joinpath("sub").iterdir()) == [path]
    table = LatencyTable.from_json(path)
    assert table.entries == {"a-key": 0.5, "b-key": 1.5} and table.meta["space"] == "s"
    assert table.lookup("b-key") == 1.5 and table.calibration is None and table.call_overhead_ms == 0.0
    assert table.source == str(path) and "entries" not in table.meta
    calibrated = table.with_calibration({"scale": 2.0, "offset": 0.0})
    assert calibrated.calibration == {"scale": 2.0, "offset": 0.0} and table.calibration is None
    assert calibrated.entries == table.entries and calibrated.with_calibration(None).calibration is None


def test_lookup_by_resolution_names_the_missing_table(tmp_path):
    path = tmp_path / "16_lookup_table.yaml"
    path.write_text("k: {count: 1, mean: 0.5, std: 0}\n")
    table = LatencyTable.from_ofa_yaml({16: path})
    assert table.lookup("k", 16) == 0.5 and table.source == str(path) and table.meta == {"format": "ofa-yaml"}
    with pytest.raises(LookupTableError, match=re.escape(f"lookup table {path} has no table for resolution 24 "
                                                         "(it has [16])")):
        table.lookup("k", 24)
    with pytest.raises(LookupTableError) as exc:
        table.lookup("other", 16)
    assert str(exc.value) == (f"lookup table {path} has no entry for operator 'other'; the table was built for "
                              "another space or resolution (rebuild it: ofa2 profile build-lut PROFILE)")
    # a calibration keeps the per-resolution files and where they came from
    calibrated = table.with_calibration({"scale": 2.0, "offset": 0.0})
    assert calibrated.lookup("k", 16) == 0.5 and calibrated.source == str(path)
    with pytest.raises(LookupTableError, match="has no table for resolution 24"):
        calibrated.lookup("k", 24)
    # two resolutions: each file read for its own, the source names both
    path24 = tmp_path / "24_lookup_table.yaml"
    path24.write_text("k: {count: 1, mean: 0.75, std: 0}\n")
    both = LatencyTable.from_ofa_yaml({24: path24, 16: path})
    assert (both.lookup("k", 16), both.lookup("k", 24)) == (0.5, 0.75) and both.source == f"{path24}, {path}"


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = write_profile(tmp_path, profile_dict(device_class="tpu"))
    with pytest.raises(SystemExit) as exc:
        main(["profile", "show", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "field 'device_class'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_compiled_table_is_shared_per_table_content_and_space(tmp_path):
    """A profile loaded again reuses the table compiled for the same table sha256, space and
    calibration (issue 24); a rebuilt table, or another calibration, is compiled afresh."""
    _write_table(tmp_path, _full_entries())
    path = write_profile(tmp_path, profile_dict())
    a, b = load_profile(path), load_profile(path)
    assert a.compiled is b.compiled
    assert not a.compiled.blocks.flags.writeable and not a.compiled.fixed.flags.writeable
    sub = load_profile(write_profile(tmp_path, profile_dict(id="tiny-sub", resolutions=[16])))
    assert sub.lut_sha256 == a.lut_sha256 and sub.compiled is not a.compiled
    assert sub.compiled.blocks.shape[-1] == 1
    np.testing.assert_array_equal(sub.compiled.blocks[..., 0], a.compiled.blocks[..., 0])
    before = a.compiled
    _write_table(tmp_path, {k: {**v, "median": 2 * v["median"]} for k, v in _full_entries().items()})
    a.reload()
    assert a.compiled is not before
    np.testing.assert_array_equal(a.compiled.blocks, 2 * before.blocks)
    np.testing.assert_array_equal(a.compiled.fixed, 2 * before.fixed)
    assert load_profile(path).compiled is a.compiled
    c = load_profile(path)
    c.__dict__["table"] = c.table.with_calibration({"model": "scale", "scale": 2.0, "per_mmac": 0.0, "per_mweight": 0.0,
                                                    "per_block": 0.0, "offset": 0.0})
    assert c.compiled is not a.compiled  # another calibration: not the cached compile
    genes = TINY.archs_to_genes(TINY.sample(4, 0))
    assert not np.allclose(c.compiled.latency_genes(genes), a.compiled.latency_genes(genes))
