"""Quality metrics of a search: hypervolume, IGD and the per-generation convergence history.

All functions take *minimisation* matrices ``F`` (one row per point, one column per
objective; accuracy enters as error). The hypervolume of two objectives is computed exactly
with one sort and a cumulative minimum (fast enough to record every generation); for three
or more objectives pymoo's indicator is used. Both give the same number (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.indicators.igd import IGD
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``F`` (minimisation), ascending."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    return np.sort(NonDominatedSorting().do(F, only_non_dominated_front=True))


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``F`` and bounded by the reference point ``ref``.

    Points that do not strictly dominate ``ref`` add nothing and are dropped.
    """
    F = np.asarray(F, dtype=float).reshape(-1, len(ref))
    ref = np.asarray(ref, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    if not len(F):
        return 0.0
    if F.shape[1] != 2:
        return float(HV(ref_point=ref)(F))
    order = np.lexsort((F[:, 1], F[:, 0]))
    x, y = F[order, 0], F[order, 1]
    y_best = np.minimum.accumulate(y)
    x_next = np.append(x[1:], ref[0])
    # Each sorted point owns the slab from its x to the next point's x, at the best y so far.
    return float(np.sum((x_next - x) * (ref[1] - y_best)))


def igd(F: np.ndarray, reference_front: np.ndarray) -> float:
    """Inverted generational distance of ``F`` to a reference front (pymoo's indicator, which
    computes in float64 whatever the inputs' dtype; it needs arrays, not lists)."""
    return float(IGD(np.asarray(reference_front))(np.asarray(F)))


@dataclass
class ConvergenceHistory:
    """One row per generation: evaluations so far, HV (and IGD) of the feasible front.

    ``rows`` are deterministic for a fixed seed; ``seconds`` (elapsed wall time per row) is
    kept apart because it is not.
    """

    reference_point: np.ndarray
    reference_front: np.ndarray | None = None
    rows: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def record(self, generation: int, evaluations: int, F: np.ndarray, elapsed: float) -> float:
        hv = hypervolume(F, self.reference_point)
        row = {"generation": int(generation), "evaluations": int(evaluations), "hypervolume": hv}
        if self.reference_front is not None and len(F):
            row["igd"] = igd(F[non_dominated(F)], self.reference_front)
        self.rows.append(row)
        self.seconds.append(round(float(elapsed), 4))
        return hv
