"""``ofa2 profile build-lut``: measure every operator a space can produce into a table.

Operators are measured in chunks (timed interleaved, see :mod:`.measure`); after every chunk
the entries so far are saved atomically to ``<table>.partial``, so an interrupted build
resumes where it stopped (when the space, measurement settings and machine still match).
The finished table replaces the target in one rename.

An additive table misses what happens *between* operators (one inference call instead of
twenty, fused graph, warm caches). The optional calibration step measures random whole
networks and fits ``measured ≈ scale × table_sum + per_block × active_blocks + offset``
(least squares on relative error); it is stored in the table and folded into predictions.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .._io import write_json_atomic
from ..assets import cache_dir
from ..errors import Ofa2Error
from .loader import HardwareProfile, ProfileError, load_profile
from .lut import FORMAT, LatencyTable, all_ops, write_table
from .measure import (BackendUnavailable, machine_info, make_runner, measure_archs, op_input_shape, op_module,
                      time_interleaved)

ProgressFn = Callable[[int, int, str], None]
CALIBRATION_SEED_OFFSET = 10_000  # calibration networks never coincide with validation networks (same seed)


def default_build_path(profile: HardwareProfile) -> Path:
    """The profile's table path when its folder is writable, else the cache (installed packages)."""
    profile.table_path()  # raises for profiles without an ofa2-json table
    rel = Path(profile.spec.latency.table.path)
    beside = (profile.path.parent / rel).resolve()
    return beside if _writable(beside.parent) else cache_dir() / "luts" / profile.id / rel.name


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK)


def _same_machine(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("cpu", "cores", "onnxruntime", "torch", "gpu", "tensorrt"))


def _resumable_entries(partial: Path, header: dict) -> dict[str, dict]:
    try:
        data = json.loads(partial.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    same = (data.get("format") == FORMAT and data.get("space") == header["space"]
            and data.get("measurement") == header["measurement"]
            and _same_machine(data.get("machine", {}), header["machine"]))
    return dict(data.get("entries", {})) if same else {}


def build_lut(profile: HardwareProfile | str, out: str | Path | None = None, *, resume: bool = True,
              calibration_archs: int = 0, seed: int = 0, progress: ProgressFn | None = None,
              chunk: int = 25) -> Path:
    """Measure all operators of ``profile.space`` with ``profile.measurement``; return the table path."""
    profile = load_profile(profile)
    m = profile.measurement
    if m is None:
        raise ProfileError(f"{profile.path}: field 'measurement': missing, so nothing says how to measure "
                           "(fix: add a measurement section with backend, threads, warmup, repeats)")
    out = Path(out) if out is not None else default_build_path(profile)
    partial = out.with_name(out.name + ".partial")
    space = profile.space
    header = {"space": space.name, "resolutions": list(space.resolutions), "profile": profile.id,
              "measurement": m.model_dump(), "machine": machine_info()}
    entries = _resumable_entries(partial, header) if resume else {}
    ops = all_ops(space)
    entries = {k: v for k, v in entries.items() if k in ops}
    todo = [k for k in ops if k not in entries]
    if progress:
        progress(len(entries), len(ops), "resumed" if entries else "start")
    for start in range(0, len(todo), chunk):
        keys = todo[start:start + chunk]
        runners = [make_runner(op_module(ops[k], space), op_input_shape(ops[k], m.batch_size), m) for k in keys]
        for key, t in zip(keys, time_interleaved(runners, m.warmup, m.repeats, m.rounds)):
            entries[key] = {"median": t.median_ms, "iqr": t.iqr_ms, "n": t.n}
        del runners
        write_json_atomic(partial, {**header, "format": FORMAT, "unit": "ms", "entries": entries})
        if progress:
            progress(len(entries), len(ops), keys[-1])
    header["created"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    header["calibration"] = None
    if calibration_archs:
        table = LatencyTable({k: v["median"] for k, v in entries.items()}, str(out))
        header["calibration"] = fit_calibration(profile, table, calibration_archs, seed)
    write_table(out, header, entries)
    partial.unlink(missing_ok=True)
    profile.reload()
    return out


def fit_calibration(profile: HardwareProfile, table: LatencyTable, n: int, seed: int = 0) -> dict:
    """Fit ``measured = scale*sum + per_block*active_blocks + offset`` on ``n`` random whole networks."""
    from .validate import Agreement

    if n < 4:
        raise Ofa2Error(f"calibration needs at least 4 networks (3 parameters), got {n}")
    space = profile.space
    genes = space.sample_genes(n, np.random.default_rng(seed + CALIBRATION_SEED_OFFSET))
    raw = table.compile(space, calibrated=False).latency_genes(genes)
    n_blocks = space.decode(genes)["active"].sum(axis=1).astype(float)
    measured = measure_archs(space.genes_to_archs(genes), space, profile.measurement)
    design = np.stack([raw, n_blocks, np.ones_like(raw)], axis=1)
    (scale, per_block, offset), *_ = np.linalg.lstsq(design / measured[:, None], np.ones_like(measured), rcond=None)
    fitted = design @ np.array([scale, per_block, offset])
    return {"model": "scale*sum + per_block*active_blocks + offset", "scale": float(scale),
            "per_block": float(per_block), "offset": float(offset), "archs": n,
            "seed": seed + CALIBRATION_SEED_OFFSET,
            "before": Agreement.of(raw, measured).to_dict(), "after": Agreement.of(fitted, measured).to_dict()}


def ensure_lut(profile: HardwareProfile | str, progress: ProgressFn | None = None,
               calibration_archs: int = 30) -> Path | None:
    """Make sure a lookup-table profile has its table, building it here if it is missing.

    Returns the table path (``None`` for profiles that measure every network). A missing
    table that the profile pins by sha256 is not rebuilt (a rebuild could never match the
    pin): reinstall or restore it. Used by ``ofa2 run`` for the default profile, whose
    small space measures in seconds.
    """
    profile = load_profile(profile)
    t = profile.spec.latency.table
    if profile.latency_source != "lut":
        return None
    if t.format == "ofa-yaml" or profile.table_path().is_file() or t.sha256:
        return profile.table_files()[0]
    if profile.measurement is None:
        profile.table_files()  # raises the missing-file error with its fix
    try:
        path = build_lut(profile, calibration_archs=calibration_archs, progress=progress)
    except BackendUnavailable as exc:
        raise ProfileError(f"{profile.path}: the table is missing and cannot be measured here: {exc}") from None
    return path
