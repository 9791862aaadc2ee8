"""``ofa2 profile build-lut``: measure every operator a space can produce into a table.

Operators are measured in chunks (timed interleaved, see :mod:`.measure`); after every chunk
the entries so far are saved atomically to ``<table>.partial``, so an interrupted build
resumes where it stopped (when the space, measurement settings and machine still match).
The finished table replaces the target in one rename.

An additive table misses what happens *between* operators (one inference call instead of
twenty, fused graph, warm caches). The optional calibration step measures random whole
networks and fits ``measured ≈ scale × table_sum + per_block × active_blocks + offset``
(least squares on relative error); it is stored in the table and folded into predictions.
The table also records this machine's CPU flags and canary (:mod:`.machine`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np

from .._io import write_json_atomic
from ..assets import cache_dir
from ..errors import Ofa2Error
from ..progress import ProgressFn
from .agreement import Agreement
from .loader import HardwareProfile, ProfileError, load_profile
from .machine import canary_record, machine_info, measure_canary
from .lut import FORMAT, LatencyTable, all_ops, write_table
from .measure import (BackendUnavailable, make_runner, measure_archs, measure_call_overhead,
                      op_input_shape, op_module, time_interleaved)

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
    """Same CPU, cores and runtimes (and CPU flags where both records have them)."""
    same = all(a.get(k) == b.get(k) for k in ("cpu", "cores", "onnxruntime", "torch", "gpu", "tensorrt",
                                               "ai_edge_litert"))
    return same and (a.get("flags") is None or b.get("flags") is None or a["flags"] == b["flags"])


def _resumable(partial: Path, header: dict) -> dict | None:
    """The partial table of an interrupted build, if it was measured the same way on this machine."""
    try:
        data = json.loads(partial.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    same = (data.get("format") == FORMAT and data.get("space") == header["space"]
            and data.get("measurement") == header["measurement"] and isinstance(data.get("entries"), dict)
            and isinstance(data.get("call_overhead"), dict)
            and _same_machine(data.get("machine", {}), header["machine"]))
    return data if same else None


def build_lut(profile: HardwareProfile | str, out: str | Path | None = None, *, resume: bool = True,
              calibration_archs: int = 0, seed: int = 0, progress: ProgressFn | None = None,
              chunk: int = 25, require_calibration: bool = True) -> Path:
    """Measure all operators of ``profile.space`` with ``profile.measurement``; return the table path.

    With ``require_calibration=False`` a failed calibration is recorded in the table
    (``calibration_error``) and the raw table is written instead of raising.

    Args:
        profile: The profile, by id or path or loaded.
        out: The table file (default: the profile's table path, else the cache).
        resume: Whether to continue an interrupted build measured the same way on this machine.
        calibration_archs: Whole networks measured to fit the table's calibration (0: none).
        seed: Seed of those networks.
        progress: Called with (operators done, operators, what was measured last); ``None`` for none.
        chunk: Operators timed interleaved together (and saved to the partial file after each chunk).
        require_calibration: Whether a failed calibration raises (else it is recorded in the table).
    """
    profile = load_profile(profile)
    m = profile.measurement
    if m is None:
        raise ProfileError(f"{profile.path}: field 'measurement': missing, so nothing says how to measure "
                           "(fix: add a measurement section with backend, threads, warmup, repeats)")
    out = Path(out) if out is not None else default_build_path(profile)
    partial = out.with_name(out.name + ".partial")
    space = profile.space
    header = {"space": space.name, "resolutions": list(space.resolutions), "profile": profile.id,
              "statistic": m.statistic, "measurement": m.model_dump(), "machine": machine_info()}
    previous = _resumable(partial, header) if resume else None
    if previous:
        entries, header["call_overhead"] = dict(previous["entries"]), previous["call_overhead"]
    else:
        entries, header["call_overhead"] = {}, measure_call_overhead(m).to_entry()
    ops = all_ops(space)
    entries = {k: v for k, v in entries.items() if k in ops}
    todo = [k for k in ops if k not in entries]
    if progress:
        progress("resumed" if entries else "start", len(entries), len(ops))
    for start in range(0, len(todo), chunk):
        keys = todo[start:start + chunk]
        runners = [make_runner(op_module(ops[k], space), op_input_shape(ops[k], m.batch_size), m) for k in keys]
        for key, t in zip(keys, time_interleaved(runners, m.warmup, m.repeats, m.rounds, m.min_seconds,
                                                      m.clock)):
            entries[key] = t.to_entry()
        del runners
        write_json_atomic(partial, {**header, "format": FORMAT, "unit": "ms", "entries": entries})
        if progress:
            progress(keys[-1], len(entries), len(ops))
    header["created"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    header["canary"] = canary_record(profile, measure_canary(profile))  # lets another machine tell it is not this one
    header["calibration"] = None
    if calibration_archs:
        table = LatencyTable({k: v[m.statistic] for k, v in entries.items()}, str(out),
                             {"statistic": m.statistic, "call_overhead": header["call_overhead"]})
        try:
            header["calibration"] = fit_calibration(profile, table, calibration_archs, seed)
        except Ofa2Error as exc:
            if require_calibration or isinstance(exc, BackendUnavailable):
                raise
            header["calibration_error"] = str(exc)
    write_table(out, header, entries)
    partial.unlink(missing_ok=True)
    profile.reload()
    return out


#: Calibration terms, in the order of the design matrix columns, and the models tried (richest first).
CALIBRATION_TERMS = ("scale", "per_mmac", "per_mweight", "per_block", "offset")
CALIBRATION_MODELS = (("scale", "per_mmac", "per_mweight", "per_block", "offset"),
                      ("scale", "per_mmac", "per_block", "offset"), ("scale", "per_block", "offset"),
                      ("scale", "offset"), ("scale",))


def calibration_features(table: LatencyTable, space, genes: np.ndarray) -> np.ndarray:
    """Per network: ``[sum(entry - overhead), MACs/1e6, weights/1e6, active blocks, 1]``, shape (N, 5)."""
    cols = []
    for term in CALIBRATION_TERMS[:-1]:
        unit = {t: 0.0 for t in CALIBRATION_TERMS}
        unit[term] = 1.0
        cols.append(table.with_calibration(unit).compile(space).latency_genes(genes))
    return np.stack(cols + [np.ones(len(genes))], axis=1)


def calibration_genes(space, n: int, rng: np.random.Generator) -> np.ndarray:
    """Networks spread over the whole latency range, not just its crowded middle.

    Uniform random genes give networks near the middle of the range, but a Pareto front
    lives at its ends. So: the smallest and largest network at the lowest and highest
    resolution, then networks of graded size (network i draws every kernel, expand and depth
    index from a binomial with mean ``q_i`` x its range, ``q_i`` evenly spaced in (0, 1)) at
    random resolutions.
    """
    rs = sorted({space.resolutions[0], space.resolutions[-1]})
    ends = [a for r in rs for a in (space.smallest(r), space.largest(r))][:n]
    m = n - len(ends)
    upper = space.gene_upper_bounds
    q = (np.arange(m) + 0.5) / max(m, 1)
    genes = rng.binomial(upper[None, :], q[:, None])
    genes[:, -1] = rng.integers(0, upper[-1] + 1, m)
    return np.concatenate([space.archs_to_genes(ends), space.canonicalize_genes(genes)])


def fit_calibration(profile: HardwareProfile, table: LatencyTable, n: int, seed: int = 0) -> dict:
    """Fit the table's calibration on ``n`` random whole networks measured here.

    The networks come from :func:`calibration_genes` and are measured in a shuffled order, so
    a change of the machine's speed during the measurement does not fall on the largest (or
    smallest) networks alone. The model (see :meth:`LatencyTable.compile`) is linear in
    per-operator terms: the table entries (``scale`` in [0.1, 10]), the operators' MACs and
    weights and a per-block term (all non-negative: more work never makes a network faster),
    and a free offset; bounded least squares on relative error.

    Which terms are used is chosen by leave-one-out cross-validation over the models of
    :data:`CALIBRATION_MODELS` that have at least 4 networks per parameter and keep every
    block entry and the smallest network positive: the *simplest* model whose leave-one-out
    error is within one standard error of the best one's (a richer model that only fits the
    measured networks better does not carry over to others). Its error is stored as
    ``cv_mape`` (percent). A calibration that does not even rank the measured networks is an
    error.
    """
    from scipy.optimize import lsq_linear

    if n < 8:
        raise Ofa2Error(f"calibration needs at least 8 networks (4 per fitted parameter), got {n}")
    space = profile.space
    rng = np.random.default_rng(seed + CALIBRATION_SEED_OFFSET)
    genes = calibration_genes(space, n, rng)
    features = calibration_features(table, space, genes)
    raw = table.with_calibration(None).compile(space).latency_genes(genes)
    order = rng.permutation(n)
    measured = np.empty(n)
    measured[order] = measure_archs(space.genes_to_archs(genes[order]), space, profile.measurement)
    smallest = space.archs_to_genes([space.smallest(r) for r in space.resolutions])

    def positive(compiled) -> bool:  # every entry and the smallest network at every resolution
        return compiled.blocks.min() > 0 and compiled.latency_genes(smallest).min() > 0

    def solve(model: tuple[str, ...], rows: np.ndarray) -> dict:
        cols = [CALIBRATION_TERMS.index(t) for t in model]
        lower = [{"scale": 0.1, "offset": -np.inf}.get(t, 0.0) for t in model]
        upper = [{"scale": 10.0}.get(t, np.inf) for t in model]
        fit = lsq_linear(features[rows][:, cols] / measured[rows, None], np.ones(len(rows)), bounds=(lower, upper))
        return {t: 0.0 for t in CALIBRATION_TERMS} | dict(zip(model, map(float, fit.x)))

    def loo_errors(model: tuple[str, ...]) -> np.ndarray:  # |relative error| of each network, fitted without it
        everyone = np.arange(n)
        out = np.empty(n)
        for j in range(n):
            cal = solve(model, np.delete(everyone, j))
            x = np.array([cal[t] for t in CALIBRATION_TERMS])
            out[j] = abs(features[j] @ x / measured[j] - 1)
        return out

    candidates = []  # (model, calibration, compiled table, leave-one-out errors), richest first
    for model in (m for m in CALIBRATION_MODELS if 4 * len(m) <= n):
        cal = solve(model, np.arange(n))
        compiled = table.with_calibration(cal).compile(space)
        if positive(compiled):
            candidates.append((model, cal, compiled, loo_errors(model)))
    if not candidates:  # reported below, on the simplest model
        model, cal = CALIBRATION_MODELS[-1], solve(CALIBRATION_MODELS[-1], np.arange(n))
        compiled, errors = table.with_calibration(cal).compile(space), np.full(n, np.nan)
    else:
        best = min(candidates, key=lambda c: c[3].mean())[3]
        limit = best.mean() + best.std(ddof=1) / np.sqrt(n) + 1e-9  # one standard error (and float noise)
        model, cal, compiled, errors = [c for c in candidates if c[3].mean() <= limit][-1]
    after = Agreement.of(compiled.latency_genes(genes), measured)
    if not after.kendall_tau > 0:
        raise Ofa2Error(f"calibration failed: the table does not rank {n} measured networks (Kendall τ "
                        f"{after.kendall_tau:.3f}); too noisy? measure more networks or use statistic: min")
    if not positive(compiled):
        raise Ofa2Error(f"calibration failed: every model fitted on {n} measured networks predicts a "
                        "non-positive latency somewhere; measure more (or larger) networks")
    return {"model": " + ".join(model), **cal, "archs": n, "seed": seed + CALIBRATION_SEED_OFFSET,
            "cv_mape": float(100 * errors.mean()), "before": Agreement.of(raw, measured).to_dict(),
            "after": after.to_dict()}


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
        path = build_lut(profile, calibration_archs=calibration_archs, progress=progress, require_calibration=False)
    except BackendUnavailable as exc:
        raise ProfileError(f"{profile.path}: the table is missing and cannot be measured here: {exc}") from None
    return path
