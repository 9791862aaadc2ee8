"""The search checked against references that do not use the code under test: Pareto dominance
pair by pair, a problem that records every genome the algorithms ask to evaluate, and the
latency budgets of ``ofa-evolution`` recomputed from the profile.

These run on the embedded default profile (digits-cpu: shipped table and predictor), so they
need no official assets. Its space is small, which makes repeated genomes frequent: a missing
duplicate elimination shows up at once.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ofa2_zoo import Ofa2Error
from ofa2_zoo.objectives.accuracy import load_accuracy_predictor
from ofa2_zoo.profiles import load_profile
from ofa2_zoo.search import hypervolume, igd, non_dominated, search
from ofa2_zoo.search.algorithms import run_moea
from ofa2_zoo.search.engine import run_vectorised
from ofa2_zoo.search.evaluator import ObjectiveEvaluator
from ofa2_zoo.search.metrics import ConvergenceHistory
from ofa2_zoo.search.problem import OFAProblem

from _search_helpers import brute_force_non_dominated

PROFILE = "digits-cpu"


# ---------------------------------------------------------------------------- dominance
@pytest.mark.parametrize("seed", range(6))
def test_non_dominated_equals_pairwise_dominance(seed):
    rng = np.random.default_rng(seed)
    cases = [
        rng.random((60, 2)),
        rng.random((40, 3)),
        rng.integers(0, 5, (80, 2)).astype(float),  # many ties and exact duplicates
        rng.integers(0, 3, (50, 3)).astype(float),
        np.repeat(rng.random((1, 2)), 4, axis=0),  # all rows equal: none dominates another
    ]
    for F in cases:
        assert non_dominated(F).tolist() == brute_force_non_dominated(F)


def test_non_dominated_small_cases_by_hand():
    F = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [2.0, 2.0], [5.0, 1.0], [1.0, 6.0]])
    # [3, 3] is dominated by [2, 2]; [1, 6] by [1, 5]; the two [2, 2] rows tie and both stay
    assert non_dominated(F).tolist() == [0, 1, 3, 4]
    empty = np.zeros((0, 2))
    assert empty[non_dominated(empty)].shape == (0, 2)  # an index array even when there is nothing
    assert non_dominated(np.array([[4.0, 4.0]])).tolist() == [0]


def test_convergence_history_rows_by_hand():
    """Two points spanning 3 + 3 - 1 = 5 units of area below (4, 4), a dominated third point that
    adds nothing, and IGD measured from the non-dominated points only."""
    history = ConvergenceHistory(np.array([4.0, 4.0]), reference_front=np.array([[2.0, 3.5]]))
    F = np.array([[1.0, 3.0], [3.0, 1.0], [2.0, 3.5]])  # [2, 3.5] is dominated by [1, 3] (and nearest the front)
    assert history.record(np.int64(2), np.int64(40), F, 1.23456789) == 5.0
    history.record(3, 50, np.zeros((0, 2)), 2.0)
    assert history.rows == [{"generation": 2, "evaluations": 40, "hypervolume": 5.0, "igd": math.sqrt(1.25)},
                            {"generation": 3, "evaluations": 50, "hypervolume": 0.0}]
    assert [type(v) for v in history.rows[0].values()] == [int, int, float, float]
    assert history.seconds == [1.2346, 2.0]
    plain = ConvergenceHistory(np.array([4.0, 4.0]))
    plain.record(1, 10, F, 0.5)
    assert plain.rows == [{"generation": 1, "evaluations": 10, "hypervolume": 5.0}]


def test_hypervolume_and_igd_by_hand():
    ref = np.array([4.0, 4.0])
    assert hypervolume(np.array([[1.0, 3.0], [3.0, 1.0]]), ref) == 5.0
    assert hypervolume([[1, 3], [3, 1]], [4, 4]) == 5.0  # lists of ints work too
    assert hypervolume(np.array([[4.0, 1.0], [5.0, 0.0]]), ref) == 0.0  # on or beyond the reference: nothing
    assert hypervolume(np.zeros((0, 2)), ref) == 0.0
    # 3 objectives (pymoo's indicator): two unit-overlapping boxes below (2, 2, 2)
    assert hypervolume(np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]), np.full(3, 2.0)) == pytest.approx(4 + 2 - 1)
    assert igd([[1, 3], [3, 1]], [[1, 2], [3, 3]]) == 1.5  # mean distance from each reference point: 1 and 2
    assert isinstance(igd([[1.0, 1.0]], [[1.0, 1.0]]), float)


# ---------------------------------------------------------------------------- repeated genomes
class RecordingProblem(OFAProblem):
    """The search problem, recording every batch of genomes an algorithm asks to evaluate, as
    architecture strings (two genomes of one network give one string)."""

    def __init__(self, evaluator: ObjectiveEvaluator, constraints: dict | None = None):
        super().__init__(evaluator, constraints)
        self.batches: list[list[str]] = []

    def _evaluate(self, X, out, *args, **kwargs):
        archs = self.space.genes_to_archs(np.asarray(X).round().astype(np.int64))
        self.batches.append([a.to_string() for a in archs])
        super()._evaluate(X, out, *args, **kwargs)


@pytest.fixture(scope="module")
def digits():
    prof = load_profile(PROFILE)
    return prof, load_accuracy_predictor(prof.spec.supernet, space=prof.space)


def _repeats(batch: list[str]) -> int:
    return len(batch) - len(set(batch))


@pytest.mark.parametrize("engine, algorithm", [("vectorised", "nsga2"), ("vectorised", "smsemoa"),
                                               ("vectorised", "spea2"), ("pymoo", "nsga2"), ("pymoo", "spea2")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offspring_repeat_no_genome_of_the_population_or_of_each_other(digits, engine, algorithm, seed):
    """Two generations: the random initial population (all of it survives into generation 2), then
    one batch of offspring. Few mutations and half the pairs uncrossed make copies of parents
    common, so without duplicate elimination the offspring repeat population members."""
    prof, acc = digits
    problem = RecordingProblem(ObjectiveEvaluator(prof, acc, prof.objectives))
    run = run_vectorised if engine == "vectorised" else run_moea
    run(algorithm, problem, population=20, generations=2, seed=seed, mutation_prob=0.02, crossover_prob=0.5)
    assert len(problem.batches) == 2
    initial, offspring = problem.batches
    assert _repeats(initial) == 0 and _repeats(offspring) == 0
    assert sorted(set(offspring) & set(initial)) == []
    if engine == "vectorised":  # re-drawn until the population is full (pymoo gives up earlier)
        assert len(initial) == len(offspring) == 20
    assert problem.evaluations == len(initial) + len(offspring)


def test_the_recording_problem_sees_repeats_when_elimination_is_off(digits):
    """The reference itself: pymoo's NSGA-II without duplicate elimination repeats genomes here."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    from ofa2_zoo.search.operators import (CanonicalRepair, CanonicalSampling, GeneResetMutation,
                                           UniformCrossover)

    prof, acc = digits
    problem = RecordingProblem(ObjectiveEvaluator(prof, acc, prof.objectives))
    algo = NSGA2(pop_size=20, sampling=CanonicalSampling(), crossover=UniformCrossover(prob=0.5),
                 mutation=GeneResetMutation(0.02), repair=CanonicalRepair(), eliminate_duplicates=False)
    minimize(problem, algo, ("n_gen", 2), seed=0, verbose=False)
    initial, offspring = problem.batches
    assert len(set(offspring) & set(initial)) + _repeats(offspring) > 0


