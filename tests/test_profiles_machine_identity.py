"""Which machine this is, and what is stored for it (issue 26): the machine record a table keeps,
the fingerprint per-machine files are named by, the canary's settings, timing and cache, a stored
machine calibration, and which profiles are checked at all.

The machine is faked where it is read: ``/proc/cpuinfo`` (a file in ``tmp_path``, opened in place
of the real one), the platform, the core count and the installed packages' versions. The only real
measurement is one canary of the tiny test space (well under a second); nothing asserts a real timing.
"""

from __future__ import annotations

import builtins
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import sys
from types import SimpleNamespace

import numpy as np
import onnxruntime
import pytest
import torch
from _profiles_helpers import TINY, profile_dict, write_profile
from test_profiles_machine import CANARY_KEYS, TABLE_CANARY, FakeMachine, tiny  # noqa: F401

import ofa2_zoo.profiles.calibration as calibration
import ofa2_zoo.profiles.machine as machine
import ofa2_zoo.profiles.measure as measure_mod
from ofa2_zoo._io import sha256_file
from ofa2_zoo.profiles import ProfileError, load_profile
from ofa2_zoo.profiles.measure import Timing
from ofa2_zoo.space import get_space

X86_CPUINFO = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
               "cpu MHz\t\t: 2200.000\nflags\t\t: fpu sse2 avx2 fma avx2\nbugs\t\t: spectre_v1\n\n"
               "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu sse2 avx2 fma\n")
ARM_CPUINFO = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm aes crc32 fp\nCPU part\t: 0xd0c\n"


# ---------------------------------------------------------------------------- fakes of this machine
@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    """``/proc/cpuinfo`` as the test writes it (absent until written), read on a machine whose locale is
    Latin-1 (a text file opened without an encoding is read as Latin-1), without py-cpuinfo installed."""
    fake = tmp_path / "proc-cpuinfo"
    real_open = builtins.open

    def fake_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True,
                  opener=None):
        if not isinstance(file, int) and os.fspath(file) == "/proc/cpuinfo":
            file = fake
        if "b" not in mode and encoding is None:
            encoding = "latin-1"
        return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)

    monkeypatch.setattr(machine, "open", fake_open, raising=False)
    monkeypatch.setitem(sys.modules, "cpuinfo", None)  # import cpuinfo: ImportError
    return fake


def _installed(monkeypatch, **versions):
    """Only these distributions are installed (names compared as pip does: case and -_. alike)."""
    def norm(name):
        return name.lower().replace("_", "-").replace(".", "-")

    table = {norm(k): v for k, v in versions.items()}

    def version(name):
        if norm(name) not in table:
            raise importlib.metadata.PackageNotFoundError(name)
        return table[norm(name)]

    monkeypatch.setattr(importlib.metadata, "version", version)


@pytest.fixture
def this_machine(cpuinfo, monkeypatch):
    """A whole faked machine: an x86 Xeon with 6 cores on Linux, onnxruntime 1.17.1 and torch 2.3.0."""
    cpuinfo.write_text(X86_CPUINFO)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "processor", lambda: "x86_64")
    monkeypatch.setattr(platform, "platform", lambda *a, **k: "Linux-6.1.0-test-x86_64-with-glibc2.36")
    monkeypatch.setattr(platform, "python_version", lambda: "3.11.7")
    _installed(monkeypatch, onnxruntime="1.17.1", torch="2.3.0")
    return cpuinfo


