"""The search facade: ``search(...)`` and the checks it makes before any work.

``search(profile=..., supernet=..., algorithm=..., ...)`` returns a :class:`~ofa2_zoo.front.Front`:
the feasible non-dominated members of the final population with their objective values,
the hypervolume with its recorded reference point, the convergence history, the number of
evaluations, the wall time and the provenance of every number. ``check_budget`` and
``check_algorithm`` refuse bad options before a search (``ofa2 run`` checks them first too).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .._version import __version__
from .._threads import limited_threads
from ..errors import SearchError, shorten
from ..progress import ProgressFn
from ..front import Front, FrontMember
from ..objectives.accuracy import load_accuracy_predictor
from ..objectives.base import AccuracySource
from ..profiles import DEFAULT_PROFILE, HardwareProfile, load_profile
from ..profiles.calibration import latency_attribution
from ..defaults import DEFAULT_ALGORITHM, DEFAULT_GENERATIONS, DEFAULT_POPULATION, DEFAULT_SEED
from .algorithms import (BASELINES, MOEAS, check_algorithm,
                         run_moea, run_ofa_evolution, run_random)
from .cache import ObjectiveCache
from .evaluator import OBJECTIVES, ObjectiveEvaluator
from .engine import VECTORISED, run_vectorised
from .executor import Executor, make_executor
from .metrics import ConvergenceHistory, hypervolume, non_dominated
from .pals import ELITE as PALS_ELITE, MORE_GENES as PALS_MORE_GENES, run_pals
from .problem import OFAProblem

__all__ = ["search", "SearchError", "check_budget", "estimate_memory", "default_reference_point", "ENGINES"]



def default_reference_point(profile: HardwareProfile, evaluator: ObjectiveEvaluator) -> dict[str, float]:
    """The profile's ``reference_point``; objectives it omits get top-1 0 % (error 100 %) or
    10 % beyond the largest value in the space (the largest arch at the largest resolution)."""
    given = {k: float(v) for k, v in profile.spec.reference_point.items() if k in evaluator.objectives}
    missing = [n for n in evaluator.objectives if n not in given]
    if missing:
        largest = profile.space.archs_to_genes([profile.space.largest()])
        worst = evaluator.values(largest, [n for n in missing if n != "top1"]) if set(missing) - {"top1"} else {}
        for n in missing:
            given[n] = 0.0 if n == "top1" else float(worst[n][0]) * 1.1
    return {n: given[n] for n in evaluator.objectives}


# ---------------------------------------------------------------------------- budget limits
POPULATION_MAX = 1_000_000
GENERATIONS_MAX = 1_000_000
WORKERS_MAX = 1024
#: seeds are 32-bit (numpy's and pymoo's convention); front.json and the explorer page carry the
#: seed as a number, and JavaScript reads integers exactly only up to 2**53
SEED_MAX = 2**32 - 1
# Rough upper estimates of the memory a search holds (checked before any work):
BYTES_PER_INDIVIDUAL = 4096  # genes of parents + offspring, objective values, predictor activations
PAIRWISE = ("spea2", "agemoea", "moead")  # algorithms that keep (2 * population)^2 float64 distances
BYTES_PER_WORKER = 512 << 20  # a process/Ray worker imports torch and the objectives


def total_memory() -> int:
    """Physical memory of this machine in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def estimate_memory(algorithm: str, population: int, workers: int | None = None) -> int:
    """Bytes a search of this size needs at least (an estimate, to refuse hopeless budgets early)."""
    need = population * BYTES_PER_INDIVIDUAL
    if algorithm in PAIRWISE:
        need += (2 * population) ** 2 * 8
    return need + (workers or 0) * BYTES_PER_WORKER


def _gib(n: float) -> str:
    return f"{n / (1 << 30):,.1f} GiB"