# ---------------------------------------------------------------------------- ofa-evolution budgets
def test_ofa_evolution_keeps_each_budgets_best_within_that_budget(digits):
    """OFA's search runs once per latency budget; budgets are spread evenly between the fastest
    arch (smallest, lowest resolution) and the slowest (largest). Each budget's best arch must
    lie within it, so the sorted bests (front members and the dominated rest) lie below the
    sorted budgets one by one."""
    prof, _ = digits
    space = prof.space
    budgets = 4
    lo, hi = prof.latency([space.smallest(space.resolutions[0]), space.largest()])
    grid = [lo + (hi - lo) * (i + 1) / budgets for i in range(budgets)]
    front = search(PROFILE, algorithm="ofa-evolution", population=16, generations=8, seed=3, budgets=budgets)
    bests = sorted([m.objectives["latency_ms"] for m in front.members] +
                   [p["latency_ms"] for p in front.population])
    assert len(bests) == budgets  # one distinct best per budget for this seed
    for best, budget in zip(bests, grid):
        assert best <= budget + 1e-12
    assert front.values("latency_ms").min() <= grid[0]
    assert front.algorithm["budgets"] == budgets


# ---------------------------------------------------------------------------- problem and operators by hand
def test_problem_constraints_and_reference_point_by_hand(digits):
    prof, acc = digits
    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    genes = prof.space.sample_genes(30, 4)
    lat = prof.latency_genes(genes)
    lo, hi = float(np.quantile(lat, 0.25)), float(np.quantile(lat, 0.75))
    problem = OFAProblem(evaluator, {"latency_ms": {"min": lo, "max": hi}, "top1": {"max": None}})
    assert (problem.n_var, problem.n_obj, problem.n_ieq_constr) == (prof.space.n_genes, 2, 2)
    assert problem.xl.tolist() == [0] * prof.space.n_genes and problem.xu.tolist() == prof.space.gene_upper_bounds.tolist()
    G = problem.constraint_values(genes)  # columns sorted by objective, then bound: max before min
    np.testing.assert_allclose(G, np.column_stack([lat - hi, lo - lat]), rtol=1e-12, atol=0)
    assert problem.feasible(genes).tolist() == ((lat >= lo) & (lat <= hi)).tolist()
    out: dict = {}
    problem._evaluate(genes - 0.4, out)  # pymoo may hand over floats: rounded, not cut
    np.testing.assert_allclose(out["F"][:, 0], lat, rtol=1e-12)
    np.testing.assert_allclose(out["F"][:, 1], 100 - acc.predict_genes(genes), rtol=1e-12)
    assert out["G"].tolist() == G.tolist() and problem.evaluations == 30
    problem._evaluate(genes[:4], {})
    assert problem.evaluations == 34
    assert problem.reference_point({"latency_ms": 2.5, "top1": 60.0}).tolist() == [2.5, 40.0]
    free = OFAProblem(evaluator)
    assert free.n_ieq_constr == 0 and free.feasible(genes).all() and free.constraints == []
    out = {}
    free._evaluate(genes, out)
    assert "G" not in out
    with pytest.raises(Ofa2Error, match="constraint on latency_ms: unknown bound 'avg'; use max or min"):
        OFAProblem(evaluator, {"latency_ms": {"avg": 1.0}})
    with pytest.raises(Ofa2Error, match="constraint on params_m: no source for that objective in this search"):
        OFAProblem(_without(evaluator, "params_m"), {"params_m": {"max": 1.0}})


