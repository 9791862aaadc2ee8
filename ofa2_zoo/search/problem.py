"""The pymoo problem over OFA's integer gene encoding.

One call evaluates a whole population through the :class:`~.evaluator.ObjectiveEvaluator`
(vectorised, cached). Objectives are minimised (top-1 enters as error ``100 - top1``);
constraints from the profile (``{"latency_ms": {"max": 30}}``) become ``g <= 0`` columns.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.problem import Problem

from ..space import SearchSpace
from .evaluator import ObjectiveEvaluator, ObjectiveError, to_minimised


class OFAProblem(Problem):
    """Minimise the evaluator's objectives over its space, subject to ``constraints``.

    ``constraints`` maps an objective name to ``{"max": v}`` and/or ``{"min": v}`` in
    natural units. ``evaluations`` counts the archs the algorithm asked for (pymoo's count).
    """

    def __init__(self, evaluator: ObjectiveEvaluator, constraints: dict[str, dict] | None = None):
        self.evaluator = evaluator
        self.space: SearchSpace = evaluator.space
        self.constraints = [(name, bound, float(value)) for name, spec in sorted((constraints or {}).items())
                            for bound, value in sorted(spec.items()) if value is not None]
        for name, bound, _ in self.constraints:
            if bound not in ("max", "min"):
                raise ObjectiveError(f"constraint on {name}: unknown bound {bound!r}; use max or min")
            if name not in evaluator.sources:
                raise ObjectiveError(f"constraint on {name}: no source for that objective in this search")
        self.evaluations = 0
        upper = self.space.gene_upper_bounds
        super().__init__(n_var=len(upper), n_obj=len(evaluator.objectives), n_ieq_constr=len(self.constraints),
                         xl=np.zeros(len(upper)), xu=upper, vtype=int)

    def _evaluate(self, X, out, *args, **kwargs):
        genes = np.asarray(X).round().astype(np.int64)
        self.evaluations += len(genes)
        out["F"] = self.evaluator.F(genes)
        if self.constraints:
            out["G"] = self.constraint_values(genes)

    def constraint_values(self, genes: np.ndarray) -> np.ndarray:
        """``(N, n_constraints)``, feasible where every column is <= 0."""
        names = sorted({c[0] for c in self.constraints})
        vals = self.evaluator.values(genes, names)
        return np.column_stack([vals[n] - v if bound == "max" else v - vals[n] for n, bound, v in self.constraints])

    def feasible(self, genes: np.ndarray) -> np.ndarray:
        if not self.constraints:
            return np.ones(len(genes), bool)
        return np.all(self.constraint_values(genes) <= 0, axis=1)

    def reference_point(self, natural: dict[str, float]) -> np.ndarray:
        """HV reference point in minimisation space from natural-unit values per objective."""
        return np.array([to_minimised(n, natural[n]) for n in self.evaluator.objectives], dtype=float)
