"""Which machine a latency table belongs to, and this machine's own calibration of it.

A table measured on one machine predicts another machine's latencies badly even when both
report the same CPU name (virtual machines hide the model): the ranking travels, the
milliseconds do not. So a measured table records

- the CPU flags of the machine (``machine.flags``; AVX-512, VNNI, ...), and
- a *canary*: the measured latency of a few small reference networks of the table's space
  (three single-operator graphs: the stem, the largest first elastic block and the head
  expansion at the largest resolution), timed exactly like the table's entries (same backend,
  threads, warmup, repeats, rounds, clock and statistic; only ``min_seconds`` is capped at
  :data:`CANARY_MAX_SECONDS` so the canary takes about a second).

:func:`check_machine` times the canary here (cached per machine fingerprint for
:data:`CANARY_TTL_S`) and compares it with the table's: more than :data:`CANARY_TOLERANCE`
apart, or other CPU flags, gives one warning naming the difference and the fix,
``ofa2 profile calibrate NAME``. :func:`calibrate_machine` fits the table's calibration on
networks measured here and stores it per machine (never in the shipped table); the profile
then uses it on this machine (:func:`apply_machine_calibration`), and the check compares
with the canary timed when that calibration was fitted.

Everything per machine lives in :func:`machine_dir` (``$OFA2_MACHINE_DIR``, else
``<cache>/machine``): ``canary.json`` and ``calibrations/<profile>-<fingerprint>.json``.
``$OFA2_MACHINE_CHECK=0`` turns the check off (scripts, CI).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import constants
from .._io import write_json_atomic
from ..progress import ProgressFn
from ..assets import cache_dir
from .loader import HardwareProfile, ProfileError, _backend_missing, load_profile
from .lut import LatencyTable, Op, _is_number, block_ops, fixed_ops, is_canary

CANARY_TTL_S = 24 * 3600  # a timed canary is reused this long on the same machine
CANARY_TOLERANCE = 0.10  # relative difference of the canary totals that counts as another machine
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


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine_identity() -> dict[str, Any]:
    """What the fingerprint is made of (read without importing torch or onnxruntime)."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "arch": platform.machine(), "system": platform.system(),
            "flags": cpu_flags(), "onnxruntime": _version("onnxruntime"), "torch": _version("torch")}


def fingerprint(identity: dict | None = None) -> str:
    """A short id of this machine and its runtimes (16 hex digits)."""
    ident = machine_identity() if identity is None else identity
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def describe_machine(machine: dict | None) -> str:
    """``AMD EPYC, 2 cores`` from a table's ``machine`` record."""
    if not machine:
        return "an unrecorded machine"
    cores = machine.get("cores")
    return f"{machine.get('cpu') or 'unknown CPU'}" + (f", {cores} cores" if cores else "")


# ---------------------------------------------------------------------------- the canary
def canary_ops(space) -> list[Op]:
    """The canary's reference networks: stem, largest first elastic block and head expansion at the
    largest resolution (single-operator graphs, like the table's entries)."""
    r = space.resolutions[-1]
    fixed = {op.kind: op for op in fixed_ops(space, r)}
    nk, ne = len(space.ks_choices) - 1, len(space.expand_choices) - 1
    block = next(op for b, ki, ei, op in block_ops(space, r) if ki == nk and ei == ne)
    return [fixed["Conv"], block, fixed["Conv_1"]]


def _canary_settings(profile: HardwareProfile) -> dict:
    m = profile.measurement.model_dump()
    m["min_seconds"] = min(m["min_seconds"], CANARY_MAX_SECONDS)
    return m


def measure_canary(profile: HardwareProfile) -> dict[str, float]:
    """Time the canary's networks here: ``{operator key: ms}`` (the measurement's statistic)."""
    from .measure import make_runner, op_input_shape, op_module, time_interleaved
    from .schema import Measurement

    m = Measurement.model_validate(_canary_settings(profile))
    ops = canary_ops(profile.space)
    runners = [make_runner(op_module(op, profile.space), op_input_shape(op, m.batch_size), m) for op in ops]
    timings = time_interleaved(runners, m.warmup, m.repeats, m.rounds, m.min_seconds, m.clock)
    return {op.key: t.value(m.statistic) for op, t in zip(ops, timings)}


def canary_record(profile: HardwareProfile, ms: dict[str, float]) -> dict:
    """What a table (or a machine calibration) stores: the canary's times and how they were timed."""
    return {"ms": {k: float(v) for k, v in ms.items()}, "total_ms": float(sum(ms.values())),
            "measurement": _canary_settings(profile)}