def test_problem_bounds_are_inclusive(digits):
    """An arch exactly at a bound is feasible (g = 0), a hair beyond it is not."""
    prof, acc = digits
    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    genes = prof.space.sample_genes(12, 6)
    lat = prof.latency_genes(genes)
    at = float(np.sort(lat)[5])  # six archs at or below, six above
    for spec, feasible, count in (({"max": at}, lat <= at, 6), ({"min": at}, lat >= at, 7)):
        problem = OFAProblem(evaluator, {"latency_ms": spec})
        assert problem.feasible(genes).tolist() == feasible.tolist() and feasible.sum() == count
        assert problem.constraint_values(genes)[lat == at].tolist() == [[0.0]]
    assert OFAProblem(evaluator, {"latency_ms": {"max": at - 1e-9}}).feasible(genes).sum() == 5


def test_problem_constraints_on_objectives_outside_the_search(digits):
    """A constraint may bound an objective that is not searched (parameters, MACs: always available)."""
    from ofa2_zoo.objectives.efficiency import efficiency_model

    prof, acc = digits
    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    genes = prof.space.sample_genes(10, 8)
    params = efficiency_model(prof.space).params_genes(genes) / 1e6
    lat = prof.latency_genes(genes)
    cap = float(np.median(params))
    problem = OFAProblem(evaluator, {"params_m": {"max": cap}, "latency_ms": {"min": 0.0}})
    np.testing.assert_allclose(problem.constraint_values(genes), np.column_stack([-lat, params - cap]), rtol=1e-12)
    assert problem.feasible(genes).tolist() == (params <= cap).tolist()
    assert problem.vtype is int  # integer variables, declared to pymoo


def _without(evaluator, name):
    evaluator.sources = {k: v for k, v in evaluator.sources.items() if k != name}
    return evaluator