def check_budget(algorithm: str, population: int, generations: int, workers: int | None = None,
                 executor: str = "inprocess") -> None:
    """Refuse a budget before any work: bounds of population/generations/workers, and an
    estimate of the memory it needs against half of this machine's memory.

    Args:
        algorithm: The search algorithm (its memory per individual differs).
        population: Population size.
        generations: Generations.
        workers: Worker processes of the executor, or ``None``.
        executor: ``inprocess``, ``process`` or ``ray``.
    """
    for name, value, low, high in (("population", population, 2, POPULATION_MAX),
                                   ("generations", generations, 1, GENERATIONS_MAX)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise SearchError(f"{name} must be an integer from {low} to {high:,}, got {shorten(value)}")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= WORKERS_MAX:
            raise SearchError(f"workers must be an integer from 1 to {WORKERS_MAX}, got {shorten(workers)}")
        if executor == "inprocess":
            raise SearchError("workers apply to the process and ray executors; the inprocess executor runs in this "
                              "process (give --executor process or ray, or drop --workers)")
    memory = total_memory()
    need = estimate_memory(algorithm, int(population), workers if executor != "inprocess" else None)
    if memory and need > memory // 2:
        per = BYTES_PER_INDIVIDUAL + (32 * population if algorithm in PAIRWISE else 0)
        fit = max(2, int(memory // 2 // per)) if workers is None else None
        hint = f"; use a population of at most {fit:,}" if fit and fit < population else \
            "; use fewer workers or a smaller population"
        raise SearchError(f"a {algorithm} search with population {population:,}"
                          + (f" and {workers} workers" if workers else "")
                          + f" needs about {_gib(need)} of memory; this machine has {_gib(memory)} "
                            f"(at most half of it is used){hint}")


def _check_options(algorithm: str, population: int, generations: int, seed: int, mutation_prob: float | None,
                   crossover_prob: float, workers: int | None = None, executor: object = "inprocess") -> float:
    """Check the options (budget and memory included, see :func:`check_budget`); returns the
    per-gene mutation probability (0.1 unless given)."""
    check_algorithm(algorithm)
    if algorithm == "pals" and mutation_prob is not None:
        raise SearchError("pals mutates 1 + a geometric number of active genes per child; mutation_prob is "
                          "for the other algorithms")
    mutation_prob = 0.1 if mutation_prob is None else mutation_prob
    check_budget(algorithm, population, generations, workers, executor if isinstance(executor, str) else "custom")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
        raise SearchError(f"seed must be an integer from 0 to {SEED_MAX:,}, got {seed!r}")
    for name, p in (("mutation_prob", mutation_prob), ("crossover_prob", crossover_prob)):
        if not 0.0 <= p <= 1.0:
            raise SearchError(f"{name} must lie in [0, 1], got {p}")
    return mutation_prob


ENGINES = ("auto", "vectorised", "pymoo")


def _pick_engine(engine: str, algorithm: str) -> str:
    if engine not in ENGINES:
        raise SearchError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if algorithm in BASELINES:
        return "baseline"
    if algorithm == "pals":
        if engine == "pymoo":
            raise SearchError("pals runs on arrays only; use engine='auto' or 'vectorised'")
        return "vectorised"
    if engine == "auto":
        return "vectorised" if algorithm in VECTORISED else "pymoo"
    if engine == "vectorised" and algorithm not in VECTORISED:
        raise SearchError(f"the vectorised engine runs {', '.join(VECTORISED)}; use engine='pymoo' for {algorithm}")
    return engine


def _accuracy_source(accuracy: AccuracySource | str | None, prof: HardwareProfile, names: Sequence[str],
                     assets) -> AccuracySource | None:
    if "top1" not in names:
        return None
    if isinstance(accuracy, AccuracySource):
        acc = accuracy
    else:
        name = accuracy or prof.accuracy_source
        if name is None:
            raise SearchError(f"profile {prof.id} names no accuracy source for top1 and none is declared for its "
                              f"space {prof.space.name} (fix: add 'accuracy: <source>' to {prof.path}, or pass "
                              "accuracy=...)")
        acc = load_accuracy_predictor(name, assets=assets, space=prof.space)
    if acc.space.n_genes != prof.space.n_genes or acc.space.stage_widths != prof.space.stage_widths:
        raise SearchError(f"accuracy source {acc.provenance.id} is for space {acc.space.name}, "
                          f"not {prof.space.name}")
    return acc


@limited_threads(1)  # ~1,000 small evaluations: spinning BLAS/OpenMP pools only slow them (see _threads)
def search(profile: str | os.PathLike | HardwareProfile = DEFAULT_PROFILE, supernet: str | None = None,
           algorithm: str = DEFAULT_ALGORITHM, population: int = DEFAULT_POPULATION,
           generations: int = DEFAULT_GENERATIONS, seed: int = DEFAULT_SEED,
           assets: str | os.PathLike | None = None, accuracy: AccuracySource | str | None = None,
           objectives: Sequence[str] | None = None, executor: str | Executor = "inprocess",
           workers: int | None = None, cache: ObjectiveCache | str | os.PathLike | None = None,
           mutation_prob: float | None = None, crossover_prob: float = 1.0, budgets: int = 10,
           reference_point: dict[str, float] | None = None, reference_front: np.ndarray | None = None,
           engine: str = "auto", progress: ProgressFn | None = None, supernet_sha256: str | None = None) -> Front:
    """Search ``profile``'s space with ``algorithm`` and return the Pareto front.

    ``profile`` defaults to ``digits-cpu`` (the embedded digits supernet); ``objectives`` to the
    profile's; ``accuracy`` to the source the profile names (``accuracy:`` in its YAML). ``cache`` is an :class:`ObjectiveCache` to share between searches
    in one process, or a folder that keeps it on disk between runs. ``reference_point`` (natural
    units) overrides the profile's; ``reference_front`` (minimisation space) adds IGD to the
    history. ``budgets`` is the number of latency budgets of ``ofa-evolution``. ``engine``:
    ``vectorised`` runs NSGA-II / SMS-EMOA on arrays (:mod:`.engine`), ``pymoo`` through pymoo's
    ``minimize``; ``auto`` picks the vectorised engine where it exists.

    Args:
        profile: The hardware profile: id, YAML path or loaded.
        supernet: The supernet the search is for (must be the profile's; ``None``: the profile's).
        algorithm: ``pals`` (default), a pymoo MOEA, ``random`` or ``ofa-evolution``.
        population: Population size.
        generations: Generations.
        seed: Seed of the search.
        assets: Where OFA's assets are (default: the assets folder or cache).
        accuracy: The accuracy source, or its name (default: the one the profile names).
        objectives: Objective names (default: the profile's).
        executor: ``inprocess``, ``process``, ``ray`` or an :class:`Executor`.
        workers: Worker processes of the ``process`` or ``ray`` executor.
        cache: An :class:`ObjectiveCache`, or a folder that keeps it on disk between runs.
        mutation_prob: Per-gene mutation probability (default 0.1; not for ``pals``).
        crossover_prob: Crossover probability.
        budgets: Number of latency budgets of ``ofa-evolution``.
        reference_point: Hypervolume reference point in natural units (default: the profile's).
        reference_front: A front in minimisation space; IGD to it is added to the history.
        engine: ``vectorised``, ``pymoo`` or ``auto`` (the vectorised engine where it exists).
        progress: Called with ("search", generation, generations, hv=hypervolume); ``None`` for none.
        supernet_sha256: The supernet weights' sha256, recorded in the front.
    """
    mutation_prob = _check_options(algorithm, population, generations, seed, mutation_prob, crossover_prob, workers,
                                   executor)
    engine = _pick_engine(engine, algorithm)
    if cache is not None and not isinstance(cache, ObjectiveCache) and Path(cache).exists() and \
            not Path(cache).is_dir():
        raise SearchError(f"cache {cache} is a file; give a folder (it is created when missing)")
    prof = load_profile(profile, assets)
    if supernet is not None and supernet not in (prof.spec.supernet, prof.space.name) and \
            supernet.replace("_d234_e346_k357", "") != prof.spec.supernet:
        raise SearchError(f"profile {prof.id} is for supernet {prof.spec.supernet}, not {supernet}")
    names = list(objectives or prof.objectives)
    if len(names) < 2 or len(set(names)) != len(names):
        raise SearchError(f"a search needs at least two distinct objectives, got {names}")
    if "latency_ms" in names and prof.latency_source != "measure":
        prof.compiled  # a missing table (e.g. one only a GPU can measure) is said before any download
    acc = _accuracy_source(accuracy, prof, names, assets)
    cache_dir = None if cache is None or isinstance(cache, ObjectiveCache) else Path(cache)
    store = ObjectiveCache.load(cache_dir) if cache_dir else cache
    ex = make_executor(executor, workers)
    try:
        evaluator = ObjectiveEvaluator(prof, acc, names, executor=ex, cache=store)
        problem = OFAProblem(evaluator, prof.constraints)
        ref_nat = dict(reference_point) if reference_point else default_reference_point(prof, evaluator)
        if sorted(ref_nat) != sorted(names):
            raise SearchError(f"reference point must give exactly the objectives {names}, got {sorted(ref_nat)}")
        ref_nat = {n: float(ref_nat[n]) for n in names}
        history = ConvergenceHistory(problem.reference_point(ref_nat), reference_front)
        t0 = time.perf_counter()

        def on_generation(gen: int, evaluations: int, F: np.ndarray) -> None:
            hv = history.record(gen, evaluations, F, time.perf_counter() - t0)
            if progress:
                progress("search", gen, generations, hv=hv)

        if algorithm == "pals":
            run = run_pals(problem, population, generations, seed, history.reference_point, crossover_prob,
                           on_generation)
        elif engine == "vectorised":
            run = run_vectorised(algorithm, problem, population, generations, seed, mutation_prob, crossover_prob,
                                 on_generation)
        elif algorithm in MOEAS:
            run = run_moea(algorithm, problem, population, generations, seed, mutation_prob, crossover_prob,
                           on_generation)
        elif algorithm == "random":
            run = run_random(problem, population, generations, seed, on_generation)
        else:
            run = run_ofa_evolution(problem, population, generations, seed, budgets, mutation_prob, on_generation)
        wall = time.perf_counter() - t0
        settings = dict(engine=engine, population=population, generations=generations)
        if algorithm == "pals":
            settings.update(crossover_prob=crossover_prob, elite=PALS_ELITE, more_genes_prob=PALS_MORE_GENES)
        else:
            settings.update(mutation_prob=mutation_prob, crossover_prob=crossover_prob,
                            **({"budgets": budgets} if algorithm == "ofa-evolution" else {}))
        front = _make_front(prof, acc, evaluator, problem, run, names, ref_nat, history, algorithm, settings,
                            seed, supernet_sha256, wall)
    finally:
        if ex is not executor:
            ex.close()
    if cache_dir:
        store.save(cache_dir)
    return front


def _make_front(prof, acc, evaluator, problem, run, names, ref_nat, history, algorithm, settings, seed,
                supernet_sha256, wall) -> Front:
    genes, F = run.genes[run.feasible], run.F[run.feasible]
    if not len(genes):
        raise SearchError("the search found no feasible architecture (check the profile's constraints)")
    genes, first = np.unique(genes, axis=0, return_index=True)
    F = F[first]
    keep = non_dominated(F)
    in_front = np.zeros(len(genes), bool)
    in_front[keep] = True
    extra = [n for n in ("macs_m", "params_m") if n not in names]
    values = evaluator.values(genes, names + extra)
    sort_keys = [values[n] if n != "top1" else -values[n] for n in (["latency_ms"] if "latency_ms" in names
                                                                    else []) + names]
    order = np.lexsort(list(reversed(sort_keys)))
    members, population = [], []
    archs = prof.space.genes_to_archs(genes[order])
    for arch, i in zip(archs, order):
        obj = {n: float(values[n][i]) for n in names + extra}
        if in_front[i]:
            members.append(FrontMember(arch, obj))
        else:
            population.append({n: obj[n] for n in names})
    meta = {n: {"unit": OBJECTIVES[n][0], "direction": "max" if n == "top1" else "min",
                "source": evaluator.sources[n].kind} for n in names + extra}
    return Front(
        members=members, space=prof.space,
        profile={"id": prof.id, "sha256": prof.sha256, "lut_sha256": prof.lut_sha256,
                 **(latency_attribution(prof) if "latency_ms" in names else {})},
        supernet={"id": prof.spec.supernet, "sha256": supernet_sha256},
        accuracy={"id": acc.provenance.id, "sha256": acc.provenance.sha256, "source": acc.provenance.source}
        if acc else {"id": None, "sha256": None, "source": None},
        objective_meta=meta, hypervolume=hypervolume(F[keep], history.reference_point), reference_point=ref_nat,
        algorithm={"name": algorithm, "objectives": names, **settings},
        seed=int(seed), evaluations=int(problem.evaluations), history=history.rows, population=population,
        package_version=__version__,
        timing={"wall_time_s": round(wall, 3), "generation_s": history.seconds,
                "computed": {k: int(v) for k, v in evaluator.computed.items()}},
    )
