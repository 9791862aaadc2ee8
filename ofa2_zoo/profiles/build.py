"""``ofa2 profile build-lut``: measure every operator a space can produce into a table.

Progress is saved atomically to ``<table>.partial.json`` every few operators, so an
interrupted build resumes where it stopped; the finished table replaces the target in one
rename. An optional calibration step measures random whole networks and fits
``measured ≈ scale × table_sum + offset``, which captures per-call overheads and fusion
effects an additive table misses; it is stored in the table and applied to predictions.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Callable

import numpy as np

from .._io import write_json_atomic
from ..errors import Ofa2Error
from . import HardwareProfile
from .lut import FORMAT, LatencyTable, all_ops
from .measure import machine_info, measure_archs, measure_module, op_input_shape, op_module

ProgressFn = Callable[[int, int, str], None]


def default_table_path(profile: HardwareProfile) -> Path:
    t = profile.spec.latency.table
    if t is None or t.format != "ofa2-json":
        raise Ofa2Error(f"profile {profile.id} has no ofa2-json table to build (its latency source is "
                        f"{profile.spec.latency.source}{', ' + t.format if t else ''})")
    return (profile.path.parent / t.path).resolve()


def build_lut(profile: HardwareProfile, out: str | Path | None = None, *, resume: bool = True,
              calibration_archs: int = 0, seed: int = 0, progress: ProgressFn | None = None,
              save_every: int = 10) -> Path:
    """Measure all operators of ``profile.space`` with ``profile.measurement``; return the path."""
    m = profile.measurement
    if m is None:
        raise Ofa2Error(f"profile {profile.id} has no measurement section: nothing says how to measure")
    out = Path(out) if out is not None else default_table_path(profile)
    partial = out.with_name(out.name + ".partial.json")
    entries: dict[str, dict] = {}
    if resume and partial.is_file():
        data = json.loads(partial.read_text())
        if data.get("measurement") == m.model_dump() and data.get("space") == profile.space.name:
            entries = data["entries"]
    ops = all_ops(profile.space)
    header = {"format": FORMAT, "unit": "ms", "space": profile.space.name, "profile": profile.id,
              "measurement": m.model_dump(), "machine": machine_info()}
    todo = [k for k in ops if k not in entries]
    for i, key in enumerate(todo):
        op = ops[key]
        t = measure_module(op_module(op, profile.space), op_input_shape(op, m.batch_size), m)
        entries[key] = {"median": t.median_ms, "iqr": t.iqr_ms, "n": t.n}
        if progress:
            progress(len(entries), len(ops), key)
        if (i + 1) % save_every == 0:
            write_json_atomic(partial, {**header, "entries": entries})
    table = {**header, "created": _dt.date.today().isoformat(), "entries": dict(sorted(entries.items()))}
    if calibration_archs:
        table["calibration"] = fit_calibration(profile, LatencyTable(
            {k: v["median"] for k, v in entries.items()}, str(out)), calibration_archs, seed)
    write_json_atomic(out, table)
    partial.unlink(missing_ok=True)
    return out


def fit_calibration(profile: HardwareProfile, table: LatencyTable, n: int, seed: int) -> dict:
    """Least-squares ``measured = scale * predicted + offset`` over ``n`` random networks."""
    space = profile.space
    genes = space.sample_genes(n, np.random.default_rng(seed + 10_000))
    from .lut import network_latency

    t, fixed = table.compile(space)
    predicted = network_latency(t, fixed, space.decode(genes))
    measured = measure_archs(space.genes_to_archs(genes), space, profile.measurement)
    scale, offset = np.polyfit(predicted, measured, 1)
    return {"scale": float(scale), "offset": float(offset), "archs": n, "seed": seed + 10_000}
