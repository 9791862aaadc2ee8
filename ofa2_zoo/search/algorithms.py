"""Search algorithms behind one name: PALS (the default), pymoo's MOEAs and two baselines.

- ``pals``: Pareto archive local search on the current front (:mod:`.pals`), the default.
- ``nsga2``, ``smsemoa``, ``spea2``, ``nsga3``, ``moead``, ``agemoea``: pymoo's algorithms with
  OFA²'s operators (canonical uniform sampling, uniform crossover with probability 1, per-gene
  reset mutation with probability 0.1, canonical repair, exact duplicate elimination).
  ``nsga3``/``moead`` use Das-Dennis reference directions; ``agemoea`` needs ``numba``.
- ``random``: ``population × generations`` uniformly random archs (the MOEAs' budget); the
  feasible non-dominated ones form the front.
- ``ofa-evolution``: OFA's own search — single-objective evolution of accuracy under a latency
  budget (rejection sampling keeps every candidate within budget; 25 % of the population as
  parents, then half a population of mutants and half of crossovers per generation, gene
  mutation probability 0.1) — run once per budget over ``budgets`` budgets spread evenly
  between the fastest and the slowest arch; the generations are split across the budgets.
  The best net of each budget forms the front, the way OFA obtains several networks.

Every runner returns a :class:`RunResult` and reports each generation to ``on_generation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import AlgorithmError
from .metrics import non_dominated
from .operators import (CanonicalDuplicateElimination, CanonicalRepair, CanonicalSampling, GeneResetMutation,
                        UniformCrossover)
from .problem import OFAProblem

if TYPE_CHECKING:  # pymoo's algorithm machinery is imported by the runs that use it (PALS and the
    from pymoo.core.algorithm import Algorithm  # vectorised engine do not: ~40 ms of start-up)

MOEAS = ("nsga2", "smsemoa", "spea2", "nsga3", "moead", "agemoea")
BASELINES = ("random", "ofa-evolution")
ALGORITHMS = ("pals",) + MOEAS + BASELINES

#: called after every generation with (generation, evaluations so far, F of the feasible
#: population; dominated rows allowed)
GenerationFn = Callable[[int, int, np.ndarray], None]


@dataclass
class RunResult:
    """What a search run ends with: the final population (genes, F, feasibility)."""

    genes: np.ndarray
    F: np.ndarray
    feasible: np.ndarray


def check_algorithm(name: str) -> None:
    if name not in ALGORITHMS:
        raise AlgorithmError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")


def make_algorithm(name: str, population: int, n_obj: int, mutation_prob: float = 0.1,
                   crossover_prob: float = 1.0) -> Algorithm:
    """A configured pymoo algorithm (MOEAs only; baselines run in their own functions).

    Args:
        name: The MOEA: ``nsga2``, ``smsemoa``, ``spea2``, ``nsga3`` or ``moead``.
        population: Population size.
        n_obj: Number of objectives (sets the reference directions of NSGA-III and MOEA/D).
        mutation_prob: Per-gene mutation probability.
        crossover_prob: Probability of uniform crossover.
    """
    check_algorithm(name)
    ops = dict(sampling=CanonicalSampling(), crossover=UniformCrossover(prob=crossover_prob),
               mutation=GeneResetMutation(mutation_prob), repair=CanonicalRepair(),
               eliminate_duplicates=CanonicalDuplicateElimination())
    if name == "nsga2":
        from pymoo.algorithms.moo.nsga2 import NSGA2

        return NSGA2(pop_size=population, **ops)
    if name == "smsemoa":
        from pymoo.algorithms.moo.sms import SMSEMOA

        return SMSEMOA(pop_size=population, **ops)
    if name == "spea2":
        from pymoo.algorithms.moo.spea2 import SPEA2

        return SPEA2(pop_size=population, **ops)
    if name in ("nsga3", "moead"):
        partitions = population - 1 if n_obj == 2 else max(1, int(round(population ** (1 / (n_obj - 1)))))
        from pymoo.util.ref_dirs import get_reference_directions  # here: it imports scipy.special (~0.3 s)

        ref_dirs = get_reference_directions("das-dennis", n_obj, n_partitions=max(1, partitions))
        if name == "nsga3":
            from pymoo.algorithms.moo.nsga3 import NSGA3

            return NSGA3(ref_dirs=ref_dirs, pop_size=population, **ops)
        from pymoo.algorithms.moo.moead import MOEAD

        ops.pop("eliminate_duplicates")  # MOEA/D replaces neighbours one offspring at a time
        return MOEAD(ref_dirs=ref_dirs, n_neighbors=min(15, len(ref_dirs)), **ops)
    if name == "agemoea":
        try:
            import numba  # noqa: F401  (AGE-MOEA's survival is numba-compiled)
        except ImportError:
            raise AlgorithmError("agemoea needs numba: pip install numba (or 'ofa2-zoo[agemoea]')") from None
        from pymoo.algorithms.moo.age import AGEMOEA

        return AGEMOEA(pop_size=population, **ops)
    raise AlgorithmError(f"{name!r} is a baseline, not a pymoo algorithm")


class _Report:
    """pymoo's per-generation callback (pymoo calls it with the algorithm after each generation;
    a plain callable, so pymoo's ``Callback`` is not imported for the other runners)."""

    def __init__(self, problem: OFAProblem, on_generation: GenerationFn | None):
        self.problem, self.on_generation = problem, on_generation

    def __call__(self, algorithm) -> None:
        if self.on_generation is None:
            return
        pop = algorithm.pop  # the final front is taken from the population, so is the history
        F = np.asarray(pop.get("F"), dtype=float).reshape(len(pop), -1)
        feas = pop.get("feasible")
        if feas is not None and len(F):
            F = F[np.asarray(feas).reshape(len(F), -1)[:, 0]]
        self.on_generation(int(algorithm.n_gen), self.problem.evaluations, F)


