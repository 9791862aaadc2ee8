"""Which machine a latency table belongs to, and what is stored for this machine.

A table measured on one machine predicts another machine's latencies badly even when both
report the same CPU name (virtual machines hide the model): the ranking travels, the
milliseconds do not. So a measured table records

- the CPU flags of the machine (``machine.flags``; AVX-512, VNNI, ...), and
- a *canary*: the measured latency of a few small reference networks of the table's space
  (three single-operator graphs: the stem, the largest first elastic block and the head
  expansion at the largest resolution), timed exactly like the table's entries (same backend,
  threads, warmup, repeats, rounds, clock and statistic; only ``min_seconds`` is capped at
  :data:`CANARY_MAX_SECONDS` so the canary takes about a second).

This module knows the machine (:func:`machine_identity`, :func:`fingerprint`,
:func:`machine_info`), times the canary here (:func:`canary_here`, cached per machine
fingerprint for :data:`CANARY_TTL_S`) and reads this machine's stored calibration of a table
(:func:`machine_calibration`), which the profile applies on this machine
(:func:`apply_machine_calibration`). Checking a table against this machine and fitting its
calibration here are in :mod:`.calibration`.

Everything per machine lives in :func:`machine_dir` (``$OFA2_MACHINE_DIR``, else
``<cache>/machine``): ``canary.json`` and ``calibrations/<profile>-<fingerprint>.json``.
``$OFA2_MACHINE_CHECK=0`` turns the check off (scripts, CI).

A ``profile`` below is a loaded :class:`~ofa2_zoo.profiles.loader.HardwareProfile` (not
imported here: the loader imports this module to apply the calibration).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from .. import constants
from .._io import digest, write_json_atomic
from ..assets import cache_dir
from .lut import LatencyTable, Op, _is_number, block_ops, fixed_ops, is_canary

CANARY_TTL_S = 24 * 3600  # a timed canary is reused this long on the same machine
CANARY_MAX_SECONDS = 0.3  # cap on measurement.min_seconds for the canary (the canary stays ~1 s)
CALIBRATION_FORMAT = "ofa2-machine-calibration/1"
_FLAG_LINES = ("flags", "features")  # x86 /proc/cpuinfo says flags, ARM says Features


def machine_dir() -> Path:
    """Where per-machine data lives: ``$OFA2_MACHINE_DIR``, else ``<cache>/machine``."""
    return constants.machine_dir() or cache_dir() / "machine"


def check_enabled() -> bool:
    """False when ``$OFA2_MACHINE_CHECK`` is ``0``/``off``/``false``/``no``."""
    return constants.machine_check()


# ---------------------------------------------------------------------------- the machine
def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> list[str]:
    """The CPU's feature flags, sorted (``/proc/cpuinfo`` on Linux, else py-cpuinfo when installed)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in _FLAG_LINES:
                    return sorted(set(value.split()))
    except OSError:
        pass
    try:
        import cpuinfo as _cpuinfo  # py-cpuinfo, optional
    except ImportError:
        return []
    return sorted(set(_cpuinfo.get_cpu_info().get("flags", [])))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(*packages: str) -> str | None:
    """The version of the first of ``packages`` (distribution names) that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    for package in packages:
        try:
            return version(package)
        except PackageNotFoundError:
            pass
    return None


#: The distributions that install the ``onnxruntime`` module (CPU, CUDA, OpenVINO, DirectML builds).
ONNXRUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")


def machine_identity() -> dict[str, Any]:
    """What the fingerprint is made of (read without importing torch or onnxruntime)."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "arch": platform.machine(), "system": platform.system(),
            "flags": cpu_flags(), "onnxruntime": _version(*ONNXRUNTIME_DISTRIBUTIONS), "torch": _version("torch")}


def fingerprint(identity: dict | None = None) -> str:
    """A short id of this machine and its runtimes (16 hex digits)."""
    ident = machine_identity() if identity is None else identity
    return digest(ident, 16)


def describe_machine(machine: dict | None) -> str:
    """``AMD EPYC, 2 cores`` from a table's ``machine`` record."""
    if not machine:
        return "an unrecorded machine"
    cores = machine.get("cores")
    return f"{machine.get('cpu') or 'unknown CPU'}" + (f", {cores} core{'s' if cores != 1 else ''}" if cores else "")


_BACKEND_MODULES = {"onnxruntime": ("onnxruntime", "torch"), "torch": ("torch",),
                    "litert": ("litert_torch", "ai_edge_litert", "torch"), "tensorrt": ("tensorrt", "torch")}


def _backend_missing(backend: str) -> str | None:
    """The Python package a measurement backend lacks here (found without importing it), or None."""
    import importlib.util

    for module in _BACKEND_MODULES[backend]:
        if importlib.util.find_spec(module) is None:
            return f"no {module} package here"
    return None


def machine_info() -> dict:
    """What a measured table or report was measured on."""
    import onnxruntime
    import torch

    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "flags": cpu_flags(), "os": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import tensorrt

        info["tensorrt"] = tensorrt.__version__
    except ImportError:
        pass
    from importlib import metadata

    try:  # the LiteRT backend's interpreter, where it is installed
        info["ai_edge_litert"] = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        pass
    return info


# ---------------------------------------------------------------------------- the canary
def canary_ops(space) -> list[Op]:
    """The canary's reference networks: stem, largest first elastic block and head expansion at the
    largest resolution (single-operator graphs, like the table's entries)."""
    r = space.resolutions[-1]
    fixed = {op.kind: op for op in fixed_ops(space, r)}
    nk, ne = len(space.ks_choices) - 1, len(space.expand_choices) - 1
    block = next(op for b, ki, ei, op in block_ops(space, r) if ki == nk and ei == ne)
    return [fixed["Conv"], block, fixed["Conv_1"]]