def test_operators_by_hand(digits):
    from pymoo.core.population import Population

    from ofa2_zoo.search.operators import (CanonicalDuplicateElimination, CanonicalRepair, CanonicalSampling,
                                           GeneResetMutation, gene_keys)

    prof, acc = digits
    problem = OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives))
    space = prof.space
    X = space.sample_genes(6, 0)
    # byte keys: equal rows have equal keys, any other row another key (floats are rounded first)
    keys = gene_keys(np.concatenate([X, X[:2] + 0.2]))
    assert (keys[:2] == keys[6:]).all() and len(set(keys[:6].tolist())) == len(set(map(tuple, X.tolist())))
    assert (gene_keys(X + 0.4) == gene_keys(X)).all() and (gene_keys(X - 0.4) == gene_keys(X)).all()  # rounded, not cut
    assert keys.shape == (8,)  # one key per row
    # sampling: the space's own uniform canonical sampler
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(CanonicalSampling()._do(problem, 7, random_state=rng), space.sample_genes(7, 5))
    # mutation: probability 0 changes nothing, 1 redraws every gene within its bounds
    same = GeneResetMutation(0.0)._do(problem, X - 0.4, random_state=np.random.default_rng(0))  # rounded
    assert same.tolist() == X.tolist() and same.dtype == np.int64
    big = np.tile(X, (200, 1))
    redrawn = GeneResetMutation(1.0)._do(problem, big, random_state=np.random.default_rng(0))
    assert (redrawn >= 0).all() and (redrawn <= space.gene_upper_bounds).all()
    assert all(set(redrawn[:, g].tolist()) == set(range(u + 1)) for g, u in enumerate(space.gene_upper_bounds))
    share = (GeneResetMutation(0.3)._do(problem, big, random_state=np.random.default_rng(1)) != big).mean()
    bounds = space.gene_upper_bounds
    expected = 0.3 * np.mean(bounds / (bounds + 1))  # a redrawn gene keeps its value with 1 / choices
    assert abs(share - expected) < 0.02
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"gene_prob must lie in \\[0, 1\\], got {p}"):
            GeneResetMutation(p)
    assert GeneResetMutation().gene_prob == 0.1  # OFA2's default: each gene reset with probability 0.1
    assert GeneResetMutation(0.2, name="reset").name == "reset"  # pymoo's operator options pass through
    # repair: canonical genes
    noisy = np.full((1, space.n_genes), 0)
    noisy[0, :space.n_blocks] = 1  # every kernel gene set, depth genes at their smallest
    np.testing.assert_array_equal(CanonicalRepair()._do(problem, noisy - 0.4), space.canonicalize_genes(noisy))
    # duplicate elimination: within a population the first copy stays; against another, every copy goes
    pop = Population.new(X=np.concatenate([X[:3], X[:1], X[3:]]).astype(float))
    elim = CanonicalDuplicateElimination()
    assert elim._do(pop, None, np.zeros(len(pop), bool)).tolist() == [False] * 3 + [True] + [False] * 3
    other = Population.new(X=X[[1, 4]].astype(float))
    assert elim._do(pop, other, np.zeros(len(pop), bool)).tolist() == [False, True, False, False, False, True, False]
    pre = np.zeros(len(pop), bool)
    pre[0] = True  # marks made by pymoo before stay
    assert elim._do(pop, other, pre)[0]


# ---------------------------------------------------------------------------- algorithm configuration
@pytest.mark.parametrize("name", ["nsga2", "smsemoa", "spea2", "nsga3", "moead"])
def test_moeas_get_ofa2s_operators(name):
    """The module docstring's settings: canonical sampling, uniform crossover with probability 1,
    per-gene reset mutation 0.1, canonical repair, exact duplicate elimination (not MOEA/D)."""
    from ofa2_zoo.search.algorithms import make_algorithm
    from ofa2_zoo.search.operators import (CanonicalDuplicateElimination, CanonicalRepair, CanonicalSampling,
                                           GeneResetMutation)

    algo = make_algorithm(name, 10, 2)
    assert type(algo).__name__ == {"nsga2": "NSGA2", "smsemoa": "SMSEMOA", "spea2": "SPEA2", "nsga3": "NSGA3",
                                   "moead": "MOEAD"}[name]
    assert algo.pop_size == 10
    assert isinstance(algo.initialization.sampling, CanonicalSampling) and isinstance(algo.repair, CanonicalRepair)
    assert isinstance(algo.mating.mutation, GeneResetMutation) and algo.mating.mutation.gene_prob == 0.1
    assert algo.mating.crossover.prob.value == 1.0
    assert isinstance(algo.eliminate_duplicates, CanonicalDuplicateElimination) == (name != "moead")
    custom = make_algorithm(name, 10, 2, mutation_prob=0.3, crossover_prob=0.6)
    assert (custom.mating.mutation.gene_prob, custom.mating.crossover.prob.value) == (0.3, 0.6)


@pytest.mark.parametrize("population, n_obj, partitions", [(8, 2, 7), (1, 2, 1), (16, 3, 4), (36, 3, 6), (5, 4, 2),
                                                         (2, 3, 1)])