def _canary_key(profile: HardwareProfile) -> str:
    ident = {"ops": [op.key for op in canary_ops(profile.space)], "measurement": _canary_settings(profile)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def canary_here(profile: HardwareProfile, fp: str | None = None, *, ttl: float = CANARY_TTL_S,
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
    record = canary_record(profile, measure_canary(profile))
    cache[fp][key] = {"timed_at": now, "profile": profile.id, "canary": record}
    try:
        write_json_atomic(path, cache)
    except OSError:
        pass  # a read-only cache only costs re-timing next time
    return record


# ---------------------------------------------------------------------------- per-machine calibration
def calibration_path(profile: HardwareProfile, fp: str | None = None) -> Path:
    return machine_dir() / "calibrations" / f"{profile.id}-{fp or fingerprint()}.json"


def machine_calibration(profile: HardwareProfile, fp: str | None = None) -> dict | None:
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


def _checkable(profile: HardwareProfile) -> str | None:
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


def apply_machine_calibration(profile: HardwareProfile, table: LatencyTable) -> LatencyTable:
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


def latency_attribution(profile: HardwareProfile) -> dict[str, str | None]:
    """Which machine's measurements and calibration produced the profile's latency figures.

    ``latency_by`` (a sentence for cards and the explorer) and ``latency_calibration``
    (``table``, ``machine:<fingerprint>`` or ``None`` for a raw or OFA table / per-network
    measurement).
    """
    if profile.latency_source == "measure":
        return {"latency_by": "measured network by network on the machine that ran the search",
                "latency_calibration": None}
    t = profile.spec.latency.table
    if t.format == "ofa-yaml":
        return {"latency_by": f"OFA's published lookup table ({t.asset_prefix})", "latency_calibration": None}
    table = profile.table
    where = describe_machine(table.meta.get("machine"))
    created = str(table.meta.get("created") or "")[:10]
    measured = f"the table measured on {where}" + (f" ({created})" if created else "")
    by = table.meta.get("calibrated_by")
    if by:
        return {"latency_by": f"{measured}, calibrated on machine {by['fingerprint']} "
                              f"({str(by.get('created') or '')[:10]}, {by.get('archs')} networks)",
                "latency_calibration": f"machine:{by['fingerprint']}"}
    if table.calibration:
        return {"latency_by": f"{measured}, with its calibration from that machine", "latency_calibration": "table"}
    return {"latency_by": f"{measured} (uncalibrated sum)", "latency_calibration": None}


# ---------------------------------------------------------------------------- the check
@dataclass
class MachineCheck:
    """Result of :func:`check_machine`: ``status`` is ``same``, ``differs``, ``unknown`` or ``skipped``."""

    profile: str
    status: str
    message: str | None = None  # the one line to print (a warning for differs, a note for unknown)
    ratio: float | None = None  # canary here / reference
    flags_missing: list[str] = field(default_factory=list)  # the reference machine's flags this one lacks
    flags_extra: list[str] = field(default_factory=list)
    reference: str | None = None  # "table" or "machine:<fingerprint>"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _flag_text(missing: list[str], extra: list[str]) -> str:
    def few(xs: list[str]) -> str:
        return ", ".join(xs[:5]) + (f" and {len(xs) - 5} more" if len(xs) > 5 else "")

    parts = ([f"this machine lacks {few(missing)}"] if missing else []) + ([f"has {few(extra)} besides"] if extra
                                                                           else [])
    return "the CPU flags differ (" + "; ".join(parts) + ")"


def check_machine(profile: HardwareProfile | str, *, ttl: float = CANARY_TTL_S) -> MachineCheck:
    """Compare this machine with the one whose measurements the profile's latencies use."""
    profile = load_profile(profile)
    why = _checkable(profile)
    if why:
        return MachineCheck(profile.id, "skipped", None)
    fix = f"ofa2 profile calibrate {profile.id}"
    table = profile.table
    by = table.meta.get("calibrated_by")
    if by:
        stored = machine_calibration(profile, by["fingerprint"]) or {}
        ref_canary, ref_flags = stored.get("canary"), (stored.get("machine") or {}).get("flags")
        ref_name, what = f"machine:{by['fingerprint']}", "this machine's calibration"
    else:
        ref_canary, ref_flags = table.meta.get("canary"), (table.meta.get("machine") or {}).get("flags")
        ref_name = "table"
        what = f"profile {profile.id}'s latency table (measured on {describe_machine(table.meta.get('machine'))})"
    if not is_canary(ref_canary) or set(ref_canary["ms"]) != {op.key for op in canary_ops(profile.space)}:
        return MachineCheck(profile.id, "unknown", f"{what} records no canary of this version, so whether it was "
                            "measured on a machine like this one is unknown; its latencies may be off here "
                            f"(check: ofa2 profile validate {profile.id} -n 20; fix: {fix})", reference=ref_name)
    here_flags = set(cpu_flags())
    missing = sorted(set(ref_flags) - here_flags) if isinstance(ref_flags, list) else []
    extra = sorted(here_flags - set(ref_flags)) if isinstance(ref_flags, list) else []
    here = canary_here(profile, ttl=ttl)
    ref_total = sum(ref_canary["ms"].values())
    here_total = sum(here["ms"][k] for k in ref_canary["ms"] if k in here["ms"])
    ratio = here_total / ref_total
    problems = []
    if round(abs(ratio - 1), 9) > CANARY_TOLERANCE:  # rounded: 3.3 / 3.0 is 10 %, not 10.000000000000009 %
        problems.append(f"its canary runs {abs(ratio - 1):.0%} {'slower' if ratio > 1 else 'faster'} here "
                        f"({here_total:.3f} ms vs {ref_total:.3f} ms)")
    if missing or extra:
        problems.append(_flag_text(missing, extra))
    if not problems:
        return MachineCheck(profile.id, "same", None, ratio, reference=ref_name)
    msg = (f"{what} does not fit this machine: {' and '.join(problems)}, so its latencies are likely off here "
           f"(fix: {fix}, about a minute)")
    return MachineCheck(profile.id, "differs", msg, ratio, missing, extra, ref_name)


# ---------------------------------------------------------------------------- calibrate
@dataclass
class MachineCalibration:
    """What :func:`calibrate_machine` fitted and stored, with the agreement before and after."""

    path: Path
    fingerprint: str
    calibration: dict
    rows: list[tuple[str, Any]]  # (label, Agreement) on the check networks (or the fit networks, in-sample)
    check_networks: int


def calibrate_machine(profile: HardwareProfile | str, n: int = 30, *, check: int = 10, seed: int = 1,
                      progress: ProgressFn | None = None) -> MachineCalibration:
    """Fit the profile's calibration on ``n`` networks measured here and store it for this machine.

    The shipped table is not touched. With ``check >= 2``, ``check`` *other* random networks are
    measured too and the table sum, the table's own calibration and the new one are compared on
    them (as ``ofa2 profile validate --calibrate`` does); with ``check=0`` the comparison is on
    the fitted networks themselves.
    """
    from .build import fit_calibration
    from .measure import machine_info
    from .agreement import Agreement
    from .validate import validate_profile

    profile = load_profile(profile)
    why = _checkable(profile)
    if why:
        raise ProfileError(f"profile {profile.id} cannot be calibrated on this machine: {why}")
    if check == 1:
        raise ProfileError("--check needs 0 (compare on the fitted networks) or at least 2 networks")
    shipped = LatencyTable.from_json(profile.table_files()[0])
    if check:
        report = validate_profile(profile, check, seed, calibrate=n, extremes=False, progress=progress,
                                  table=shipped)
        cal, measured = report.calibration, report.measured
        rows = [("table sum", report.raw)]
        if shipped.calibration:
            own = shipped.compile(profile.space).latency_genes(
                profile.space.archs_to_genes(report.archs))
            rows.append(("table's calibration (its machine)", Agreement.of(own, measured)))
        rows.append(("this machine's calibration", report.calibrated))
    else:
        cal = fit_calibration(profile, shipped, n, seed)
        rows = [("table sum", Agreement(**cal["before"])), ("this machine's calibration", Agreement(**cal["after"]))]
    fp = fingerprint()
    record = {"format": CALIBRATION_FORMAT, "profile": profile.id, "lut_sha256": profile.lut_sha256,
              "fingerprint": fp, "machine": machine_info(),
              "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
              "canary": canary_record(profile, measure_canary(profile)), "calibration": cal,
              "check": {"networks": check, "seed": seed,
                        "agreement": {label: a.to_dict() for label, a in rows}}}
    path = calibration_path(profile, fp)
    write_json_atomic(path, record)
    profile.reload()
    return MachineCalibration(path, fp, cal, rows, check)


def stamp_table(profile: HardwareProfile | str, *, force: bool = False) -> tuple[Path, dict]:
    """Time the canary here and store it, with this machine's CPU flags, in the profile's table.

    For tables measured before canaries existed, on the machine that measured them: a
    canary timed on another machine would make every check compare with the wrong machine,
    so a table whose ``machine`` record differs from this machine is refused unless ``force``.
    The table's sha256 changes (re-pin it in the profile).
    """
    from .build import _same_machine
    from .lut import FORMAT, write_table
    from .measure import machine_info

    profile = load_profile(profile)
    why = _checkable(profile)
    if why:
        raise ProfileError(f"profile {profile.id} cannot be timed on this machine: {why}")
    path = profile.table_files()[0]
    data = json.loads(path.read_text(encoding="utf-8"))
    here = machine_info()
    if not force and not _same_machine(data.get("machine") or {}, here):
        raise ProfileError(f"{path} was measured on {describe_machine(data.get('machine'))}, not on this machine "
                           f"({describe_machine(here)}) with the same runtimes; a canary must be timed where the "
                           "table was measured (fix: run this there, or rebuild the table here: ofa2 profile "
                           f"build-lut {profile.id})")
    canary = canary_record(profile, measure_canary(profile))
    entries = data.pop("entries")
    data.update(format=FORMAT, canary=canary, machine={**(data.get("machine") or {}), "flags": cpu_flags()})
    write_table(path, data, entries)
    profile.reload()
    return path, canary
