"""Search algorithms behind one name: pymoo's MOEAs and two baselines.

- ``nsga2``, ``smsemoa``, ``spea2``, ``nsga3``, ``moead``, ``agemoea``: pymoo algorithms with
  OFA²'s operators (canonical random sampling, uniform crossover with probability 1, per-gene
  reset mutation with probability 0.1, canonical repair, duplicate elimination);
- ``random``: as many uniformly random archs as the MOEAs evaluate, keep the non-dominated;
- ``ofa-evolution``: OFA's own search — single-objective evolution of accuracy under a
  latency budget by rejection sampling (population P, 25 % parents, half mutation / half
  crossover children, gene mutation probability 0.1) — run once per budget over a grid of
  budgets, the way OFA gets several networks. Its evaluation budget is split over the budgets.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.algorithm import Algorithm
from pymoo.operators.crossover.ux import UniformCrossover
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.util.ref_dirs import get_reference_directions

from ..errors import Ofa2Error
from .problem import CanonicalRepair, CanonicalSampling, GeneResetMutation, OFAProblem, duplicate_elimination

MOEAS = ("nsga2", "smsemoa", "spea2", "nsga3", "moead", "agemoea")
BASELINES = ("random", "ofa-evolution")
ALGORITHMS = MOEAS + BASELINES


def _operators(mutation_prob: float, crossover_prob: float) -> dict:
    return dict(sampling=CanonicalSampling(), crossover=UniformCrossover(prob=crossover_prob),
                mutation=GeneResetMutation(mutation_prob), repair=CanonicalRepair(),
                eliminate_duplicates=duplicate_elimination())


def make_algorithm(name: str, population: int, n_obj: int, mutation_prob: float = 0.1,
                   crossover_prob: float = 1.0) -> Algorithm:
    """A configured pymoo algorithm (MOEAs only; baselines run in :func:`run_baseline`)."""
    ops = _operators(mutation_prob, crossover_prob)
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
        ref_dirs = get_reference_directions("das-dennis", n_obj, n_partitions=max(1, population - 1) if n_obj == 2
                                            else max(1, int(round(population ** (1 / (n_obj - 1))))))
        if name == "nsga3":
            from pymoo.algorithms.moo.nsga3 import NSGA3

            return NSGA3(ref_dirs=ref_dirs, pop_size=population, **ops)
        from pymoo.algorithms.moo.moead import MOEAD

        ops.pop("eliminate_duplicates")
        return MOEAD(ref_dirs=ref_dirs, n_neighbors=min(15, len(ref_dirs)), **ops)
    if name == "agemoea":
        try:
            from pymoo.algorithms.moo.age import AGEMOEA
            import numba  # noqa: F401  (AGE-MOEA's survival needs it)
        except ImportError:
            raise Ofa2Error("agemoea needs numba: pip install numba") from None
        return AGEMOEA(pop_size=population, **ops)
    raise Ofa2Error(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``F`` (minimisation)."""
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    return NonDominatedSorting().do(F, only_non_dominated_front=True)


def run_random(problem: OFAProblem, n_evals: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Genes and F of the feasible non-dominated set of ``n_evals`` random archs."""
    genes = np.unique(problem.space.sample_genes(n_evals, rng), axis=0)
    out: dict = {}
    problem._evaluate(genes, out)
    feasible = np.all(out["G"] <= 0, axis=1) if "G" in out else np.ones(len(genes), bool)
    genes, F = genes[feasible], out["F"][feasible]
    keep = non_dominated(F)
    return genes[keep], F[keep]


def run_ofa_evolution(problem: OFAProblem, population: int, generations: int, n_budgets: int,
                      rng: np.random.Generator, history: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """OFA's constrained single-objective evolution, once per latency budget."""
    ev = problem.evaluator
    if "latency_ms" not in ev.objectives or "top1" not in ev.objectives:
        raise Ofa2Error("ofa-evolution needs the objectives latency_ms and top1")
    space = problem.space
    lo = float(ev.values(space.archs_to_genes([space.smallest(space.resolutions[0])]))["latency_ms"][0])
    hi = float(ev.values(space.archs_to_genes([space.largest()]))["latency_ms"][0])
    budgets = np.linspace(lo, hi, n_budgets + 1)[1:]
    gens = max(1, generations // n_budgets)
    n_parents = max(2, int(round(0.25 * population)))
    n_mut = int(round(0.5 * population))
    best_rows = []

    def feasible(genes: np.ndarray, budget: float) -> np.ndarray:
        return ev.values(genes, ["latency_ms"])["latency_ms"] <= budget

    def fill(make, budget: float, n: int) -> np.ndarray:
        rows = []
        tries = 0
        while sum(len(r) for r in rows) < n:
            cand = space.canonicalize_genes(make(n))
            rows.append(cand[feasible(cand, budget)])
            tries += 1
            if tries > 1000:
                raise Ofa2Error(f"no arch found under the latency budget {budget:.3f} ms")
        return np.concatenate(rows)[:n]

    upper = space.gene_upper_bounds
    for budget in budgets:
        pop = fill(lambda n: space.sample_genes(n, rng), budget, population)
        for _ in range(gens):
            acc = ev.values(pop, ["top1"])["top1"]
            parents = pop[np.argsort(-acc, kind="stable")[:n_parents]]

            def mutate(n):
                base = parents[rng.integers(0, len(parents), n)]
                mask = rng.random(base.shape) < 0.1
                return np.where(mask, rng.integers(0, upper + 1, size=base.shape), base)

            def cross(n):
                a = parents[rng.integers(0, len(parents), n)]
                b = parents[rng.integers(0, len(parents), n)]
                return np.where(rng.random(a.shape) < 0.5, a, b)

            pop = np.concatenate([parents, fill(mutate, budget, n_mut), fill(cross, budget, population - n_parents - n_mut)])
        acc = ev.values(pop, ["top1"])["top1"]
        best_rows.append(pop[int(np.argmax(acc))])
        if history is not None:
            history.append(ev.evaluations)
    genes = np.unique(np.array(best_rows), axis=0)
    F = problem.evaluator.F(genes)
    keep = non_dominated(F)
    return genes[keep], F[keep]