def test_nsga3_and_moead_reference_directions(population, n_obj, partitions):
    """Das-Dennis directions: with two objectives one per population member (population - 1
    partitions, at least 1), else population ** (1 / (n_obj - 1)) partitions, rounded; the
    lattice has C(partitions + n_obj - 1, n_obj - 1) points. MOEA/D: at most 15 neighbours."""
    from math import comb

    from ofa2_zoo.search.algorithms import make_algorithm

    n_dirs = comb(partitions + n_obj - 1, n_obj - 1)
    nsga3 = make_algorithm("nsga3", population, n_obj)
    assert nsga3.ref_dirs.shape == (n_dirs, n_obj) and nsga3.pop_size == population
    np.testing.assert_allclose(nsga3.ref_dirs.sum(axis=1), 1.0)
    assert sorted(set(np.round(nsga3.ref_dirs * partitions, 9).ravel().tolist())) == list(range(partitions + 1))
    moead = make_algorithm("moead", population, n_obj)
    assert moead.ref_dirs.shape == (n_dirs, n_obj) and moead.n_neighbors == min(15, n_dirs)


def test_algorithm_name_errors():
    from ofa2_zoo.search.algorithms import AlgorithmError, make_algorithm

    with pytest.raises(AlgorithmError) as info:
        make_algorithm("nsga9", 10, 2)
    assert str(info.value) == ("unknown algorithm 'nsga9'; choose one of pals, nsga2, smsemoa, spea2, nsga3, moead, "
                               "agemoea, random, ofa-evolution")
    for baseline in ("random", "ofa-evolution", "pals"):
        with pytest.raises(AlgorithmError) as info:
            make_algorithm(baseline, 10, 2)
        assert str(info.value) == f"{baseline!r} is a baseline, not a pymoo algorithm"


# ---------------------------------------------------------------------------- both engines end to end
@pytest.mark.parametrize("engine", ["vectorised", "pymoo"])
@pytest.mark.parametrize("name", ["nsga2", "smsemoa", "spea2"])
def test_run_reports_each_generation_and_keeps_the_global_front(digits, capsys, engine, name):
    """Either engine, under a latency cap: one report per generation with the evaluations so far and the feasible
    population's objectives; the result's F and feasibility are the evaluator's and the problem's
    own; and (elitism) every feasible arch that no evaluated feasible arch dominates survives to
    the end, checked pair by pair over everything the run evaluated."""
    prof, acc = digits
    lat = prof.latency_genes(prof.space.sample_genes(40, 9))
    cap = float(np.median(lat))
    problem = RecordingProblem(ObjectiveEvaluator(prof, acc, prof.objectives), {"latency_ms": {"max": cap}})
    calls = []
    run = run_vectorised if engine == "vectorised" else run_moea
    res = run(name, problem, population=12, generations=4, seed=0,
              on_generation=lambda g, e, F: calls.append((g, e, np.array(F))))
    assert capsys.readouterr().out == ""  # a library call prints nothing
    assert [(g, e) for g, e, _ in calls] == [(1, 12), (2, 24), (3, 36), (4, 48)] and problem.evaluations == 48
    assert res.genes.shape == (12, prof.space.n_genes) and res.genes.dtype == np.int64
    assert len({tuple(g) for g in res.genes.tolist()}) == 12
    np.testing.assert_allclose(res.F, problem.evaluator.F(res.genes), rtol=1e-12)
    assert res.feasible.tolist() == problem.feasible(res.genes).tolist()
    np.testing.assert_array_equal(calls[-1][2], res.F[res.feasible])
    assert all(len(F) and (F[:, 0] <= cap).all() for _, _, F in calls)
    seen = [a for batch in problem.batches for a in batch]
    assert len(seen) == len(set(seen)) == 48  # no arch evaluated twice
    if engine == "vectorised":  # the first generation: the space's uniform sampler on the seeded generator
        first = [a.to_string() for a in prof.space.genes_to_archs(prof.space.sample_genes(12, np.random.default_rng(0)))]
        assert problem.batches[0] == first
    genes = prof.space.archs_to_genes(seen)
    ok = problem.feasible(genes)
    F_all = problem.evaluator.F(genes[ok])
    feasible_archs = [a for a, keep in zip(seen, ok) if keep]
    global_front = {feasible_archs[i] for i in brute_force_non_dominated(F_all)}
    final = {a.to_string() for a in prof.space.genes_to_archs(res.genes)}
    assert global_front and global_front <= final
    again = run(name, OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives), {"latency_ms": {"max": cap}}),
                population=12, generations=4, seed=0)
    assert again.genes.tolist() == res.genes.tolist()  # the seed fixes the run


def test_vectorised_engine_refuses_other_algorithms(digits):
    from ofa2_zoo.search.algorithms import AlgorithmError

    prof, acc = digits
    with pytest.raises(AlgorithmError) as info:
        run_vectorised("nsga3", OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives)), 10, 2, 0)
    assert str(info.value) == "the vectorised engine runs nsga2, smsemoa, spea2, not 'nsga3'"


