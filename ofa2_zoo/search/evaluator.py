"""Objective evaluation for whole populations, with a cache and pluggable executors.

Objectives are computed on canonical gene matrices. Cheap objectives (table latency,
predicted accuracy, MACs, params) are evaluated for the whole population in one vectorised
call; every (arch, objective) value is cached, so re-evaluating an arch — or running another
profile with the same accuracy source in the same process — costs nothing. Expensive sources
(measured accuracy or latency) are evaluated only for uncached archs, split into chunks that
an executor (in-process, process pool, Ray) runs in parallel; results are identical whichever
executor runs them because each chunk is a pure function of its genes.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np

from ..errors import Ofa2Error
from ..objectives.base import AccuracySource
from ..objectives.efficiency import efficiency_model
from ..profiles import HardwareProfile

#: How each objective is minimised: (name in front.json, unit, sign, offset):
#: minimised value = sign * value + offset. top1 is maximised, i.e. error = 100 - top1.
OBJECTIVES = {
    "latency_ms": ("ms", 1.0, 0.0),
    "top1": ("%", -1.0, 100.0),
    "macs_m": ("M", 1.0, 0.0),
    "params_m": ("M", 1.0, 0.0),
}


def to_minimised(name: str, values: np.ndarray) -> np.ndarray:
    _, sign, offset = OBJECTIVES[name]
    return sign * np.asarray(values, dtype=float) + offset


def from_minimised(name: str, values: np.ndarray) -> np.ndarray:
    _, sign, offset = OBJECTIVES[name]
    return (np.asarray(values, dtype=float) - offset) * sign


class Executor:
    """Runs ``fn`` over chunks of genes. Subclasses decide where."""

    name = "inprocess"

    def map(self, fn: Callable[[np.ndarray], np.ndarray], chunks: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [fn(c) for c in chunks]

    def close(self) -> None:
        pass


class ProcessPoolExecutorAdapter(Executor):
    name = "process"

    def __init__(self, workers: int = 2):
        self.pool = ProcessPoolExecutor(max_workers=workers)

    def map(self, fn, chunks):
        return list(self.pool.map(fn, chunks))

    def close(self) -> None:
        self.pool.shutdown()


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise Ofa2Error("the ray executor needs the optional extra: pip install 'ofa2-zoo[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)

    def map(self, fn, chunks):
        remote = self.ray.remote(fn)
        return self.ray.get([remote.remote(c) for c in chunks])


def make_executor(name: str, workers: int = 2) -> Executor:
    if name == "inprocess":
        return Executor()
    if name == "process":
        return ProcessPoolExecutorAdapter(workers)
    if name == "ray":
        return RayExecutor()
    raise Ofa2Error(f"unknown executor {name!r}; choose inprocess, process or ray")


class ObjectiveEvaluator:
    """Values of the chosen objectives for gene matrices over ``profile.space``."""

    def __init__(self, profile: HardwareProfile, accuracy: AccuracySource | None, objectives: Sequence[str],
                 executor: Executor | None = None, chunk_size: int = 16, cache: dict | None = None):
        unknown = [o for o in objectives if o not in OBJECTIVES]
        if unknown:
            raise Ofa2Error(f"unknown objective(s) {unknown}; choose from {list(OBJECTIVES)}")
        if "top1" in objectives and accuracy is None:
            raise Ofa2Error("objective top1 needs an accuracy source")
        self.profile, self.space, self.accuracy = profile, profile.space, accuracy
        self.objectives = list(objectives)
        self.executor = executor or Executor()
        self.chunk_size = chunk_size
        self.cache: dict[tuple[str, bytes], float] = {} if cache is None else cache
        self.evaluations = 0  # distinct archs evaluated (cache misses of the first objective)
        self._eff = efficiency_model(self.space)

    def _compute(self, name: str, genes: np.ndarray) -> np.ndarray:
        if name == "latency_ms":
            fn, expensive = self.profile.latency_genes, self.profile.spec.latency.source == "measure"
        elif name == "top1":
            fn, expensive = self.accuracy.predict_genes, self.accuracy.provenance.source == "measured"
        elif name == "macs_m":
            return self._eff.macs_genes(genes) / 1e6
        else:
            return self._eff.params_genes(genes) / 1e6
        if not expensive:
            return np.asarray(fn(genes), dtype=float)
        chunks = [genes[i:i + self.chunk_size] for i in range(0, len(genes), self.chunk_size)]
        return np.concatenate(self.executor.map(fn, chunks)).astype(float)

    def values(self, genes: np.ndarray, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Objective values (natural units: top1 in %, latency in ms) for each row of ``genes``."""
        genes = self.space.canonicalize_genes(genes)
        keys = [row.tobytes() for row in genes]
        out = {}
        for j, name in enumerate(names or self.objectives):
            vals = np.empty(len(genes))
            missing = [i for i, k in enumerate(keys) if (name, k) not in self.cache]
            if missing:
                uniq: dict[bytes, int] = {}
                for i in missing:
                    uniq.setdefault(keys[i], i)
                rows = np.array(list(uniq.values()))
                computed = self._compute(name, genes[rows])
                for k, v in zip(uniq, computed):
                    self.cache[(name, k)] = float(v)
                if j == 0:
                    self.evaluations += len(uniq)
            for i, k in enumerate(keys):
                vals[i] = self.cache[(name, k)]
            out[name] = vals
        return out

    def F(self, genes: np.ndarray) -> np.ndarray:
        """The minimisation matrix ``(N, n_objectives)``."""
        vals = self.values(genes)
        return np.column_stack([to_minimised(n, vals[n]) for n in self.objectives])
