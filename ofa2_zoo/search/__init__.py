"""The search stage: multi-objective search over a supernet's space for one hardware profile.

``search(profile=..., supernet=..., algorithm=..., ...)`` returns a :class:`~ofa2_zoo.front.Front`:
the non-dominated, feasible members of the final population with their objective values,
hypervolume (pymoo's indicator, with the reference point recorded), convergence history,
evaluation count, wall time and provenance.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import numpy as np
from pymoo.core.callback import Callback
from pymoo.indicators.hv import HV
from pymoo.optimize import minimize

from .. import __version__
from ..errors import Ofa2Error
from ..front import Front, FrontMember
from ..objectives.accuracy import load_accuracy_predictor
from ..objectives.base import AccuracySource
from ..profiles import HardwareProfile, load_profile
from .algorithms import ALGORITHMS, MOEAS, make_algorithm, non_dominated, run_ofa_evolution, run_random
from .evaluator import OBJECTIVES, Executor, ObjectiveEvaluator, from_minimised, make_executor, to_minimised
from .problem import OFAProblem, reference_point

__all__ = ["search", "ALGORITHMS", "ObjectiveEvaluator", "OFAProblem", "hypervolume", "default_reference_point"]

ProgressFn = Callable[[int, int, float], None]


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of minimisation points ``F`` w.r.t. ``ref`` (pymoo's indicator)."""
    F = np.asarray(F, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    return float(HV(ref_point=ref)(F)) if len(F) else 0.0


def default_reference_point(profile: HardwareProfile, evaluator: ObjectiveEvaluator) -> dict[str, float]:
    """The profile's reference point, else one just beyond the worst value in the space."""
    given = dict(profile.spec.reference_point)
    space = profile.space
    extreme = space.archs_to_genes([space.largest(), space.smallest(space.resolutions[0])])
    for name in evaluator.objectives:
        if name in given:
            continue
        if name == "top1":
            given[name] = 0.0
        else:
            given[name] = float(np.max(evaluator.values(extreme, [name])[name])) * 1.1
    return {k: float(given[k]) for k in evaluator.objectives}


class _Monitor(Callback):
    def __init__(self, evaluator: ObjectiveEvaluator, ref: np.ndarray, generations: int, progress: ProgressFn | None):
        super().__init__()
        self.evaluator, self.ref, self.generations, self.progress = evaluator, ref, generations, progress
        self.history: list[dict[str, float]] = []

    def notify(self, algorithm):
        opt = algorithm.opt
        F = opt.get("F")
        if opt.get("feasible") is not None and len(F):
            F = F[opt.get("feasible")[:, 0]]
        hv = hypervolume(F, self.ref)
        self.history.append({"generation": float(algorithm.n_gen), "evaluations": float(self.evaluator.evaluations),
                             "hypervolume": hv})
        if self.progress:
            self.progress(int(algorithm.n_gen), self.generations, hv)


def search(profile: str | HardwareProfile = "note10", supernet: str | None = None, algorithm: str = "nsga2",
           population: int = 100, generations: int = 100, seed: int = 1, assets: str | os.PathLike | None = None,
           accuracy: AccuracySource | str | None = None, objectives: Sequence[str] | None = None,
           executor: str | Executor = "inprocess", mutation_prob: float = 0.1, crossover_prob: float = 1.0,
           budgets: int = 10, progress: ProgressFn | None = None, supernet_sha256: str | None = None) -> Front:
    """Search ``profile``'s space and return the Pareto front."""
    if population < 2:
        raise Ofa2Error(f"population must be at least 2, got {population}")
    if generations < 1:
        raise Ofa2Error(f"generations must be at least 1, got {generations}")
    if algorithm not in ALGORITHMS:
        raise Ofa2Error(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    prof = load_profile(profile, assets)
    if supernet is not None and supernet not in (prof.spec.supernet, prof.space.name) and \
            supernet.replace("_d234_e346_k357", "") != prof.spec.supernet:
        raise Ofa2Error(f"profile {prof.id} is for supernet {prof.spec.supernet}, not {supernet}")
    names = list(objectives or prof.objectives)
    if isinstance(accuracy, str) or accuracy is None:
        acc = load_accuracy_predictor(accuracy or prof.spec.supernet, assets=assets, space=prof.space) \
            if "top1" in names else None
    else:
        acc = accuracy
    if acc is not None and acc.space.n_genes != prof.space.n_genes:
        raise Ofa2Error(f"accuracy source {acc.provenance.id} is for space {acc.space.name}, not {prof.space.name}")
    ex = make_executor(executor) if isinstance(executor, str) else executor
    evaluator = ObjectiveEvaluator(prof, acc, names, executor=ex)
    problem = OFAProblem(evaluator, prof.constraints)
    ref_nat = default_reference_point(prof, evaluator)
    ref = reference_point(problem, ref_nat)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    pop_F: np.ndarray = np.zeros((0, len(names)))
    try:
        if algorithm in MOEAS:
            algo = make_algorithm(algorithm, population, len(names), mutation_prob, crossover_prob)
            monitor = _Monitor(evaluator, ref, generations, progress)
            res = minimize(problem, algo, ("n_gen", generations), seed=seed, callback=monitor, verbose=False)
            history = monitor.history
            pop = res.pop
            feasible = pop.get("feasible")[:, 0] if pop.get("feasible") is not None else np.ones(len(pop), bool)
            genes = np.asarray(pop.get("X")).round().astype(np.int64)[feasible]
            F = np.asarray(pop.get("F"))[feasible]
            pop_F = F
            keep = non_dominated(F)
            genes, F = genes[keep], F[keep]
        elif algorithm == "random":
            genes, F = run_random(problem, population * generations, rng)
            pop_F = F
        else:
            genes, F = run_ofa_evolution(problem, population, generations, budgets, rng)
            pop_F = F
    finally:
        if ex is not executor:
            ex.close()
    wall = time.perf_counter() - t0
    genes, idx = np.unique(genes, axis=0, return_index=True)
    F = F[idx]
    if not len(genes):
        raise Ofa2Error("the search found no feasible architecture (check the profile's constraints)")
    values = {n: from_minimised(n, F[:, j]) for j, n in enumerate(names)}
    order = np.lexsort([values[n] for n in reversed(names)]) if "latency_ms" not in values else \
        np.lexsort((values.get("top1", np.zeros(len(genes))), values["latency_ms"]))
    archs = prof.space.genes_to_archs(genes[order])
    members = [FrontMember(a, {n: float(values[n][i]) for n in names} | _extra(evaluator, genes[i:i + 1], names))
               for a, i in zip(archs, order)]
    in_front = {tuple(r) for r in F}
    population_points = [{n: float(from_minimised(n, f[j])) for j, n in enumerate(names)}
                         for f in pop_F if tuple(f) not in in_front]
    meta = {n: {"unit": OBJECTIVES[n][0], "direction": "max" if n == "top1" else "min",
                "source": _source(n, prof, acc)} for n in names}
    for extra in ("macs_m", "params_m"):
        if extra not in meta:
            meta[extra] = {"unit": "M", "direction": "min", "source": "analytic"}
    return Front(
        members=members, space=prof.space,
        profile={"id": prof.id, "sha256": prof.sha256, "lut_sha256": prof.lut_sha256},
        supernet={"id": prof.spec.supernet, "sha256": supernet_sha256},
        accuracy={"id": acc.provenance.id, "sha256": acc.provenance.sha256, "source": acc.provenance.source}
        if acc else {"id": None, "sha256": None, "source": None},
        objective_meta=meta, hypervolume=hypervolume(F, ref), reference_point=ref_nat,
        algorithm={"name": algorithm, "objectives": names, "population": population, "generations": generations,
                   "mutation_prob": mutation_prob, "crossover_prob": crossover_prob,
                   **({"budgets": budgets} if algorithm == "ofa-evolution" else {})},
        seed=seed, evaluations=evaluator.evaluations, history=history,
        population=sorted(population_points, key=lambda p: tuple(p.values())),
        package_version=__version__, timing={"wall_time_s": round(wall, 3)},
    )


def _source(name: str, prof: HardwareProfile, acc: AccuracySource | None) -> str:
    if name == "top1":
        return acc.provenance.source
    if name == "latency_ms":
        return "lookup-table" if prof.spec.latency.source == "lut" else "measured"
    return "analytic"


def _extra(evaluator: ObjectiveEvaluator, genes: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """MACs and params of every member, even when they are not search objectives."""
    eff = evaluator._eff
    out = {}
    if "macs_m" not in names:
        out["macs_m"] = float(eff.macs_genes(genes)[0]) / 1e6
    if "params_m" not in names:
        out["params_m"] = float(eff.params_genes(genes)[0]) / 1e6
    return out