# ---------------------------------------------------------------------------- the baselines by hand
def test_random_search_is_the_feasible_front_of_its_samples(digits):
    """``random``: each generation one batch of uniformly random archs (the space's sampler on the
    seeded generator); the result is the feasible front of everything sampled, pair by pair."""
    from ofa2_zoo.search.algorithms import run_random

    prof, acc = digits
    space = prof.space
    rng = np.random.default_rng(4)
    expected = [[a.to_string() for a in space.genes_to_archs(space.sample_genes(10, rng))] for _ in range(3)]
    first = space.archs_to_genes(expected[0])
    cap = float(prof.latency_genes(first)[np.argmax(acc.predict_genes(first))])  # the bound is inclusive: this
    problem = RecordingProblem(ObjectiveEvaluator(prof, acc, prof.objectives), {"latency_ms": {"max": cap}})
    calls = []  # arch, the most accurate of the first batch, is on the first generation's front
    res = run_random(problem, population=10, generations=3, seed=4,
                     on_generation=lambda g, e, F: calls.append((g, e, np.array(F))))
    assert problem.batches == expected
    assert [(g, e) for g, e, _ in calls] == [(1, 10), (2, 20), (3, 30)] and problem.evaluations == 30
    for n, (_, _, F) in enumerate(calls, start=1):  # the feasible front of the first n batches
        seen = [a for batch in expected[:n] for a in batch]
        genes = space.archs_to_genes(seen)
        genes = genes[problem.feasible(genes)]
        F_ref = problem.evaluator.F(genes)
        assert sorted(map(tuple, F.tolist())) == sorted(map(tuple, F_ref[brute_force_non_dominated(F_ref)].tolist()))
    np.testing.assert_array_equal(res.F, calls[-1][2])
    np.testing.assert_allclose(res.F, problem.evaluator.F(res.genes), rtol=1e-12)
    assert res.feasible.tolist() == [True] * len(res.genes) and problem.feasible(res.genes).all()
    assert res.genes.dtype == np.int64  # gene indices


def test_ofa_evolution_counts_budgets_and_errors(digits):
    """Per budget: one random population, then ``generations // budgets`` (at least one)
    generations of ``population`` children, each evaluated once for accuracy; the result is
    each budget's most accurate arch, which lies within that budget."""
    from ofa2_zoo.search.algorithms import AlgorithmError, run_ofa_evolution

    prof, acc = digits
    space = prof.space
    lo, hi = prof.latency([space.smallest(space.resolutions[0]), space.largest()])
    for generations, budgets, per_budget in ((8, 4, 2), (2, 4, 1), (9, 2, 4)):
        evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
        calls = []
        values = evaluator.values

        def recording(genes, names=None, values=values, calls=calls):
            out = values(genes, names)
            if names == ["top1"]:
                calls.append((space.canonicalize_genes(genes), out["top1"]))
            return out

        evaluator.values = recording
        problem = OFAProblem(evaluator)
        reports = []
        res = run_ofa_evolution(problem, population=12, generations=generations, seed=1, budgets=budgets,
                                on_generation=lambda g, e, F: reports.append((g, e, np.array(F))))
        assert len(calls) == budgets * (1 + per_budget) and {len(g) for g, _ in calls} == {12}
        assert problem.evaluations == 12 * budgets * (1 + per_budget)
        assert [(g, e) for g, e, _ in reports] == [(per_budget * (b + 1), 12 * (1 + per_budget) * (b + 1))
                                                   for b in range(budgets)]
        grid = [lo + (hi - lo) * (b + 1) / budgets for b in range(budgets)]
        bests = []
        for b in range(budgets):
            mine = calls[b * (1 + per_budget):(b + 1) * (1 + per_budget)]
            genes = np.concatenate([g for g, _ in mine])
            top1 = np.concatenate([t for _, t in mine])
            assert (prof.latency_genes(genes) <= grid[b] + 1e-12).all()  # every candidate within the budget
            bests.append(tuple(genes[int(np.argmax(top1))]))
        assert sorted(map(tuple, res.genes.tolist())) == sorted(set(bests))
        for b, (_, _, F) in enumerate(reports):  # after each budget: the front of the bests so far
            so_far = np.array(sorted(set(bests[:b + 1])))
            F_ref = evaluator.F(so_far)
            assert sorted(map(tuple, F.tolist())) == sorted(map(tuple, F_ref[brute_force_non_dominated(F_ref)].tolist()))
        np.testing.assert_allclose(res.F, evaluator.F(res.genes), rtol=1e-12)
    problem = OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives))
    with pytest.raises(AlgorithmError) as info:
        run_ofa_evolution(problem, 12, 4, 0, budgets=0)
    assert str(info.value) == "budgets must be at least 1, got 0"
    with pytest.raises(AlgorithmError) as info:
        run_ofa_evolution(OFAProblem(ObjectiveEvaluator(prof, acc, ["latency_ms", "params_m"])), 12, 4, 0)
    assert str(info.value) == "ofa-evolution needs the objectives latency_ms and top1"
    hopeless = OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives), {"top1": {"min": 100.0}})
    with pytest.raises(AlgorithmError) as info:
        run_ofa_evolution(hopeless, 4, 1, 0, budgets=2)
    assert str(info.value) == f"no arch found within the latency budget {lo + (hi - lo) / 2:.3f} ms"