def _missing_packages(monkeypatch, *names):
    """These Python packages are not installed here (as far as ``importlib.util.find_spec`` tells)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))


# ---------------------------------------------------------------------------- CPU flags and name
@pytest.mark.parametrize("text, flags", [(X86_CPUINFO, ["avx2", "fma", "fpu", "sse2"]),
                                         (ARM_CPUINFO, ["aes", "asimd", "crc32", "evtstrm", "fp"])])
def test_cpu_flags_come_from_proc_cpuinfo_sorted_once_each(cpuinfo, text, flags):
    cpuinfo.write_text(text)
    assert machine.cpu_flags() == flags  # the first processor's line: x86 "flags", ARM "Features"


def test_cpu_flags_survive_bytes_that_are_not_utf8(cpuinfo):
    cpuinfo.write_bytes(b"processor\t: 0\nmodel name\t: Odd \xff\xfe CPU\nflags\t\t: sse2 avx2\n")
    assert machine.cpu_flags() == ["avx2", "sse2"]


def test_only_the_first_colon_ends_a_cpuinfo_key(cpuinfo):
    cpuinfo.write_text("processor\t: 0\nflags\t\t: sse2 x86-64:v2 avx2\n")
    assert machine.cpu_flags() == ["avx2", "sse2", "x86-64:v2"]


def test_without_a_flags_line_py_cpuinfo_is_asked(cpuinfo, monkeypatch):
    assert machine.cpu_flags() == []  # no /proc/cpuinfo and no py-cpuinfo
    monkeypatch.setitem(sys.modules, "cpuinfo", SimpleNamespace(
        get_cpu_info=lambda: {"brand_raw": "Apple M2", "flags": ["neon", "aes", "neon"]}))
    assert machine.cpu_flags() == ["aes", "neon"]
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\n")  # a /proc/cpuinfo without flags
    assert machine.cpu_flags() == ["aes", "neon"]
    assert machine.cpu_flags(cpuinfo.parent / "nowhere") == ["aes", "neon"]
    monkeypatch.setitem(sys.modules, "cpuinfo", SimpleNamespace(get_cpu_info=lambda: {"brand_raw": "?"}))
    assert machine.cpu_flags() == []  # py-cpuinfo that knows no flags


@pytest.mark.parametrize("line, name", [("model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz", "Intel(R) Xeon(R) CPU @ 2.20GHz"),
                                        ("model name\t: Virtual CPU: Xeon: family 6  ", "Virtual CPU: Xeon: family 6")])
def test_cpu_name_is_the_first_model_name_of_proc_cpuinfo(cpuinfo, line, name):
    cpuinfo.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\n{line}\n\nprocessor\t: 1\nmodel name\t: Other\n")
    assert machine.cpu_name() == name


def test_cpu_name_is_read_as_utf8_whatever_the_locale(cpuinfo):
    cpuinfo.write_bytes("model name\t: Ryzen™ 7 Ünïcode\n".encode())
    assert machine.cpu_name() == "Ryzen™ 7 Ünïcode"
    cpuinfo.write_bytes(b"model name\t: Odd \xff CPU\n")  # not UTF-8: replaced, not an error
    assert machine.cpu_name() == "Odd \ufffd CPU"


@pytest.mark.parametrize("text", [None, ARM_CPUINFO])
@pytest.mark.parametrize("processor, arch, name", [("", "aarch64", "aarch64"), ("arm", "aarch64", "arm")])
def test_without_a_model_name_the_cpu_is_named_by_the_platform(cpuinfo, monkeypatch, text, processor, arch, name):
    if text is not None:
        cpuinfo.write_text(text)
    monkeypatch.setattr(platform, "processor", lambda: processor)
    monkeypatch.setattr(platform, "machine", lambda: arch)
    assert machine.cpu_name() == name


# ---------------------------------------------------------------------------- identity and record
def test_machine_identity_is_read_from_the_machine_and_the_installed_runtimes(this_machine):
    assert machine.machine_identity() == {
        "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 6, "arch": "x86_64", "system": "Linux",
        "flags": ["avx2", "fma", "fpu", "sse2"], "onnxruntime": "1.17.1", "torch": "2.3.0"}


@pytest.mark.parametrize("distribution", ["onnxruntime", "onnxruntime-gpu", "onnxruntime_openvino",
                                          "onnxruntime-directml"])
def test_every_build_of_onnxruntime_is_in_the_identity(this_machine, monkeypatch, distribution):
    """The GPU, OpenVINO and DirectML wheels install the same module under another distribution name:
    switching or upgrading one must change the fingerprint too."""
    _installed(monkeypatch, **{distribution: "1.20.0", "torch": "2.3.0"})
    assert machine.machine_identity()["onnxruntime"] == "1.20.0"
    before = machine.fingerprint()
    _installed(monkeypatch, **{distribution: "1.21.0", "torch": "2.3.0"})
    assert machine.fingerprint() != before


def test_an_identity_without_the_runtimes_records_none(this_machine, monkeypatch):
    _installed(monkeypatch)
    ident = machine.machine_identity()
    assert ident["onnxruntime"] is None and ident["torch"] is None


@pytest.mark.parametrize("change", [
    lambda mp, info: info.write_text(X86_CPUINFO.replace("Xeon(R) CPU", "Xeon(R) Gold CPU")),
    lambda mp, info: mp.setattr(os, "cpu_count", lambda: 8),
    lambda mp, info: mp.setattr(platform, "machine", lambda: "aarch64"),
    lambda mp, info: mp.setattr(platform, "system", lambda: "Darwin"),
    lambda mp, info: info.write_text(X86_CPUINFO.replace("fma", "fma avx512f")),
    lambda mp, info: _installed(mp, onnxruntime="1.18.0", torch="2.3.0"),
    lambda mp, info: _installed(mp, onnxruntime="1.17.1", torch="2.4.0"),
], ids=["cpu", "cores", "arch", "system", "flags", "onnxruntime", "torch"])
def test_the_fingerprint_changes_with_each_identity_field(this_machine, monkeypatch, change):
    before = machine.fingerprint()
    assert len(before) == 16 and int(before, 16) >= 0
    change(monkeypatch, this_machine)
    assert machine.fingerprint() != before


def test_the_fingerprint_ignores_what_is_not_identity(this_machine, monkeypatch):
    before = machine.fingerprint()
    assert before == machine.fingerprint(machine.machine_identity())
    monkeypatch.setattr(platform, "platform", lambda *a, **k: "Linux-6.9.0-other-kernel")
    monkeypatch.setattr(platform, "python_version", lambda: "3.12.1")
    monkeypatch.setattr(platform, "processor", lambda: "i386")  # not used: /proc/cpuinfo names the CPU
    this_machine.write_text(X86_CPUINFO.replace("2200.000", "3100.000"))  # the clock speed of the moment
    _installed(monkeypatch, onnxruntime="1.17.1", torch="2.3.0", numpy="2.0.0")
    assert machine.fingerprint() == before


def test_machine_info_records_the_cpu_os_and_runtimes(this_machine, monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.3.0+cpu")
    monkeypatch.setattr(onnxruntime, "__version__", "1.17.1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # not installed
    assert machine.machine_info() == {
        "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 6, "flags": ["avx2", "fma", "fpu", "sse2"],
        "os": "Linux-6.1.0-test-x86_64-with-glibc2.36", "python": "3.11.7", "torch": "2.3.0+cpu",
        "onnxruntime": "1.17.1"}


def test_machine_info_names_the_gpu_tensorrt_and_litert_where_they_are(this_machine, monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.3.0+cu121")
    monkeypatch.setattr(onnxruntime, "__version__", "1.17.1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpus = ["NVIDIA H100 80GB HBM3", "NVIDIA A10G"]
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpus[0 if device is None else device])
    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="10.1.0"))
    _installed(monkeypatch, onnxruntime="1.17.1", torch="2.3.0", **{"ai-edge-litert": "1.4.0"})
    info = machine.machine_info()
    assert {k: info[k] for k in ("gpu", "tensorrt", "ai_edge_litert", "torch")} == {
        "gpu": "NVIDIA H100 80GB HBM3", "tensorrt": "10.1.0", "ai_edge_litert": "1.4.0", "torch": "2.3.0+cu121"}
    assert sorted(info) == ["ai_edge_litert", "cores", "cpu", "flags", "gpu", "onnxruntime", "os", "python",
                            "tensorrt", "torch"]


@pytest.mark.parametrize("record, text", [
    (None, "an unrecorded machine"), ({}, "an unrecorded machine"),
    ({"cpu": "AMD EPYC 7B13", "cores": 2}, "AMD EPYC 7B13, 2 cores"),
    ({"cpu": "AMD EPYC 7B13"}, "AMD EPYC 7B13"), ({"cpu": "AMD EPYC 7B13", "cores": 0}, "AMD EPYC 7B13"),
    ({"cores": 4, "flags": ["sse2"]}, "unknown CPU, 4 cores"), ({"cpu": "", "cores": None}, "unknown CPU"),
    ({"cpu": "Test CPU", "cores": 1}, "Test CPU, 1 core"),
])
def test_describe_machine(record, text):
    assert machine.describe_machine(record) == text


def test_machine_dir_is_OFA2_MACHINE_DIR_else_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA2_MACHINE_DIR", raising=False)
    assert machine.machine_dir() == tmp_path / "cache" / "machine"
    monkeypatch.setenv("OFA2_MACHINE_DIR", str(tmp_path / "mine"))
    assert machine.machine_dir() == tmp_path / "mine"


# ---------------------------------------------------------------------------- the canary
def test_the_canary_is_at_the_largest_resolution_of_the_space():
    space = get_space("ofa2_fmnist")
    r = max(space.resolutions)
    assert r != space.resolutions[1]
    stem, block, head = machine.canary_ops(space)
    assert stem.kind == "Conv" and stem.inp == (r, r, space.in_chans)
    assert block.kind == "expanded_conv" and block.kernel == max(space.ks_choices)
    stride = space.stem_stride * math.prod(space.stage_strides)  # 28 px / 8: a 4x4 head (at 20 px: 3x3)
    assert head.kind == "Conv_1" and head.inp[:2] == (math.ceil(r / stride),) * 2


def _profile(folder, pid, **measurement):
    d = profile_dict(id=pid, objectives=["latency_ms", "macs_m"])
    d["measurement"] = {**d["measurement"], **measurement}
    return load_profile(write_profile(folder, d))


@pytest.mark.parametrize("min_seconds, canary_min_seconds", [(5.0, 0.3), (0.3, 0.3), (0.1, 0.1), (0.0, 0.0)])
def test_a_canary_record_keeps_its_times_and_the_tables_settings_with_min_seconds_capped(
        tiny, tmp_path, min_seconds, canary_min_seconds):
    p = _profile(tmp_path, "tiny-slow", min_seconds=min_seconds, threads=2, statistic="median")
    record = machine.canary_record(p, {"a": 1, "b": 2.5})
    assert record == {"ms": {"a": 1.0, "b": 2.5}, "total_ms": 3.5,
                      "measurement": {**p.measurement.model_dump(), "min_seconds": canary_min_seconds}}
    assert type(record["ms"]["a"]) is float and type(record["total_ms"]) is float
    assert record["measurement"]["threads"] == 2 and p.measurement.min_seconds == min_seconds  # not changed


def test_measure_canary_times_the_canary_networks_here(tiny):
    ms = machine.measure_canary(load_profile(tiny))  # real timings: only their keys and signs are certain
    assert list(ms) == CANARY_KEYS
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in ms.values())


@pytest.mark.parametrize("statistic", ["median", "p10", "min"])
def test_measure_canary_times_like_the_table_for_at_most_0_3_s(tiny, tmp_path, monkeypatch, statistic):
    p = _profile(tmp_path, "tiny-cpuclock", batch_size=2, warmup=3, repeats=12, rounds=3, min_seconds=5.0,
                 clock="cpu", statistic=statistic)
    built, timed = [], []

    def make_runner(module, shape, m):
        built.append((module, shape, m))
        return f"runner {len(built)}"

    def time_interleaved(fns, warmup, repeats, rounds=1, min_seconds=0.0, clock="wall"):
        timed.append((list(fns), warmup, repeats, rounds, min_seconds, clock))
        return [Timing(median_ms=10.0 + i, iqr_ms=0.1, n=12, p10_ms=20.0 + i, min_ms=30.0 + i) for i in range(len(fns))]

    monkeypatch.setattr(measure_mod, "make_runner", make_runner)
    monkeypatch.setattr(measure_mod, "time_interleaved", time_interleaved)
    ms = machine.measure_canary(p)
    base = {"median": 10.0, "p10": 20.0, "min": 30.0}[statistic]
    assert ms == {k: base + i for i, k in enumerate(CANARY_KEYS)}
    assert timed == [(["runner 1", "runner 2", "runner 3"], 3, 12, 3, 0.3, "cpu")]
    for op, (module, shape, m) in zip(machine.canary_ops(TINY), built):
        h, w, c = op.inp
        assert shape == (2, c, h, w)  # the operator's own input, at the profile's batch size
        with torch.no_grad():
            out = module.eval()(torch.zeros(shape))
        assert tuple(out.shape) == (2, op.out[-1], op.out[0], op.out[1])  # the operator's own module
        assert m.model_dump() == {**p.measurement.model_dump(), "min_seconds": 0.3}


class ProfileMachine(FakeMachine):
    """A :class:`FakeMachine` whose canary times the operators of the profile it is given."""

    def measure(self, profile):
        self.timed += 1
        return {op.key: TABLE_CANARY[op.key] * self.factor for op in machine.canary_ops(profile.space)}


def _cache(fp=None):
    data = json.loads((machine.machine_dir() / "canary.json").read_text())
    return data if fp is None else data[fp]


def test_the_canary_is_reused_from_the_instant_it_was_timed_until_just_under_the_ttl(tiny, monkeypatch):
    fake = ProfileMachine(monkeypatch, 1.0)
    monkeypatch.setattr(machine.time, "time", lambda: 5.0)  # the clock of the call, when none is given
    p = load_profile(tiny)
    t0 = 1_000_000.0
    first = machine.canary_here(p, now=t0)
    assert first["ms"] == TABLE_CANARY and fake.timed == 1
    assert machine.canary_here(p, now=t0) == first and fake.timed == 1  # the same instant
    assert machine.canary_here(p, now=t0 + machine.CANARY_TTL_S - 0.5) == first and fake.timed == 1
    machine.canary_here(p, now=t0 + machine.CANARY_TTL_S)
    assert fake.timed == 2
    [entry] = _cache(machine.fingerprint()).values()
    assert entry["timed_at"] == t0 + machine.CANARY_TTL_S


def test_a_canary_timed_in_the_future_is_timed_again(tiny, monkeypatch):
    fake = ProfileMachine(monkeypatch, 1.0)
    p = load_profile(tiny)
    machine.canary_here(p, now=2000.0)
    machine.canary_here(p, now=1999.0)  # the clock went back
    assert fake.timed == 2


def test_the_ttl_is_the_callers(tiny, monkeypatch):
    fake = ProfileMachine(monkeypatch, 1.0)
    p = load_profile(tiny)
    machine.canary_here(p, now=100.0, ttl=60)
    machine.canary_here(p, now=159.0, ttl=60)
    assert fake.timed == 1
    machine.canary_here(p, now=160.0, ttl=60)
    assert fake.timed == 2


def test_canary_json_keeps_each_machines_timings_with_when_and_for_which_profile(tiny, monkeypatch):
    ProfileMachine(monkeypatch, 1.25)
    p = load_profile(tiny)
    fp = machine.fingerprint()
    machine.machine_dir().mkdir(parents=True)
    other = {"0123456789abcdef": {"k": {"timed_at": 1.0, "profile": "x", "canary": {"ms": {"a": 1.0}}}}}
    (machine.machine_dir() / "canary.json").write_text(json.dumps(other))
    record = machine.canary_here(p, now=123.0)
    assert record == machine.canary_record(p, {k: 1.25 * v for k, v in TABLE_CANARY.items()})
    cache = _cache()
    assert set(cache) == {fp, "0123456789abcdef"} and cache["0123456789abcdef"] == other["0123456789abcdef"]
    assert list(cache[fp].values()) == [{"timed_at": 123.0, "profile": "tiny-cpu", "canary": record}]
    machine.canary_here(p, "feedfacefeedface", now=124.0)  # another machine's fingerprint, named
    [entry] = _cache("feedfacefeedface").values()
    assert entry["timed_at"] == 124.0


@pytest.mark.parametrize("entry", [{"timed_at": "100", "canary": {"ms": {"a": 1.0}}}, {"timed_at": 100.0},
                                   {"timed_at": 100.0, "canary": {"ms": {"a": 0.0}}}, [100.0], "x"])
def test_a_malformed_cached_canary_is_timed_again(tiny, monkeypatch, entry):
    fake = ProfileMachine(monkeypatch, 1.0)
    p = load_profile(tiny)
    machine.canary_here(p, now=100.0)
    fp = machine.fingerprint()
    cache = _cache()
    [key] = cache[fp]
    cache[fp][key] = entry
    (machine.machine_dir() / "canary.json").write_text(json.dumps(cache))
    assert machine.canary_here(p, now=101.0)["ms"] == TABLE_CANARY and fake.timed == 2


def test_an_unwritable_machine_dir_only_costs_timing_again(tiny, tmp_path, monkeypatch):
    fake = ProfileMachine(monkeypatch, 1.0)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the machine folder should be")
    monkeypatch.setenv("OFA2_MACHINE_DIR", str(blocker))
    p = load_profile(tiny)
    assert machine.canary_here(p, now=100.0)["ms"] == TABLE_CANARY
    assert machine.canary_here(p, now=101.0)["ms"] == TABLE_CANARY
    assert fake.timed == 2


# ---------------------------------------------------------------------------- a stored machine calibration
def test_calibration_path_names_the_profile_and_the_fingerprint(tiny, monkeypatch):
    FakeMachine(monkeypatch)
    p = load_profile(tiny)
    assert machine.calibration_path(p, "feedfacefeedface") == \
        machine.machine_dir() / "calibrations" / "tiny-cpu-feedfacefeedface.json"
    assert machine.calibration_path(p) == machine.machine_dir() / "calibrations" / f"tiny-cpu-{machine.fingerprint()}.json"


def _stored(tmp_path, fp, **changes):
    """A well-formed machine calibration of the tiny table, written where machine ``fp`` keeps it."""
    record = {"format": "ofa2-machine-calibration/1", "profile": "tiny-cpu",
              "lut_sha256": sha256_file(tmp_path / "luts" / "tiny-cpu.json"), "fingerprint": fp,
              "created": "2026-12-02T10:00:00+00:00",
              "canary": {"ms": dict(TABLE_CANARY), "total_ms": 3.0, "measurement": {}},
              "calibration": {"scale": 2.0, "offset": 0.0, "archs": 8}}
    record.update(changes)
    path = tmp_path / "machine" / "calibrations" / f"tiny-cpu-{fp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return record


def test_a_stored_calibration_is_read_for_the_named_machine(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch)
    p = load_profile(tiny)
    record = _stored(tmp_path, "feedfacefeedface")
    assert machine.machine_calibration(p, "feedfacefeedface") == record
    assert machine.machine_calibration(p) is None  # this machine has none
    here = _stored(tmp_path, machine.fingerprint(), created="2026-12-03T00:00:00+00:00")
    assert machine.machine_calibration(p) == here


@pytest.mark.parametrize("extra", [{}, {"per_mmac": 0.01}, {"per_mweight": 0.02}, {"per_block": 0.003},
                                   {"per_mmac": 1, "per_mweight": 0, "per_block": -0.5}])
def test_the_optional_calibration_terms_may_be_left_out(tiny, tmp_path, monkeypatch, extra):
    FakeMachine(monkeypatch)
    fp = machine.fingerprint()
    record = _stored(tmp_path, fp, calibration={"scale": 2.0, "offset": 0.1, **extra})
    assert machine.machine_calibration(load_profile(tiny), fp) == record


@pytest.mark.parametrize("changes", [
    {"format": "ofa2-machine-calibration/2"}, {"profile": "other-cpu"}, {"calibration": None},
    {"calibration": [2.0, 0.0]}, {"calibration": {"scale": "2", "offset": 0.0}}, {"calibration": {"scale": 2.0}},
    {"calibration": {"scale": 2.0, "offset": 0.0, "per_mmac": "0.1"}},
    {"calibration": {"scale": 2.0, "offset": 0.0, "per_mweight": None}},
    {"calibration": {"scale": 2.0, "offset": 0.0, "per_block": True}},
    {"canary": {"ms": {}}}, {"canary": None}, {"lut_sha256": "0" * 64}, {"lut_sha256": None},
], ids=lambda c: json.dumps(c))
def test_a_malformed_or_foreign_stored_calibration_is_ignored(tiny, tmp_path, monkeypatch, changes):
    FakeMachine(monkeypatch)
    fp = machine.fingerprint()
    _stored(tmp_path, fp, **changes)
    assert machine.machine_calibration(load_profile(tiny), fp) is None
    assert "calibrated_by" not in load_profile(tiny).table.meta


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "null", "3", b"\xff\xfe{}"], ids=str)
def test_an_unreadable_stored_calibration_is_ignored(tiny, tmp_path, monkeypatch, text):
    FakeMachine(monkeypatch)
    fp = machine.fingerprint()
    path = tmp_path / "machine" / "calibrations" / f"tiny-cpu-{fp}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert machine.machine_calibration(load_profile(tiny), fp) is None
    path.unlink()
    path.mkdir()  # not a file at all
    assert machine.machine_calibration(load_profile(tiny), fp) is None


def test_the_profile_uses_this_machines_calibration_and_says_which(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch)
    raw = load_profile(tiny).table
    assert "calibrated_by" not in raw.meta
    fp = machine.fingerprint()
    _stored(tmp_path, fp)
    table = load_profile(tiny).table
    assert table.meta["calibrated_by"] == {
        "fingerprint": fp, "created": "2026-12-02T10:00:00+00:00", "archs": 8,
        "file": str(tmp_path / "machine" / "calibrations" / f"tiny-cpu-{fp}.json")}
    assert table.calibration == {"scale": 2.0, "offset": 0.0, "archs": 8}
    genes = TINY.sample_genes(5, np.random.default_rng(0))
    compiled = table.compile(TINY)
    uncalibrated = table.compile(TINY, calibrated=False)
    assert (compiled.latency_genes(genes) > uncalibrated.latency_genes(genes)).all()


# ---------------------------------------------------------------------------- which profiles are checked
def _variant(tmp_path, pid, **overrides):
    d = profile_dict(id=pid, objectives=["latency_ms", "macs_m"], **overrides)
    return write_profile(tmp_path, d)


def test_why_a_profile_is_not_checked_here(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch)

    def refusal(path):
        with pytest.raises(ProfileError) as exc:
            calibration.calibrate_machine(path)
        prefix = f"profile {load_profile(path).id} cannot be calibrated on this machine: "
        assert str(exc.value).startswith(prefix)
        return str(exc.value)[len(prefix):]

    no_measurement = profile_dict(id="tiny-nomeasure", objectives=["latency_ms", "macs_m"])
    del no_measurement["measurement"]
    assert refusal(write_profile(tmp_path, no_measurement)) == "its table is for another device"
    assert refusal(_variant(tmp_path, "tiny-phone", device_class="mobile")) == "its table is for another device"
    measured = _variant(tmp_path, "tiny-measured", latency={"source": "measure"})
    assert refusal(measured) == "its latency does not come from a table measured with ofa2-zoo"

    trt = _variant(tmp_path, "tiny-trt", device_class="gpu",
                   measurement={"backend": "tensorrt", "warmup": 2, "repeats": 20, "rounds": 2})
    monkeypatch.setattr(measure_mod, "tensorrt_unavailable_reason", lambda: "no CUDA GPU is visible on this machine")
    assert refusal(trt) == "its table is for a GPU with TensorRT"

    for backend, module in [("onnxruntime", "onnxruntime"), ("torch", "torch"), ("litert", "ai_edge_litert")]:
        with monkeypatch.context() as mp:
            _missing_packages(mp, module)
            path = _variant(tmp_path, f"tiny-{backend}", measurement={"backend": backend, "warmup": 2, "repeats": 20})
            assert refusal(path) == f"backend {backend} is not installed here"


def test_a_tensorrt_table_is_checked_where_tensorrt_runs(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch)
    _missing_packages(monkeypatch, "tensorrt")  # what TensorRT needs is asked of tensorrt_unavailable_reason only
    monkeypatch.setattr(measure_mod, "tensorrt_unavailable_reason", lambda: None)
    trt = _variant(tmp_path, "tiny-trt", device_class="gpu",
                   measurement={"backend": "tensorrt", "warmup": 2, "repeats": 20, "rounds": 2})
    assert calibration.check_machine(trt).status == "same"
    assert calibration.check_machine(tiny).status == "same"
