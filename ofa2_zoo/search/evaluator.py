"""Objective values for whole populations: sources, units, cache and executors.

Every objective has a *source*: the profile's latency (lookup table or measurement), an
accuracy source (predicted or measured) or the analytic MACs/params. Values are computed on
canonical gene matrices and cached per (arch, source); only archs missing from the cache are
computed. Cheap sources run as one vectorised call; expensive ones (measured latency or
accuracy) are cut into fixed-size chunks of the sorted missing archs and handed to the
executor, so the chunks — and the results — are the same whichever executor runs them.

Expensive sources are always cached. Cheap ones (lookup tables, OFA's predictor at ~10⁵
archs/s, analytic counts) cost less to recompute than to look up, so they are cached only
when the caller passes a cache to share (between profiles, runs or processes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .._io import digest
from ..errors import ObjectiveError
from ..objectives.base import AccuracySource
from ..objectives.efficiency import efficiency_model
from ..profiles import HardwareProfile
from .cache import ObjectiveCache, arch_keys
from .executor import Executor

#: objective -> (unit, sign, offset): minimised value = sign * value + offset
#: (top-1 is maximised: the search minimises the error 100 - top1).
OBJECTIVES: dict[str, tuple[str, float, float]] = {
    "latency_ms": ("ms", 1.0, 0.0),
    "top1": ("%", -1.0, 100.0),
    "macs_m": ("M", 1.0, 0.0),
    "params_m": ("M", 1.0, 0.0),
}


def to_minimised(name: str, values) -> np.ndarray:
    _, sign, offset = OBJECTIVES[name]
    return sign * np.asarray(values, dtype=float) + offset


def from_minimised(name: str, values) -> np.ndarray:
    _, sign, offset = OBJECTIVES[name]
    return (np.asarray(values, dtype=float) - offset) * sign


@dataclass(frozen=True)
class ObjectiveSource:
    """How one objective is computed: a pure function of a gene matrix, and its cache namespace."""

    name: str
    namespace: str
    fn: Callable[[np.ndarray], np.ndarray]
    kind: str  # predicted | measured | lookup-table | analytic
    expensive: bool


class _Efficiency:
    """Picklable MACs/params functions (for process pools)."""

    def __init__(self, space, what: str):
        self.space, self.what = space, what

    def __call__(self, genes: np.ndarray) -> np.ndarray:
        model = efficiency_model(self.space)
        counts = model.macs_genes(genes) if self.what == "macs" else model.params_genes(genes)
        return np.asarray(counts, dtype=float) / 1e6


def _space_structure_id(space) -> str:
    d = space.to_dict()
    for k in ("name", "description", "resolutions"):
        d.pop(k, None)
    return digest(d, 16)


def objective_sources(profile: HardwareProfile, accuracy: AccuracySource | None,
                      names: Sequence[str]) -> dict[str, ObjectiveSource]:
    """The source of each objective in ``names`` (plus MACs/params, always available)."""
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise ObjectiveError(f"unknown objective(s) {unknown}; choose from {', '.join(OBJECTIVES)}")
    if "top1" in names and accuracy is None:
        raise ObjectiveError("objective top1 needs an accuracy source")
    out: dict[str, ObjectiveSource] = {}
    if "latency_ms" in names or "latency_ms" in profile.constraints:
        measured = profile.latency_source == "measure"
        ident = profile.sha256 if measured else (profile.lut_sha256 or profile.sha256)
        by = None if measured else profile.table.meta.get("calibrated_by")
        ident += f":{by['fingerprint']}:{by['created']}" if by else ""  # this machine's calibration
        out["latency_ms"] = ObjectiveSource("latency_ms", f"latency_ms:{profile.id}:{ident}", profile.latency_genes,
                                            "measured" if measured else "lookup-table", measured)
    if accuracy is not None:
        p = accuracy.provenance
        out["top1"] = ObjectiveSource("top1", f"top1:{p.id}:{p.sha256}", accuracy.predict_genes, p.source,
                                      p.source == "measured")
    sid = _space_structure_id(profile.space)
    out["macs_m"] = ObjectiveSource("macs_m", f"macs_m:{sid}", _Efficiency(profile.space, "macs"), "analytic", False)
    out["params_m"] = ObjectiveSource("params_m", f"params_m:{sid}", _Efficiency(profile.space, "params"),
                                      "analytic", False)
    return out


class ObjectiveEvaluator:
    """Values of the chosen objectives for gene matrices over ``profile.space``."""

    def __init__(self, profile: HardwareProfile, accuracy: AccuracySource | None, objectives: Sequence[str],
                 executor: Executor | None = None, cache: ObjectiveCache | None = None, chunk_size: int = 16):
        if chunk_size < 1:
            raise ObjectiveError(f"chunk_size must be at least 1, got {chunk_size}")
        self.profile, self.space, self.accuracy = profile, profile.space, accuracy
        self.objectives = list(objectives)
        self.sources = objective_sources(profile, accuracy, self.objectives)
        self.executor = executor or Executor()
        self.cache_all = cache is not None
        self.cache = cache if cache is not None else ObjectiveCache()
        self.chunk_size = chunk_size
        self.computed = {name: 0 for name in self.sources}  # archs computed (cache misses)

    def _compute(self, src: ObjectiveSource, genes: np.ndarray) -> np.ndarray:
        if not src.expensive:
            return np.asarray(src.fn(genes), dtype=float)
        chunks = [genes[i:i + self.chunk_size] for i in range(0, len(genes), self.chunk_size)]
        return np.concatenate(self.executor.map(src.fn, chunks)).astype(float)

    def values(self, genes: np.ndarray, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Objective values in natural units (top1 in %, latency in ms) for each row of ``genes``."""
        genes = self.space.canonicalize_genes(genes)
        keys = None
        out = {}
        for name in names or self.objectives:
            if name not in self.sources:
                raise ObjectiveError(f"no source for objective {name!r} in this search")
            src = self.sources[name]
            if not (src.expensive or self.cache_all):
                out[name] = self._compute(src, genes)
                self.computed[name] += len(genes)
                continue
            if keys is None:
                keys = arch_keys(self.space, genes)
            vals, found = self.cache.lookup(src.namespace, keys)
            if not found.all():
                miss_keys, first = np.unique(keys[~found], return_index=True)
                rows = np.flatnonzero(~found)[first]
                computed = self._compute(src, genes[rows])
                if computed.shape != (len(rows),):
                    raise ObjectiveError(f"source of {name} returned shape {computed.shape} for {len(rows)} archs")
                self.cache.insert(src.namespace, miss_keys, computed)
                self.computed[name] += len(rows)
                vals, found = self.cache.lookup(src.namespace, keys)
            out[name] = vals
        return out

    def F(self, genes: np.ndarray) -> np.ndarray:
        """The minimisation matrix ``(N, n_objectives)``."""
        vals = self.values(genes)
        return np.column_stack([to_minimised(n, vals[n]) for n in self.objectives])