def _record_top1_batches(evaluator, space) -> list:
    """Wrap ``evaluator.values``: every batch whose top-1 is asked for is appended (canonical genes)
    to the returned list, which shows the generations' parents and children."""
    calls = []
    values = evaluator.values

    def recording(genes, names=None):
        out = values(genes, names)
        if names == ["top1"]:
            calls.append(space.canonicalize_genes(genes))
        return out

    evaluator.values = recording
    return calls


@pytest.mark.parametrize("seed, population, n_parents", [(0, 12, 3), (1, 12, 3), (2, 12, 3), (0, 8, 2)])
def test_ofa_evolution_breeds_from_the_most_accurate_quarter(digits, seed, population, n_parents):
    """Without mutation, one generation's children show their parents: the first half are copies
    of parents, the second half gene-wise mixes of two parents; the parents are the most accurate
    25 % of the population (3 of 12), chosen by the predictor's values."""
    from ofa2_zoo.search.algorithms import run_ofa_evolution

    prof, acc = digits
    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    calls = _record_top1_batches(evaluator, prof.space)
    run_ofa_evolution(OFAProblem(evaluator), population=population, generations=1, seed=seed, budgets=1,
                      mutation_prob=0.0)
    initial, children = calls
    assert len(initial) == len(children) == population
    top1 = acc.predict_genes(initial)
    parents = initial[np.argsort(-top1, kind="stable")[:n_parents]]
    half = population // 2
    assert {tuple(c) for c in children[:half].tolist()} <= {tuple(p) for p in parents.tolist()}
    for child in children[half:]:
        assert all(child[g] in parents[:, g] for g in range(prof.space.n_genes))


@pytest.mark.parametrize("name", ["nsga2", "spea2"])
def test_pymoo_run_hands_over_its_settings_and_reports_infeasible_members(digits, monkeypatch, name):
    """The probabilities reach the pymoo algorithm; under a latency cap few archs meet, the final
    population keeps infeasible archs and the result says which (pymoo's own feasibility)."""
    from ofa2_zoo.search import algorithms

    prof, acc = digits
    made = []
    real = algorithms.make_algorithm

    def recording(*args, **kwargs):
        made.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(algorithms, "make_algorithm", recording)
    lat = np.sort(prof.latency_genes(prof.space.sample_genes(200, 11)))
    problem = OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives), {"latency_ms": {"max": float(lat[2])}})
    res = run_moea(name, problem, population=12, generations=3, seed=2, mutation_prob=0.02, crossover_prob=0.5)
    assert made == [((name, 12, 2, 0.02, 0.5), {})]
    assert res.feasible.dtype == bool and res.feasible.tolist() == problem.feasible(res.genes).tolist()
    assert 0 < res.feasible.sum() < len(res.genes)


def test_ofa_evolution_mutates_each_gene_and_crosses_gene_by_gene(digits):
    """Mutation resets each gene with its own probability (a mutant is neither its parent's copy
    nor an all-new genome); crossover takes each gene from either parent (children mix them); the
    default probability is 0.1 and the seed fixes the run."""
    from ofa2_zoo.search.algorithms import run_ofa_evolution

    prof, acc = digits
    space = prof.space

    def children_of(**kwargs):
        evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
        calls = _record_top1_batches(evaluator, space)
        res = run_ofa_evolution(OFAProblem(evaluator), population=40, generations=1, seed=5, budgets=1, **kwargs)
        return calls, res

    (initial, children), _ = children_of(mutation_prob=0.5)
    parents = initial[np.argsort(-acc.predict_genes(initial), kind="stable")[:10]]
    mutants, crosses = children[:20], children[20:]
    # per gene: about half of the 46 genes reset (a reset keeps the value 1 time in its choice count)
    same = np.array([max((m == p).mean() for p in parents) for m in mutants])
    assert (same < 1).all() and (same > 0.4).all()
    parent_set = {tuple(p) for p in parents.tolist()}
    assert sum(tuple(c) not in parent_set for c in crosses.tolist()) >= 15  # mixes, not copies
    default_calls, default = children_of()
    explicit_calls, explicit = children_of(mutation_prob=0.1)
    assert default.genes.tolist() == explicit.genes.tolist()
    assert all((a == b).all() for a, b in zip(default_calls, explicit_calls))  # same seed, same run


