"""Per-runtime latency in the zoo: what packaging timed in each deployment runtime travels from
package.json into recorded packages, Hub index rows, `ofa2 zoo list` and the explorer. Built on
copies of the embedded digits-cpu package; each value read back and compared with its source."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from ofa2_zoo.cli.zoo import runtime_latency_text
from ofa2_zoo.package.manifest import Member, read_manifest
from ofa2_zoo.package.plots import packaged_members
from ofa2_zoo.zoo import ZooIndex, record_package
from ofa2_zoo.zoo.entries import local_entries
from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR, PackageMember
from ofa2_zoo.zoo.records import package_record

from _bad_input_helpers import run_cli

SOURCE = EMBEDDED_ZOO_DIR / "digits-cpu"
PARITY = {"n_images": 5, "max_abs_diff": 0.0, "tolerance": 1e-6, "top1_agreement": 1.0, "top1_mismatches": 0,
          "unexplained_mismatches": 0, "passed": True}


def _latency(ms: float) -> dict:
    return {"median_ms": ms, "iqr_ms": 0.001, "repeats": 100, "rounds": 5, "batch": 1, "threads": 1, "clock": "wall",
            "machine": "test"}


def _runtime(name: str, file: str, ms: float | None, **extra) -> dict:
    return {"runtime": name, "file": file, "files": [file], "bytes": 10, "parity": PARITY,
            "latency": _latency(ms) if ms is not None else None, "versions": {}, "packaged": True, **extra}


def _int8(file: str, ms: float) -> dict:
    return {"file": file, "files": [file], "bytes": 5, "top1": 90.0, "top1_fp32": 90.0, "correct": 9, "correct_fp32": 9,
            "n_images": 10, "split": "val", "max_drop": 1.0, "calibration": {}, "latency": _latency(ms),
            "packaged": True, "reason": None}


def _member(runtimes: dict, own_backend: str = "onnxruntime") -> Member:
    raw = json.loads((SOURCE / "package.json").read_text())["members"][0]
    raw = copy.deepcopy(raw)
    for rec in runtimes.values():
        for f in rec.get("files", []) + (rec.get("int8") or {}).get("files", []):
            raw["files"][f] = hashlib.sha256(f.encode()).hexdigest()
    raw["runtimes"] = runtimes
    raw["measured"]["latency"] = {**raw["measured"]["latency"], "backend": own_backend, "median_ms": 0.04}
    return Member.model_validate(raw)


def test_each_runtimes_latency_and_int8s_and_the_runtime_record_wins_over_the_members_own_timing():
    m = _member({"onnxruntime": _runtime("onnxruntime", "model.onnx", 0.05),
                 "litert": _runtime("litert", "model.tflite", 0.02, int8=_int8("model.int8.tflite", 0.03)),
                 "openvino": _runtime("openvino", "openvino_model.xml", None),  # not timed: left out
                 "executorch": {"runtime": "executorch", "packaged": False, "reason": "parity check failed",
                                "parity": PARITY, "versions": {}}})
    assert m.runtime_latency_ms() == {"onnxruntime": 0.05, "litert": 0.02, "litert int8": 0.03}
    # without onnxruntime's record, the member's own onnxruntime timing stands in; another backend's does not
    assert _member({}).runtime_latency_ms() == {"onnxruntime": 0.04}
    assert _member({}, own_backend="torch").runtime_latency_ms() == {}


def test_the_text_lists_the_fastest_first():
    assert runtime_latency_text({"onnxruntime": 0.05, "litert": 0.02, "executorch": 0.02}) == \
        "executorch 0.020, litert 0.020, onnxruntime 0.050"
    assert runtime_latency_text({}) == "-"


@pytest.mark.parametrize("value, ok", [({"onnxruntime": 0.1, "litert int8": 0.2}, True), ({"onnxruntime": 0.0}, False),
                                       ({"onnxruntime": -1.0}, False), ({"ONNX Runtime": 0.1}, False),
                                       ({f"rt{i}": 0.1 for i in range(16)}, True),
                                       ({f"rt{i}": 0.1 for i in range(17)}, False)])
def test_recorded_runtime_latencies_are_validated(value, ok):
    base = {"k": 0, "arch": {"r": [4]}, "weights": "members/front_0/model.safetensors", "pretrained_cfg": {}}
    if ok:
        assert PackageMember.model_validate({**base, "runtime_latency_ms": value}).runtime_latency_ms == value
    else:
        with pytest.raises(ValidationError):
            PackageMember.model_validate({**base, "runtime_latency_ms": value})
    assert PackageMember.model_validate(base).runtime_latency_ms == {}  # records written before it: none


def test_a_recorded_package_carries_each_members_latencies_into_its_zoo_entries(tmp_path):
    pkg = Path(shutil.copytree(SOURCE, tmp_path / "pkg"))
    index = tmp_path / "zoo_index.json"
    record_package(pkg, index)
    entries = local_entries(ZooIndex.read(index)[0])
    manifest = read_manifest(pkg)
    assert [e.runtime_latency_ms for e in entries] == [m.runtime_latency_ms() for m in manifest.members]
    assert [e.runtime_latency_ms["onnxruntime"] for e in entries] == \
        [m.measured["latency"]["median_ms"] for m in manifest.members]
    assert [m.runtime_latency_ms for m in package_record(pkg).members] == [e.runtime_latency_ms for e in entries]
    assert [p.runtimes for p in packaged_members(manifest)] == [m.runtime_latency_ms() for m in manifest.members]


def test_zoo_list_shows_and_prints_as_json_each_members_measured_latencies(capsys, monkeypatch, tmp_path):
    from ofa2_zoo.cli._ui import console

    monkeypatch.setattr(console, "_width", 200)  # one table row per line, whatever the worker's terminal
    manifest = read_manifest(SOURCE)
    rc, out, _ = run_cli(capsys, "zoo", "list", "ofa2_digits_cpu_*", "--source", "embedded", "--json")
    assert rc in (0, None)
    rows = json.loads(out)
    assert [r["runtime_latency_ms"] for r in rows] == [m.runtime_latency_ms() for m in manifest.members]
    rc, out, _ = run_cli(capsys, "zoo", "list", "ofa2_digits_cpu_*", "--source", "embedded")
    assert "measured ms, batch 1" in out
    for m in manifest.members:
        line = next(line for line in out.splitlines() if f"{m.name} " in line)
        assert f"onnxruntime {m.measured['latency']['median_ms']:.3f}" in line