def run_moea(name: str, problem: OFAProblem, population: int, generations: int, seed: int,
             mutation_prob: float = 0.1, crossover_prob: float = 1.0,
             on_generation: GenerationFn | None = None) -> RunResult:
    """Run pymoo MOEA ``name`` through pymoo's ``minimize``; the final population is returned.

    Args:
        name: The MOEA (see :func:`make_algorithm`).
        problem: The search problem.
        population: Population size.
        generations: Generations.
        seed: pymoo's seed.
        mutation_prob: Per-gene mutation probability.
        crossover_prob: Probability of uniform crossover.
        on_generation: Called with (generation, evaluations, objective values) after each generation.
    """
    from pymoo.optimize import minimize

    algo = make_algorithm(name, population, problem.n_obj, mutation_prob, crossover_prob)
    res = minimize(problem, algo, ("n_gen", generations), seed=seed, callback=_Report(problem, on_generation),
                   verbose=False, copy_algorithm=False)
    pop = res.pop
    genes = np.asarray(pop.get("X")).round().astype(np.int64)
    feas = pop.get("feasible")
    feasible = np.asarray(feas).reshape(len(pop), -1)[:, 0] if feas is not None else np.ones(len(pop), bool)
    return RunResult(genes, np.asarray(pop.get("F"), dtype=float), feasible)


def run_random(problem: OFAProblem, population: int, generations: int, seed: int,
               on_generation: GenerationFn | None = None) -> RunResult:
    """``generations`` batches of ``population`` uniformly random archs.

    Args:
        problem: The search problem.
        population: Archs per batch.
        generations: Batches.
        seed: Seed of the sample.
        on_generation: Called with (batch, evaluations, the archive's objective values) after each batch.
    """
    rng = np.random.default_rng(seed)
    archive_genes = np.zeros((0, problem.n_var), dtype=np.int64)
    archive_F = np.zeros((0, problem.n_obj))
    for gen in range(1, generations + 1):
        genes = problem.space.sample_genes(population, rng)
        out: dict = {}
        problem._evaluate(genes, out)
        ok = np.all(out["G"] <= 0, axis=1) if "G" in out else np.ones(len(genes), bool)
        archive_genes = np.concatenate([archive_genes, genes[ok]])
        archive_F = np.concatenate([archive_F, out["F"][ok]])
        keep = non_dominated(archive_F)
        archive_genes, archive_F = archive_genes[keep], archive_F[keep]
        if on_generation:
            on_generation(gen, problem.evaluations, archive_F)
    return RunResult(archive_genes, archive_F, np.ones(len(archive_genes), bool))