def test_agemoea_without_numba_says_how_to_get_it():
    import importlib.util

    from ofa2_zoo.search.algorithms import AlgorithmError, make_algorithm

    if importlib.util.find_spec("numba") is not None:
        pytest.skip("numba is installed: AGE-MOEA runs (test_search.py)")
    with pytest.raises(AlgorithmError) as info:
        make_algorithm("agemoea", 10, 2)
    assert str(info.value) == "agemoea needs numba: pip install numba (or 'ofa2-zoo[agemoea]')"


def test_ofa_evolution_runs_ten_budgets_by_default(digits):
    from ofa2_zoo.search.algorithms import run_ofa_evolution

    prof, acc = digits
    reports = []
    problem = OFAProblem(ObjectiveEvaluator(prof, acc, prof.objectives))
    run_ofa_evolution(problem, population=4, generations=10, seed=0, on_generation=lambda g, e, F: reports.append(g))
    assert reports == list(range(1, 11)) and problem.evaluations == 10 * (4 + 4)


def test_ofa_evolution_draws_each_candidate_on_its_own(digits):
    """Every parent can be drawn for every candidate, the best one included, and each mutant gets
    its own fresh genes: with two parents and no mutation, the best parent is copied, and bred
    with itself, in many of twenty seeded runs; with every gene reset, the mutants differ."""
    from ofa2_zoo.search.algorithms import run_ofa_evolution

    prof, acc = digits
    copied_best = crossed_best_with_itself = 0
    for seed in range(20):
        evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
        calls = _record_top1_batches(evaluator, prof.space)
        run_ofa_evolution(OFAProblem(evaluator), population=8, generations=1, seed=seed, budgets=1, mutation_prob=0.0)
        initial, children = calls
        best, other = initial[np.argsort(-acc.predict_genes(initial), kind="stable")[:2]]
        assert (best != other).sum() > 5
        copies, crosses = children[:4], children[4:]
        copied_best += int((copies == best).all(axis=1).any())
        crossed_best_with_itself += int((crosses == best).all(axis=1).any())
    # per run 1 - (1/2)^4 and 1 - (3/4)^4: about 18.8 and 13.7 of 20 expected; 0 if the best could not be drawn
    assert copied_best >= 12 and crossed_best_with_itself >= 5

    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    calls = _record_top1_batches(evaluator, prof.space)
    run_ofa_evolution(OFAProblem(evaluator), population=40, generations=1, seed=7, budgets=1, mutation_prob=1.0)
    mutants = calls[1][:20]
    assert len({tuple(m) for m in mutants.tolist()}) >= 18


def test_ofa_evolution_gives_each_crossover_child_its_own_two_parents(digits):
    """A crossover child takes each active gene from one of its two parents, both drawn for that
    child alone: no parent takes part in every child of a generation (as it would if one draw of
    either parent served the whole generation)."""
    from ofa2_zoo.search.algorithms import run_ofa_evolution

    prof, acc = digits
    space = prof.space
    nb = space.n_blocks
    evaluator = ObjectiveEvaluator(prof, acc, prof.objectives)
    calls = _record_top1_batches(evaluator, space)
    run_ofa_evolution(OFAProblem(evaluator), population=40, generations=1, seed=11, budgets=1, mutation_prob=0.0)
    initial, children = calls
    parents = initial[np.argsort(-acc.predict_genes(initial), kind="stable")[:10]]
    crosses = children[20:]
    active = space.decode(crosses)["active"]
    used = np.concatenate([active, active, np.ones((len(crosses), space.n_genes - 2 * nb), bool)], axis=1)
    # pair[c, i, j]: child c's active genes each come from parent i or parent j
    from_one = crosses[:, None, :] == parents[None, :, :]  # (child, parent, gene)
    pair = ((from_one[:, :, None, :] | from_one[:, None, :, :]) | ~used[:, None, None, :]).all(axis=3)
    takes_part = pair.any(axis=2)  # (child, parent): the parent is in a pair that explains the child
    assert pair.any(axis=(1, 2)).all()  # every child is explained by two parents
    # a parent also "explains" children it did not make when it resembles their parents (the most
    # accurate archs are alike): 8 of 20 at most here, 14 in other seeds; a parent shared by the
    # whole generation explains all 20
    assert takes_part.sum(axis=0).max() < len(crosses)
