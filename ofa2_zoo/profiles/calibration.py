"""Checking a latency table against this machine, and calibrating it here.

:func:`check_machine` times the table's canary here (:func:`.machine.canary_here`) and
compares it with the table's: more than :data:`CANARY_TOLERANCE` apart, or other CPU flags,
gives one warning naming the difference and the fix, ``ofa2 profile calibrate NAME``.
:func:`calibrate_machine` fits the table's calibration on networks measured here and stores
it per machine (never in the shipped table); the profile then uses it on this machine
(:func:`.machine.apply_machine_calibration`), and the check compares with the canary timed
when that calibration was fitted. :func:`stamp_table` stores a canary in a table measured
before canaries existed, and :func:`latency_attribution` says whose measurements and
calibration a profile's latencies come from.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import write_json_atomic
from ..progress import ProgressFn
from .loader import HardwareProfile, ProfileError, load_profile
from .lut import LatencyTable, is_canary
from .machine import (CALIBRATION_FORMAT, CANARY_TTL_S, _checkable, calibration_path, canary_here, canary_ops,
                      canary_record, cpu_flags, describe_machine, fingerprint, machine_calibration, machine_info,
                      measure_canary, remember_canary)

CANARY_TOLERANCE = 0.10  # relative difference of the canary totals that counts as another machine
CHECK_TARGET = 0.9  # share of the check networks within ±10 % below which calibrate warns


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
        when = [str(by.get("created") or "")[:10], f"{by['archs']} networks" if by.get("archs") else ""]
        when = ", ".join(w for w in when if w)
        return {"latency_by": f"{measured}, calibrated on machine {by['fingerprint']}" + (f" ({when})" if when else ""),
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
    warning: str | None = None  # set when the check networks agree less than CHECK_TARGET


def calibrate_machine(profile: HardwareProfile | str, n: int = 30, *, check: int = 10, seed: int = 1,
                      progress: ProgressFn | None = None) -> MachineCalibration:
    """Fit the profile's calibration on ``n`` networks measured here and store it for this machine.

    The shipped table is not touched. With ``check >= 2``, ``check`` *other* random networks are
    measured too and the table sum, the table's own calibration and the new one are compared on
    them (as ``ofa2 profile validate --calibrate`` does); with ``check=0`` the comparison is on
    the fitted networks themselves.

    Args:
        profile: The profile, by id or path or loaded.
        n: Networks measured here to fit the calibration.
        check: Other networks it is compared on (0: the fitted ones; never 1).
        seed: Seed of the networks.
        progress: Called with ("measuring", networks measured, networks in all); ``None`` for none.
    """
    from .build import fit_calibration
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
        _refuse_a_worse_calibration(profile, rows, check)
    else:
        cal = fit_calibration(profile, shipped, n, seed)
        rows = [("table sum", Agreement(**cal["before"])), ("this machine's calibration", Agreement(**cal["after"]))]
    fp = fingerprint()
    record = {"format": CALIBRATION_FORMAT, "profile": profile.id, "lut_sha256": profile.lut_sha256,
              "fingerprint": fp, "machine": machine_info(),
              "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
              "canary": remember_canary(profile, canary_record(profile, measure_canary(profile)), fp),
              "calibration": cal,
              "check": {"networks": check, "seed": seed,
                        "agreement": {label: a.to_dict() for label, a in rows}}}
    path = calibration_path(profile, fp)
    write_json_atomic(path, record)
    profile.reload()
    mine = rows[-1][1]
    warning = None
    if check and mine.within_10pct < CHECK_TARGET:
        warning = (f"only {mine.within_10pct:.0%} of the {check} check networks are within ±10 % of this machine's "
                   f"calibration (bias {mine.bias:+.1f} %): {_UNSTEADY}; it is stored, as it predicts them better "
                   f"than the table, but run `ofa2 profile calibrate {profile.id}` again when the machine is idle "
                   "(or with more networks, -n 60)")
    return MachineCalibration(path, fp, cal, rows, check, warning)


_UNSTEADY = ("the machine's speed probably changed while measuring (another process, a throttled or shared "
             "virtual machine), so the fitted networks and the check networks disagree")


def _refuse_a_worse_calibration(profile: HardwareProfile, rows: list[tuple[str, Any]], check: int) -> None:
    """Raise (storing nothing) when the new calibration misses the check target and predicts the check
    networks worse than the table does (its sum or its own calibration)."""
    (_, mine), others = rows[-1], rows[:-1]
    best_label, best = min(others, key=lambda row: row[1].mape)
    if mine.within_10pct < CHECK_TARGET and mine.mape > best.mape:
        raise ProfileError(f"the calibration fitted here predicts the {check} check networks worse than the "
                           f"{best_label} does (MAPE {mine.mape:.1f} % vs {best.mape:.1f} %), so it was not stored: "
                           f"{_UNSTEADY} (fix: run `ofa2 profile calibrate {profile.id}` again when the machine is "
                           "idle, or with more networks, -n 60)")


def stamp_table(profile: HardwareProfile | str, *, force: bool = False) -> tuple[Path, dict]:
    """Time the canary here and store it, with this machine's CPU flags, in the profile's table.

    For tables measured before canaries existed, on the machine that measured them: a
    canary timed on another machine would make every check compare with the wrong machine,
    so a table whose ``machine`` record differs from this machine is refused unless ``force``.
    The table's sha256 changes (re-pin it in the profile).
    """
    from .build import _same_machine
    from .lut import FORMAT, write_table

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
    canary = remember_canary(profile, canary_record(profile, measure_canary(profile)))
    entries = data.pop("entries")
    data.update(format=FORMAT, canary=canary, machine={**(data.get("machine") or {}), "flags": cpu_flags()})
    write_table(path, data, entries)
    profile.reload()
    return path, canary
