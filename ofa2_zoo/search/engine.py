"""A vectorised generational engine for NSGA-II, SMS-EMOA and SPEA2: the same algorithms as
pymoo's classes, run on plain arrays instead of pymoo's per-individual ``Population`` objects.

pymoo keeps every individual as a Python object; at population 100 its bookkeeping costs
more per generation than evaluating the population with the vectorised objectives (figures in
``benchmarks/RESULTS.md``). This engine runs the same steps on ``(N, n_genes)`` / ``(N, n_obj)``
arrays and re-uses pymoo's own array-level building blocks for the survival decisions:

- mating: binary tournaments on random permutations (pymoo's ``TournamentSelection``);
  NSGA-II compares constraint violation, then Pareto dominance, then crowding distance;
  SMS-EMOA violation, then dominance, then a coin; SPEA2 violation, then SPEA2 fitness;
  uniform crossover (each pair crosses with
  ``crossover_prob``, each gene swaps with probability 0.5), per-gene reset mutation,
  canonical repair, and exact duplicate elimination against the population and earlier
  offspring (re-drawn until ``population`` new archs, as pymoo does, at most 100 rounds);
- survival: feasible first, by pymoo's ``NonDominatedSorting``; NSGA-II splits the last front
  by pymoo's crowding distance (random tie-break), SMS-EMOA drops the least hypervolume
  contributor (``moocore.hv_contributions`` on the front normalised by the merged
  population's ideal and nadir, reference point 1 + 10, pymoo's setting) one at a time;
  SPEA2 keeps the non-dominated archs (strength / raw fitness / k-th nearest neighbour
  density on objectives normalised by pymoo's ``HyperplaneNormalization``), fills by fitness
  or truncates by the lexicographically smallest sorted distance vector (SPEA2's archive
  truncation, here with incrementally updated sorted distances), and gives the archs nearest
  the extreme points fitness -1, as pymoo does; infeasible archs fill by increasing violation.

Same seed, same run; ``tests/test_search_engine.py`` checks each survival against pymoo's
survival class on the same populations.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from .algorithms import AlgorithmError, GenerationFn, RunResult
from .operators import gene_keys
from .problem import OFAProblem

VECTORISED = ("nsga2", "smsemoa", "spea2")
SMS_EPS = 10.0


@lru_cache(maxsize=1)
def _crowding():
    """pymoo's crowding distance; imported on first use (its module imports scipy.spatial,
    which PALS, the default algorithm, never needs)."""
    from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function

    return get_crowding_function("cd")


def _evaluate(problem: OFAProblem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out: dict = {}
    problem._evaluate(X, out)
    cv = np.maximum(out["G"], 0).sum(axis=1) if "G" in out else np.zeros(len(X))
    return np.asarray(out["F"], dtype=float), cv


def _dominates(Fa: np.ndarray, Fb: np.ndarray) -> np.ndarray:
    return np.all(Fa <= Fb, axis=1) & np.any(Fa < Fb, axis=1)


def tournament(rng: np.random.Generator, F: np.ndarray, cv: np.ndarray, n_select: int,
               crowding: np.ndarray | None, fitness: np.ndarray | None = None) -> np.ndarray:
    """Winners of ``n_select`` binary tournaments (indices into the population): violation,
    then SPEA2 ``fitness`` (smaller wins) if given, else dominance then ``crowding``.

    Args:
        rng: The random generator.
        F: Objective values (minimisation), one row per individual.
        cv: Constraint violation per individual (0: feasible).
        n_select: Tournaments to hold.
        crowding: Crowding distance per individual (larger wins a tie), or ``None``.
        fitness: SPEA2 fitness per individual, or ``None``.
    """
    n = len(F)
    n_perms = -(-2 * n_select // n)
    P = np.concatenate([rng.permutation(n) for _ in range(n_perms)])[:2 * n_select].reshape(n_select, 2)
    a, b = P[:, 0], P[:, 1]
    coin = np.where(rng.random(n_select) < 0.5, a, b)
    by_cv = np.where(cv[a] < cv[b], a, np.where(cv[b] < cv[a], b, coin))
    if crowding is not None:
        tie = np.where(crowding[a] > crowding[b], a, np.where(crowding[b] > crowding[a], b, coin))
    else:
        tie = coin
    if fitness is not None:
        by_dom = np.where(fitness[a] < fitness[b], a, np.where(fitness[b] < fitness[a], b, coin))
    else:
        by_dom = np.where(_dominates(F[a], F[b]), a, np.where(_dominates(F[b], F[a]), b, tie))
    return np.where((cv[a] > 0) | (cv[b] > 0), by_cv, by_dom)


def _variation(rng, parents_a, parents_b, upper, crossover_prob, mutation_prob, space) -> np.ndarray:
    cross = (rng.random(len(parents_a)) < crossover_prob)[:, None] & (rng.random(parents_a.shape) < 0.5)
    children = np.concatenate([np.where(cross, parents_b, parents_a), np.where(cross, parents_a, parents_b)])
    mutate = rng.random(children.shape) < mutation_prob
    children = np.where(mutate, rng.integers(0, upper + 1, size=children.shape), children)
    return space.canonicalize_genes(children)


def _offspring(rng, X, F, cv, crowding, fitness, n_off, problem, crossover_prob, mutation_prob) -> np.ndarray:
    """``n_off`` new canonical archs (none in the population, no two alike)."""
    upper = problem.space.gene_upper_bounds
    seen = np.sort(gene_keys(X))
    found: list[np.ndarray] = []
    n_found = 0
    for _ in range(100):
        n_mating = -(-(n_off - n_found) // 2)
        winners = tournament(rng, F, cv, 2 * n_mating, crowding, fitness).reshape(n_mating, 2)
        cand = _variation(rng, X[winners[:, 0]], X[winners[:, 1]], upper, crossover_prob, mutation_prob,
                          problem.space)
        keys = gene_keys(cand)
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)
        cand, keys = cand[first], keys[first]
        pos = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
        new = seen[pos] != keys
        cand, keys = cand[new], keys[new]
        found.append(cand)
        n_found += len(cand)
        seen = np.sort(np.concatenate([seen, keys]))
        if n_found >= n_off:
            break
    return np.concatenate(found)[:n_off]


def rank_and_crowding(rng: np.random.Generator, F: np.ndarray, cv: np.ndarray,
                      n_survive: int) -> tuple[np.ndarray, np.ndarray]:
    """NSGA-II survival: ``(survivor indices, crowding distance of every row)``."""
    crowd = np.zeros(len(F))
    feasible = np.flatnonzero(cv <= 0)
    survivors: list[np.ndarray] = []
    n_taken = 0
    if len(feasible):
        for front in NonDominatedSorting().do(F[feasible], n_stop_if_ranked=n_survive):
            front = feasible[front]
            n_remove = n_taken + len(front) - n_survive
            cd = _crowding().do(F[front], n_remove=max(n_remove, 0))
            crowd[front] = cd
            if n_remove > 0:
                perm = rng.permutation(len(front))
                keep = perm[np.argsort(-cd[perm], kind="stable")][:len(front) - n_remove]
                front = front[keep]
            survivors.append(front)
            n_taken += len(front)
            if n_taken >= n_survive:
                break
    return _fill_infeasible(survivors, n_taken, cv, n_survive), crowd


def least_hv_contribution(F: np.ndarray, cv: np.ndarray, n_survive: int) -> np.ndarray:
    """SMS-EMOA survival: survivor indices."""
    from moocore import hv_contributions

    feasible = np.flatnonzero(cv <= 0)
    survivors: list[np.ndarray] = []
    n_taken = 0
    if len(feasible):
        Ff = F[feasible]
        ideal, nadir = Ff.min(axis=0), Ff.max(axis=0) + 1e-32
        for front in NonDominatedSorting().do(Ff, n_stop_if_ranked=n_survive):
            front = feasible[front]
            if n_taken + len(front) > n_survive:
                Fn = (F[front] - ideal) / np.where(nadir - ideal == 0, 1.0, nadir - ideal)
                ref = np.full(F.shape[1], 1.0 + SMS_EPS)
                while n_taken + len(front) > n_survive:
                    k = int(hv_contributions(Fn, ref=ref).argmin())
                    Fn = np.delete(Fn, k, axis=0)
                    front = np.delete(front, k)
            survivors.append(front)
            n_taken += len(front)
            if n_taken >= n_survive:
                break
    return _fill_infeasible(survivors, n_taken, cv, n_survive)


class SPEA2Survival:
    """SPEA2's environmental selection on arrays (stateful: the normalisation tracks the run)."""

    def __init__(self, n_obj: int):
        from pymoo.algorithms.moo.nsga3 import HyperplaneNormalization

        self.norm = HyperplaneNormalization(n_obj)

    def __call__(self, F: np.ndarray, cv: np.ndarray, n_survive: int) -> tuple[np.ndarray, np.ndarray]:
        """``(survivor indices, fitness of every row)`` (infeasible rows: +inf)."""
        fitness = np.full(len(F), np.inf)
        feasible = np.flatnonzero(cv <= 0)
        survivors: list[np.ndarray] = []
        n_taken = 0
        if len(feasible):
            keep, fit = self._feasible(F[feasible], min(n_survive, len(feasible)))
            fitness[feasible] = fit
            survivors.append(feasible[keep])
            n_taken = len(keep)
        return _fill_infeasible(survivors, n_taken, cv, n_survive), fitness

    def _feasible(self, F: np.ndarray, n_survive: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(F)
        le = np.ones((n, n), bool)
        lt = np.zeros((n, n), bool)
        for f in F.T:  # one pass per objective (2-3), each an (n, n) comparison
            le &= f[:, None] <= f[None, :]
            lt |= f[:, None] < f[None, :]
        dom = le & lt  # dom[i, j]: i dominates j
        strength = dom.sum(axis=1)
        raw = strength.astype(float) @ dom  # sum of the strengths of each member's dominators
        k = min(int(np.sqrt(n)), n - 1)
        self.norm.update(F)
        ideal, nadir = self.norm.ideal_point, self.norm.nadir_point
        Fn = (F - ideal) / (nadir - ideal)
        dists = np.sqrt(sum((f[:, None] - f[None, :]) ** 2 for f in Fn.T))
        np.fill_diagonal(dists, np.inf)
        density = 1.0 / (np.sort(dists, axis=1)[:, k] + 2) if n > 1 else np.zeros(n)
        fitness = raw + density
        survivors = np.flatnonzero(~dom.any(axis=0))
        extremes = np.sqrt(((self.norm.extreme_points[:, None, :] - F[None, survivors, :]) ** 2).sum(axis=2))
        marked = survivors[extremes.argmin(axis=1)]
        if len(survivors) < n_survive:
            rest = np.setdiff1d(np.arange(n), survivors)
            survivors = np.concatenate([survivors, rest[np.argsort(fitness[rest], kind="quicksort")]
                                        [:n_survive - len(survivors)]])
        elif len(survivors) > n_survive:
            survivors = _truncate(dists[np.ix_(survivors, survivors)], n_survive, survivors)
        fitness = fitness.copy()
        fitness[marked] = -1.0
        return survivors, fitness


def _truncate(D: np.ndarray, n_keep: int, ids: np.ndarray) -> np.ndarray:
    """SPEA2 truncation: repeatedly drop the member whose sorted distance vector to the others
    is lexicographically smallest (ties: the first); sorted rows are updated, not re-sorted."""
    S = np.sort(D, axis=1)
    alive = np.arange(len(ids))
    while len(alive) > n_keep:
        cand = np.arange(len(alive))
        for col in range(S.shape[1]):
            v = S[cand, col]
            cand = cand[v == v.min()]
            if len(cand) == 1:
                break
        i = int(cand[0])
        gone = alive[i]
        alive = np.delete(alive, i)
        S = np.delete(S, i, axis=0)
        # drop the distance to the removed member from every remaining row (one copy)
        d = D[alive, gone]
        pos = (S < d[:, None]).sum(axis=1)
        mask = np.ones(S.shape, bool)
        mask[np.arange(len(alive)), pos] = False
        S = S[mask].reshape(len(alive), S.shape[1] - 1)
    return ids[alive]


def _fill_infeasible(survivors: list[np.ndarray], n_taken: int, cv: np.ndarray, n_survive: int) -> np.ndarray:
    if n_taken < n_survive:
        infeasible = np.flatnonzero(cv > 0)
        infeasible = infeasible[np.argsort(cv[infeasible], kind="stable")]
        survivors.append(infeasible[:n_survive - n_taken])
    return np.concatenate(survivors).astype(int) if survivors else np.zeros(0, dtype=int)


def run_vectorised(name: str, problem: OFAProblem, population: int, generations: int, seed: int,
                   mutation_prob: float = 0.1, crossover_prob: float = 1.0,
                   on_generation: GenerationFn | None = None) -> RunResult:
    """Run ``nsga2``, ``smsemoa`` or ``spea2`` for ``generations`` generations (the first is the random
    initial population, as in pymoo) with ``population`` offspring per generation.

    Args:
        name: ``nsga2``, ``smsemoa`` or ``spea2``.
        problem: The search problem.
        population: Population size (and offspring per generation).
        generations: Generations, the random initial one included.
        seed: Seed of the run.
        mutation_prob: Per-gene mutation probability.
        crossover_prob: Probability of uniform crossover.
        on_generation: Called with (generation, evaluations, objective values) after each generation.
    """
    if name not in VECTORISED:
        raise AlgorithmError(f"the vectorised engine runs {', '.join(VECTORISED)}, not {name!r}")
    rng = np.random.default_rng(seed)
    space = problem.space
    X = np.zeros((0, problem.n_var), dtype=np.int64)
    for _ in range(100):  # a unique random initial population
        X = np.concatenate([X, space.sample_genes(population - len(X), rng)])
        _, first = np.unique(gene_keys(X), return_index=True)
        X = X[np.sort(first)]
        if len(X) == population:
            break
    F, cv = _evaluate(problem, X)

    spea2 = SPEA2Survival(problem.n_obj) if name == "spea2" else None

    def survive(F, cv, n):
        """``(survivors, crowding or None, fitness or None)``."""
        if name == "nsga2":
            return (*rank_and_crowding(rng, F, cv, n), None)
        if name == "smsemoa":
            return least_hv_contribution(F, cv, n), None, None
        keep, fitness = spea2(F, cv, n)
        return keep, None, fitness

    keep, crowd, fit = survive(F, cv, len(X))
    X, F, cv = X[keep], F[keep], cv[keep]
    crowd = crowd[keep] if crowd is not None else None
    fit = fit[keep] if fit is not None else None

    def report(gen: int) -> None:
        if on_generation:
            on_generation(gen, problem.evaluations, F[cv <= 0])

    report(1)
    for gen in range(2, generations + 1):
        off = _offspring(rng, X, F, cv, crowd, fit, population, problem, crossover_prob, mutation_prob)
        F_off, cv_off = _evaluate(problem, off)
        X, F, cv = np.concatenate([X, off]), np.concatenate([F, F_off]), np.concatenate([cv, cv_off])
        keep, crowd, fit = survive(F, cv, population)
        X, F, cv = X[keep], F[keep], cv[keep]
        crowd = crowd[keep] if crowd is not None else None
        fit = fit[keep] if fit is not None else None
        report(gen)
    return RunResult(X, F, cv <= 0)
