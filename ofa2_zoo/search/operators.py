"""Variation operators for OFA's integer gene encoding (OFA²'s choices).

Genes are indices into each gene's choice list, so: uniform random sampling, uniform
crossover (pymoo's ``UniformCrossover``), per-gene random reset mutation, a repair that
canonicalises every offspring (genes of skipped blocks → 0) and an exact duplicate
elimination on the canonical genes (byte keys, sorted lookups: no pairwise distances).
"""

from __future__ import annotations

import numpy as np
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling
from pymoo.operators.crossover.ux import UniformCrossover

__all__ = ["CanonicalSampling", "GeneResetMutation", "CanonicalRepair", "CanonicalDuplicateElimination",
           "UniformCrossover", "gene_keys"]


def gene_keys(X: np.ndarray) -> np.ndarray:
    """One byte key per row of an integer matrix, for exact equality tests."""
    X = np.ascontiguousarray(np.asarray(X).round().astype(np.int16))
    return X.view(np.dtype((np.void, X.shape[1] * X.itemsize))).ravel()


class CanonicalSampling(Sampling):
    """Uniformly random genes, canonicalised."""

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        return problem.space.sample_genes(n_samples, random_state)


class GeneResetMutation(Mutation):
    """Each gene is reset to a uniformly random choice with probability ``gene_prob``
    (the new choice may equal the old one, as in OFA's and OFA²'s mutation)."""

    def __init__(self, gene_prob: float = 0.1, **kwargs):
        super().__init__(prob=1.0, **kwargs)
        if not 0.0 <= gene_prob <= 1.0:
            raise ValueError(f"gene_prob must lie in [0, 1], got {gene_prob}")
        self.gene_prob = gene_prob

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        X = np.asarray(X).round().astype(np.int64)
        mask = random_state.random(X.shape) < self.gene_prob
        fresh = random_state.integers(0, problem.xu.astype(np.int64) + 1, size=X.shape)
        return np.where(mask, fresh, X)


class CanonicalRepair(Repair):
    """Set the genes of skipped blocks to 0, so one network has one genome."""

    def _do(self, problem, X, **kwargs):
        return problem.space.canonicalize_genes(np.asarray(X).round())  # canonicalize_genes makes int64 genes


class CanonicalDuplicateElimination(DuplicateElimination):
    """Exact duplicates of canonical genes: within the population (the first copy stays)
    and against the other populations pymoo passes (parents, earlier offspring)."""

    def _do(self, pop, other, is_duplicate):
        keys = gene_keys(pop.get("X"))
        if other is None:
            _, first = np.unique(keys, return_index=True)
            is_duplicate[:] = True
            is_duplicate[first] = False
            return is_duplicate
        other_keys = np.sort(gene_keys(other.get("X")))
        pos = np.minimum(np.searchsorted(other_keys, keys), len(other_keys) - 1)
        is_duplicate |= other_keys[pos] == keys
        return is_duplicate
