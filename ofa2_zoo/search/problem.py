"""The pymoo problem over OFA's integer gene encoding and the operators suited to it.

Genes are indices into each gene's choice list (kernel, expand, depth, resolution), so the
natural operators are OFA²'s: uniform random sampling, uniform crossover and per-gene random
reset mutation. A repair step canonicalises every offspring (genes of skipped blocks → 0), so
pymoo's vectorised duplicate elimination on X removes genomes that are the same network.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

from ..space import SearchSpace
from .evaluator import ObjectiveEvaluator, to_minimised


class OFAProblem(Problem):
    """Minimise the evaluator's objectives over ``space``; optional ``g <= 0`` constraints.

    ``constraints`` maps an objective name to ``{"max": v}`` / ``{"min": v}`` in natural units.
    """

    def __init__(self, evaluator: ObjectiveEvaluator, constraints: dict[str, dict] | None = None):
        self.evaluator = evaluator
        self.space: SearchSpace = evaluator.space
        self.constraints = [(name, bound, value) for name, spec in (constraints or {}).items()
                            for bound, value in spec.items()]
        upper = self.space.gene_upper_bounds
        super().__init__(n_var=len(upper), n_obj=len(evaluator.objectives), n_ieq_constr=len(self.constraints),
                         xl=np.zeros(len(upper)), xu=upper, vtype=int)

    def _evaluate(self, X, out, *args, **kwargs):
        genes = np.asarray(X).round().astype(np.int64)
        out["F"] = self.evaluator.F(genes)
        if self.constraints:
            names = sorted({c[0] for c in self.constraints})
            vals = self.evaluator.values(genes, names)
            g = [vals[n] - v if bound == "max" else v - vals[n] for n, bound, v in self.constraints]
            out["G"] = np.column_stack(g)


class CanonicalSampling(Sampling):
    """Uniformly random genes, canonicalised."""

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        return problem.space.sample_genes(n_samples, random_state)


class GeneResetMutation(Mutation):
    """Each gene is reset to a uniformly random choice with probability ``gene_prob``."""

    def __init__(self, gene_prob: float = 0.1, **kwargs):
        super().__init__(prob=1.0, **kwargs)
        self.gene_prob = gene_prob

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        X = np.asarray(X).round().astype(np.int64)
        mask = random_state.random(X.shape) < self.gene_prob
        fresh = random_state.integers(0, problem.xu.astype(np.int64) + 1, size=X.shape)
        return np.where(mask, fresh, X)


class CanonicalRepair(Repair):
    def _do(self, problem, X, **kwargs):
        return problem.space.canonicalize_genes(np.asarray(X).round().astype(np.int64))


def duplicate_elimination() -> DefaultDuplicateElimination:
    """Exact duplicates on canonical genes (vectorised pairwise distances in pymoo)."""
    return DefaultDuplicateElimination(epsilon=0.5)


def reference_point(problem: OFAProblem, given: dict[str, float]) -> np.ndarray:
    """HV reference point in minimisation space, from natural-unit values per objective."""
    return np.array([to_minimised(n, given[n]) for n in problem.evaluator.objectives], dtype=float)