def _canary_settings(profile) -> dict:
    m = profile.measurement.model_dump()
    m["min_seconds"] = min(m["min_seconds"], CANARY_MAX_SECONDS)
    return m


def measure_canary(profile) -> dict[str, float]:
    """Time the canary's networks here: ``{operator key: ms}`` (the measurement's statistic)."""
    from .measure import make_runner, op_input_shape, op_module, time_interleaved
    from .schema import Measurement

    m = Measurement.model_validate(_canary_settings(profile))
    ops = canary_ops(profile.space)
    runners = [make_runner(op_module(op, profile.space), op_input_shape(op, m.batch_size), m) for op in ops]
    timings = time_interleaved(runners, m.warmup, m.repeats, m.rounds, m.min_seconds, m.clock)
    return {op.key: t.value(m.statistic) for op, t in zip(ops, timings)}


def canary_record(profile, ms: dict[str, float]) -> dict:
    """What a table (or a machine calibration) stores: the canary's times and how they were timed."""
    return {"ms": {k: float(v) for k, v in ms.items()}, "total_ms": float(sum(ms.values())),
            "measurement": _canary_settings(profile)}


def _canary_key(profile) -> str:
    ident = {"ops": [op.key for op in canary_ops(profile.space)], "measurement": _canary_settings(profile)}
    return digest(ident, 16)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def canary_here(profile, fp: str | None = None, *, ttl: float = CANARY_TTL_S,
                now: float | None = None) -> dict:
    """This machine's canary record for ``profile``, timed now or reused from the cache (``ttl`` s)."""
    fp = fp or fingerprint()
    now = time.time() if now is None else now
    path = machine_dir() / "canary.json"
    cache = _read_json(path)
    cache = cache if isinstance(cache, dict) and isinstance(cache.get(fp), dict) else \
        ({**cache, fp: {}} if isinstance(cache, dict) else {fp: {}})
    key = _canary_key(profile)
    hit = cache[fp].get(key)
    if isinstance(hit, dict) and _is_number(hit.get("timed_at")) and 0 <= now - hit["timed_at"] < ttl \
            and is_canary(hit.get("canary")):
        return hit["canary"]
    return remember_canary(profile, canary_record(profile, measure_canary(profile)), fp, now=now)


def remember_canary(profile, record: dict, fp: str | None = None, *, now: float | None = None) -> dict:
    """Keep ``record``, this machine's canary for ``profile`` timed just now, as :func:`canary_here`'s
    answer for the next :data:`CANARY_TTL_S` (a calibration stores the canary it timed, so the check
    right after it compares with the same timing). Returns ``record``."""
    fp = fp or fingerprint()
    path = machine_dir() / "canary.json"
    cache = _read_json(path)
    cache = cache if isinstance(cache, dict) and isinstance(cache.get(fp), dict) else \
        ({**cache, fp: {}} if isinstance(cache, dict) else {fp: {}})
    cache[fp][_canary_key(profile)] = {"timed_at": time.time() if now is None else now, "profile": profile.id,
                                       "canary": record}
    try:
        write_json_atomic(path, cache)
    except OSError:
        pass  # a read-only cache only costs re-timing next time
    return record


# ---------------------------------------------------------------------------- per-machine calibration
def calibration_path(profile, fp: str | None = None) -> Path:
    return machine_dir() / "calibrations" / f"{profile.id}-{fp or fingerprint()}.json"


def machine_calibration(profile, fp: str | None = None) -> dict | None:
    """This machine's stored calibration of ``profile``'s table, or ``None``.

    One fitted for another table (its ``lut_sha256`` differs: the table was rebuilt), or that
    is unreadable or malformed, is ignored (the check then warns again, and calibrating anew
    replaces it).
    """
    path = calibration_path(profile, fp)
    if not path.is_file():
        return None
    data = _read_json(path)
    cal = data.get("calibration") if isinstance(data, dict) else None
    if not (isinstance(data, dict) and data.get("format") == CALIBRATION_FORMAT and data.get("profile") == profile.id
            and isinstance(cal, dict) and all(_is_number(cal.get(k)) for k in ("scale", "offset"))
            and all(_is_number(cal.get(k, 0.0)) for k in ("per_mmac", "per_mweight", "per_block"))
            and is_canary(data.get("canary"))):
        return None
    if data.get("lut_sha256") != profile.lut_sha256:
        return None
    return data


def _checkable(profile) -> str | None:
    """Why ``profile``'s table is not checked against this machine (``None``: it is)."""
    t = profile.spec.latency.table
    if profile.latency_source != "lut" or t is None or t.format != "ofa2-json":
        return "its latency does not come from a table measured with ofa2-zoo"
    m = profile.measurement
    if m is None or profile.device_class == "mobile":
        return "its table is for another device"
    if m.backend == "tensorrt":
        from .measure import tensorrt_unavailable_reason

        if tensorrt_unavailable_reason():
            return "its table is for a GPU with TensorRT"
    elif _backend_missing(m.backend):
        return f"backend {m.backend} is not installed here"
    return None


def apply_machine_calibration(profile, table: LatencyTable) -> LatencyTable:
    """``table`` with this machine's calibration when one is stored (see :func:`calibrate_machine`)."""
    if _checkable(profile) is not None:
        return table
    fp = fingerprint()
    stored = machine_calibration(profile, fp)
    if stored is None:
        return table
    out = table.with_calibration(stored["calibration"])
    out.meta["calibrated_by"] = {"fingerprint": fp, "created": stored.get("created"),
                                 "archs": stored["calibration"].get("archs"), "file": str(calibration_path(profile, fp))}
    return out