def run_ofa_evolution(problem: OFAProblem, population: int, generations: int, seed: int, budgets: int = 10,
                      mutation_prob: float = 0.1, on_generation: GenerationFn | None = None) -> RunResult:
    """OFA's constrained single-objective evolution, once per latency budget.

    Args:
        problem: The search problem (its objectives include ``latency_ms`` and ``top1``).
        population: Population size of each evolution.
        generations: Generations in all, shared equally by the budgets.
        seed: Seed of the evolutions.
        budgets: Latency budgets, evenly spaced between the smallest and the largest network.
        mutation_prob: Per-gene mutation probability.
        on_generation: Called with (generation, evaluations, objective values) after each generation.
    """
    ev = problem.evaluator
    if not {"latency_ms", "top1"} <= set(ev.objectives):
        raise AlgorithmError("ofa-evolution needs the objectives latency_ms and top1")
    if budgets < 1:
        raise AlgorithmError(f"budgets must be at least 1, got {budgets}")
    space, rng = problem.space, np.random.default_rng(seed)
    extremes = space.archs_to_genes([space.smallest(space.resolutions[0]), space.largest()])
    lo, hi = ev.values(extremes, ["latency_ms"])["latency_ms"]
    grid = np.linspace(lo, hi, budgets + 1)[1:]
    gens_per_budget = max(1, generations // budgets)
    n_parents = max(2, int(round(0.25 * population)))
    n_mutants = int(round(0.5 * population))
    upper = space.gene_upper_bounds

    def within(genes: np.ndarray, budget: float) -> np.ndarray:
        return (ev.values(genes, ["latency_ms"])["latency_ms"] <= budget) & problem.feasible(genes)

    def fill(make: Callable[[int], np.ndarray], budget: float, n: int) -> np.ndarray:
        """``n`` candidates within budget, by rejection sampling (OFA's way)."""
        found, total = [], 0
        for _ in range(1000):
            cand = space.canonicalize_genes(make(n))
            cand = cand[within(cand, budget)]
            found.append(cand)
            total += len(cand)
            if total >= n:
                return np.concatenate(found)[:n]
        raise AlgorithmError(f"no arch found within the latency budget {budget:.3f} ms")

    def accuracy(genes: np.ndarray) -> np.ndarray:
        problem.evaluations += len(genes)
        return ev.values(genes, ["top1"])["top1"]

    best = []
    gen = 0
    for budget in grid:
        pop = fill(lambda n: space.sample_genes(n, rng), budget, population)
        acc = accuracy(pop)
        for _ in range(gens_per_budget):
            order = np.argsort(-acc, kind="stable")[:n_parents]
            parents = pop[order]

            def mutate(n: int) -> np.ndarray:
                base = parents[rng.integers(0, len(parents), n)]
                mask = rng.random(base.shape) < mutation_prob
                return np.where(mask, rng.integers(0, upper + 1, size=base.shape), base)

            def cross(n: int) -> np.ndarray:
                a, b = parents[rng.integers(0, len(parents), n)], parents[rng.integers(0, len(parents), n)]
                return np.where(rng.random(a.shape) < 0.5, a, b)

            children = np.concatenate([fill(mutate, budget, n_mutants), fill(cross, budget, population - n_mutants)])
            pop = np.concatenate([parents, children])
            acc = np.concatenate([acc[order], accuracy(children)])
            gen += 1
        best.append(pop[int(np.argmax(acc))])
        if on_generation:
            genes = np.unique(np.array(best), axis=0)
            F = ev.F(genes)
            on_generation(gen, problem.evaluations, F[non_dominated(F)])
    genes = np.unique(np.array(best), axis=0)
    return RunResult(genes, ev.F(genes), np.ones(len(genes), bool))
