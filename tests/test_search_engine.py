"""The vectorised NSGA-II / SMS-EMOA / SPEA2 engine: its survival decisions equal pymoo's survival
classes on the same populations, its tournaments follow pymoo's rules, and it drives real
searches (with constraints) to valid fronts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymoo.algorithms.moo.sms import LeastHypervolumeContributionSurvival
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from ofa2_zoo import Ofa2Error, get_space
from ofa2_zoo.search import search
from ofa2_zoo.search.engine import least_hv_contribution, rank_and_crowding, run_vectorised, tournament

from _search_helpers import ASSETS, brute_force_non_dominated, needs_assets


def _population(rng, n=200, n_obj=2):
    F = rng.random((n, n_obj))
    F[: n // 4] = np.sort(F[: n // 4], axis=0) * [1, -1] + [0, 1]  # a long first front
    return F


@pytest.mark.parametrize("seed", range(5))
def test_rank_and_crowding_equals_pymoo(seed):
    rng = np.random.default_rng(seed)
    F = _population(rng)
    ours, crowd = rank_and_crowding(np.random.default_rng(0), F, np.zeros(len(F)), 100)
    pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=F)
    theirs = RankAndCrowding().do(Problem(n_var=1, n_obj=2), pop, n_survive=100, random_state=np.random.default_rng(0))
    ids = [int(i.X[0]) for i in theirs]
    # same crowding distances, and the survivors differ at most among exact crowding ties
    np.testing.assert_array_equal(np.sort(crowd[ours]), np.sort([i.get("crowding") for i in theirs]))
    differ = set(ours.tolist()) ^ set(ids)
    assert len({float(crowd[i]) for i in differ}) <= 1


@pytest.mark.parametrize("seed", range(5))
def test_least_hv_contribution_equals_pymoo(seed):
    rng = np.random.default_rng(seed)
    F = _population(rng)
    ours = least_hv_contribution(F, np.zeros(len(F)), 100)
    pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=F)
    theirs = LeastHypervolumeContributionSurvival().do(Problem(n_var=1, n_obj=2), pop, n_survive=100,
                                                       ideal=F.min(axis=0), nadir=F.max(axis=0) + 1e-32)
    assert sorted(ours.tolist()) == sorted(int(i.X[0]) for i in theirs)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("constant_third", [False, True])
def test_least_hv_contribution_equals_pymoo_on_scaled_objectives(seed, constant_third):
    """Objectives in their own units (latency-like 20..50, error-like 70..70.5; optionally a third
    that never changes): the survival normalises by the population's ideal and nadir as pymoo does."""
    rng = np.random.default_rng(seed)
    F = _population(rng) * [30, 0.5] + [20, 70]
    if constant_third:
        F = np.column_stack([F, np.full(len(F), 5.0)])
    ours = least_hv_contribution(F, np.zeros(len(F)), 100)
    pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=F)
    theirs = LeastHypervolumeContributionSurvival().do(Problem(n_var=1, n_obj=F.shape[1]), pop, n_survive=100,
                                                       ideal=F.min(axis=0), nadir=F.max(axis=0) + 1e-32)
    assert sorted(ours.tolist()) == sorted(int(i.X[0]) for i in theirs)


def test_infeasible_archs_fill_last_by_violation():
    rng = np.random.default_rng(0)
    F = rng.random((10, 2))
    cv = np.array([0, 0, 0, 3.0, 1.0, 2.0, 0, 5.0, 4.0, 0])
    for survivors in (rank_and_crowding(rng, F, cv, 7)[0], least_hv_contribution(F, cv, 7)):
        assert set(survivors[:5].tolist()) == {0, 1, 2, 6, 9}
        assert survivors[5:].tolist() == [4, 5]


def test_tournament_rules():
    rng = np.random.default_rng(0)
    F = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    cv = np.array([0.0, 0.0, 0.0, 2.0])
    crowd = np.array([0.0, 0.0, 5.0, 0.0])
    wins = tournament(rng, F, cv, 4000, crowd)
    counts = np.bincount(wins, minlength=4)
    assert counts[3] == 0  # infeasible never beats a feasible arch
    assert counts[0] > counts[2] > counts[1]  # dominance first, then crowding


@needs_assets
@pytest.mark.parametrize("algorithm", ["nsga2", "smsemoa", "spea2"])
def test_engines_give_valid_fronts_and_respect_constraints(tmp_path, algorithm):
    from test_search import _check_front, _profile
    from ofa2_zoo.profiles import load_profile

    path = _profile(tmp_path, "note10-capped", "constraints:\n  latency_ms: {max: 20.0}\n")
    prof = load_profile(path, assets=ASSETS)
    for engine in ("vectorised", "pymoo"):
        front = search(prof, algorithm=algorithm, population=16, generations=5, seed=1, assets=ASSETS, engine=engine)
        _check_front(front, prof)
        assert front.algorithm["engine"] == engine
        assert front.values("latency_ms").max() <= 20.0
        assert front.evaluations == 16 * 5


def test_engine_errors():
    with pytest.raises(Ofa2Error, match="unknown engine 'gpu'"):
        search("note10", engine="gpu", assets=ASSETS)
    with pytest.raises(Ofa2Error, match="use engine='pymoo' for nsga3"):
        search("note10", algorithm="nsga3", engine="vectorised", assets=ASSETS)


@pytest.mark.parametrize("front_size", [50, 150, 180])  # fill by fitness (random points dominate most of the "front")
def test_spea2_survival_equals_pymoo(front_size):
    from pymoo.algorithms.moo.spea2 import SPEA2Survival as PymooSPEA2

    from ofa2_zoo.search.engine import SPEA2Survival

    rng = np.random.default_rng(front_size)
    ours, theirs = SPEA2Survival(2), PymooSPEA2(normalize=True)
    F = rng.random((200, 2))
    F[:front_size] = np.sort(F[:front_size], axis=0) * [1, -1] + [0, 1]
    for gen in range(2):  # the normalisation carries over between generations
        Fg = F + gen * 0.01 * rng.random(F.shape)
        keep, fitness = ours(Fg, np.zeros(len(F)), 100)
        pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=Fg)
        survived = theirs.do(Problem(n_var=1, n_obj=2), pop, n_survive=100)
        assert sorted(keep.tolist()) == sorted(int(i.X[0]) for i in survived)
        np.testing.assert_allclose(np.sort(fitness[keep]), np.sort([i.get("SPEA_F") for i in survived]))


def test_variation_by_hand():
    """Uniform crossover: a crossed pair swaps each gene with probability 1/2 (the two children
    together hold exactly the parents' genes), an uncrossed pair is copied; reset mutation draws
    each mutated gene uniformly within its bounds; every child is canonical."""
    from ofa2_zoo.search.engine import _variation
    from ofa2_zoo import get_space

    space = get_space("ofa_mbv3_w1.2")
    upper = space.gene_upper_bounds
    rng = np.random.default_rng(0)
    a, b = space.sample_genes(400, 1), space.sample_genes(400, 2)
    a[:, 40:45] = b[:, 40:45] = 2  # depth 4 everywhere: every block active, so canonical form keeps all genes
    copied = _variation(rng, a, b, upper, 0.0, 0.0, space)
    assert copied.tolist() == np.concatenate([a, b]).tolist()
    crossed = _variation(rng, a, b, upper, 1.0, 0.0, space)
    c1, c2 = crossed[:400], crossed[400:]
    assert ((c1 == a) | (c1 == b)).all() and (c1 + c2 == a + b).all()
    differ = a != b
    assert abs((c1 == b)[differ].mean() - 0.5) < 0.02  # each differing gene swapped with probability 1/2
    half = _variation(rng, a, b, upper, 0.5, 0.0, space)[:400]
    assert abs((half != a).any(axis=1).mean() - 0.5) < 0.07  # about half of the pairs cross
    mutated = _variation(rng, a, b, upper, 0.0, 1.0, space)
    assert (mutated >= 0).all() and (mutated <= upper).all()
    assert all(set(mutated[:, g].tolist()) == set(range(u + 1)) for g, u in enumerate(upper) if g < 40)
    share = (_variation(rng, a, b, upper, 0.0, 0.2, space) != np.concatenate([a, b]))[:, :40].mean()
    assert abs(share - 0.2 * 2 / 3) < 0.01  # 3 choices per block gene: a redraw keeps the value 1 time in 3
    shallow = a.copy()
    shallow[:, 40:45] = 0  # depth 2: the genes of two of four blocks per stage are reset to 0
    assert _variation(rng, shallow, shallow, upper, 0.0, 0.0, space).tolist() == \
        np.concatenate([space.canonicalize_genes(shallow)] * 2).tolist()


def test_offspring_are_new_distinct_and_redrawn_until_enough():
    """A space of six networks: from a population of three, the offspring are exactly the other
    three (redrawn over several rounds); asking for more than exist gives what exists."""
    from types import SimpleNamespace

    from ofa2_zoo import SearchSpace
    from ofa2_zoo.search.engine import _offspring

    space = SearchSpace(name="six", stem_width=8, first_block_width=8, stage_widths=(8,), final_expand_width=8,
                        feature_mix_width=8, stage_strides=(1,), stage_acts=("relu",), stage_se=(False,),
                        ks_choices=(3, 5), expand_choices=(1,), depth_choices=(1, 2), resolutions=(16,))
    ranges = [range(u + 1) for u in space.gene_upper_bounds]
    every = np.unique(space.canonicalize_genes(np.array(list(itertools.product(*ranges)))), axis=0)
    assert len(every) == 6
    problem = SimpleNamespace(space=space)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X = every[rng.permutation(6)[:3]]
        F, cv = rng.random((3, 2)), np.zeros(3)
        off = _offspring(rng, X, F, cv, np.zeros(3), None, 3, problem, 1.0, 0.3)
        assert sorted(map(tuple, off.tolist())) == sorted(set(map(tuple, every.tolist())) - set(map(tuple, X.tolist())))
        assert len(_offspring(rng, X, F, cv, np.zeros(3), None, 5, problem, 1.0, 0.3)) == 3
        two = _offspring(rng, X, F, cv, np.zeros(3), None, 2, problem, 1.0, 0.3)
        assert len(two) == 2 and len({tuple(r) for r in two.tolist()} - set(map(tuple, X.tolist()))) == 2


@pytest.mark.parametrize("F, cv, crowding, fitness, share_of_0", [
    ([[0, 0], [0, 0]], [0, 0], [0, 0], None, 0.5),  # a full tie: a coin
    ([[0, 0], [1, 1]], [0, 0], [0, 9], None, 1.0),  # dominance before crowding
    ([[0, 1], [1, 0]], [0, 0], [1, 2], None, 0.0),  # non-dominated: the larger crowding distance
    ([[0, 1], [1, 0]], [0, 0], [2, 2], None, 0.5),
    ([[1, 1], [0, 0]], [0, 3], [0, 0], None, 1.0),  # feasible beats infeasible, whatever the objectives
    ([[1, 1], [0, 0]], [0, 0.5], [0, 0], None, 1.0),  # however small the violation
    ([[0, 0], [1, 1]], [0.5, 0], [0, 0], None, 0.0),
    ([[1, 1], [0, 0]], [1, 2], [0, 0], None, 1.0),  # two infeasible: the smaller violation
    ([[1, 1], [0, 0]], [2, 2], [0, 0], None, 0.5),
    ([[0, 0], [1, 1]], [0, 0], None, [0.5, 0.2], 0.0),  # SPEA2: fitness instead of dominance
    ([[0, 0], [1, 1]], [0, 0], None, [0.2, 0.2], 0.5),
    ([[0, 0], [1, 1]], [0, 0], None, None, 1.0),  # SMS-EMOA: dominance, then a coin
    ([[0, 1], [1, 0]], [0, 0], None, None, 0.5),
])
def test_tournament_between_two_by_hand(F, cv, crowding, fitness, share_of_0):
    rng = np.random.default_rng(0)
    as_array = (lambda v: None if v is None else np.asarray(v, dtype=float))
    wins = tournament(rng, np.asarray(F, float), np.asarray(cv, float), 2001, as_array(crowding), as_array(fitness))
    assert wins.shape == (2001,) and set(wins.tolist()) <= {0, 1}
    assert abs((wins == 0).mean() - share_of_0) < 0.05


def test_tournament_pairs_are_drawn_from_permutations():
    """Every member enters a tournament once per permutation: with as many tournaments as half the
    population, each member fights exactly once (pymoo's random_permutations)."""
    rng = np.random.default_rng(3)
    F = np.arange(20, dtype=float)[:, None].repeat(2, axis=1)  # a chain: the smaller index dominates
    wins = tournament(rng, F, np.zeros(20), 10, np.zeros(20))
    assert len(wins) == 10 and len(set(wins.tolist())) == 10 and 0 in wins.tolist() and 19 not in wins.tolist()
    many = tournament(rng, F, np.zeros(20), 25, np.zeros(20))  # 50 fighters: 2.5 permutations
    assert len(many) == 25 and 19 not in many.tolist()


def test_survival_when_nothing_is_feasible():
    """No feasible arch: the least violating survive, in order of violation (ties: first come)."""
    from ofa2_zoo.search.engine import SPEA2Survival

    rng = np.random.default_rng(0)
    F = rng.random((6, 2))
    cv = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 0.5])
    assert rank_and_crowding(rng, F, cv, 4)[0].tolist() == [5, 1, 3, 2]
    assert least_hv_contribution(F, cv, 4).tolist() == [5, 1, 3, 2]
    keep, fitness = SPEA2Survival(2)(F, cv, 4)
    assert keep.tolist() == [5, 1, 3, 2] and np.isinf(fitness).all()
    for survivors in (rank_and_crowding(rng, F, cv, 0)[0], least_hv_contribution(F, cv, 0), SPEA2Survival(2)(F, cv, 0)[0]):
        assert survivors.tolist() == [] and survivors.dtype.kind == "i"


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("front_size", [101, 150, 200])
@pytest.mark.parametrize("seed", range(3))
def test_spea2_truncation_equals_pymoo(front_size, seed, scaled):
    """More non-dominated archs than places: SPEA2's archive truncation (every other arch lies
    beyond the front, so the first front really has ``front_size`` members)."""
    from pymoo.algorithms.moo.spea2 import SPEA2Survival as PymooSPEA2

    from ofa2_zoo.search import engine

    rng = np.random.default_rng(seed + front_size)
    x = rng.random(front_size)
    F = np.concatenate([np.column_stack([x, 1 - np.sqrt(x)]), rng.random((200 - front_size, 2)) + 1.0])
    F = F[rng.permutation(200)]  # front members spread over the population, not its first rows
    if scaled:  # objectives in their own units: distances are measured after normalisation
        F = F * [30, 0.5] + [20, 70]
    assert len(brute_force_non_dominated(F)) == front_size
    ours, theirs = engine.SPEA2Survival(2), PymooSPEA2(normalize=True)
    keep, fitness = ours(F, np.zeros(len(F)), 100)
    pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=F)
    survived = theirs.do(Problem(n_var=1, n_obj=2), pop, n_survive=100)
    assert len(keep) == 100 and sorted(keep.tolist()) == sorted(int(i.X[0]) for i in survived)
    np.testing.assert_allclose(np.sort(fitness[keep]), np.sort([i.get("SPEA_F") for i in survived]))


@pytest.mark.parametrize("seed", range(4))
def test_spea2_equals_pymoo_with_ties_and_tiny_populations(seed):
    """Objectives on an integer grid (equal values, exact duplicates: weak dominance matters) and
    populations of one, two and three (the k-th nearest neighbour with k = 1)."""
    from pymoo.algorithms.moo.spea2 import SPEA2Survival as PymooSPEA2

    from ofa2_zoo.search.engine import SPEA2Survival

    rng = np.random.default_rng(seed)
    for F, n_survive in ((rng.integers(0, 6, (60, 2)).astype(float), 30), (rng.integers(0, 4, (40, 3)).astype(float), 12),
                         (rng.random((1, 2)), 1), (rng.random((2, 2)), 2), (rng.random((3, 2)), 2),
                         (np.array([[0.0, 0.0], [1.0, 1.0]]), 2)):
        keep, fitness = SPEA2Survival(F.shape[1])(F, np.zeros(len(F)), n_survive)
        pop = Population.new(X=np.arange(len(F))[:, None].astype(float), F=F)
        survived = PymooSPEA2(normalize=True).do(Problem(n_var=1, n_obj=F.shape[1]), pop, n_survive=n_survive)
        assert sorted(keep.tolist()) == sorted(int(i.X[0]) for i in survived)
        np.testing.assert_allclose(np.sort(fitness[keep]), np.sort([i.get("SPEA_F") for i in survived]))


def test_tournament_between_equal_objectives_goes_to_crowding():
    """Equal objectives are no dominance: the crowding distance decides (pymoo's rule)."""
    F = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    wins = tournament(np.random.default_rng(0), F, np.zeros(3), 3000, np.array([0.0, 5.0, 0.0]))
    rng = np.random.default_rng(0)  # the same pairs again, to see who fought whom
    n_perms = -(-2 * 3000 // 3)
    P = np.concatenate([rng.permutation(3) for _ in range(n_perms)])[:6000].reshape(3000, 2)
    equal = np.array([set(p) == {0, 1} for p in P.tolist()])
    assert equal.sum() > 500 and (wins[equal] == 1).all()
    against_2 = np.array([2 in p and set(p) != {2} for p in P.tolist()])  # (2, 2): a pair across two permutations
    assert against_2.sum() > 500 and (wins[against_2] != 2).all()  # [1, 1] is dominated by both others


class _ToyProblem:
    """A problem over any space whose objectives are simple functions of the genes (no profile)."""

    def __init__(self, space, cap=None):
        self.space, self.n_var, self.n_obj, self.evaluations, self.cap = space, space.n_genes, 2, 0, cap

    def _evaluate(self, X, out):
        X = np.asarray(X)
        self.evaluations += len(X)
        size = X.sum(axis=1).astype(float)
        out["F"] = np.column_stack([size, -size + 0.1 * X[:, 0]])
        if self.cap is not None:
            out["G"] = (size - self.cap)[:, None]


def test_initial_population_is_distinct_even_in_a_tiny_space():
    """Six networks, populations of four and six: the first generation holds that many distinct
    networks (duplicates among the random draws are drawn again)."""
    from ofa2_zoo import SearchSpace

    space = SearchSpace(name="six", stem_width=8, first_block_width=8, stage_widths=(8,), final_expand_width=8,
                        feature_mix_width=8, stage_strides=(1,), stage_acts=("relu",), stage_se=(False,),
                        ks_choices=(3, 5), expand_choices=(1,), depth_choices=(1, 2), resolutions=(16,))
    for population in (4, 6):
        for seed in range(3):
            calls = []
            problem = _ToyProblem(space)
            run_vectorised("nsga2", problem, population, 1, seed, on_generation=lambda g, e, F: calls.append(e))
            assert calls == [population] and problem.evaluations == population


@pytest.mark.parametrize("name", ["nsga2", "smsemoa", "spea2"])
def test_selection_uses_each_algorithms_criterion(monkeypatch, name):
    """NSGA-II's tournaments get the survivors' crowding distances, SPEA2's their fitness, SMS-EMOA's
    neither (the values the survival just computed, for the population that survived)."""
    from ofa2_zoo.search import engine

    space = get_space("ofa_mbv3_w1.2")
    seen, given = [], []
    rc, spea2 = engine.rank_and_crowding, engine.SPEA2Survival.__call__

    def recording_rc(rng, F, cv, n):
        keep, crowd = rc(rng, F, cv, n)
        seen.append(("crowding", crowd[keep]))
        return keep, crowd

    def recording_spea2(self, F, cv, n):
        keep, fitness = spea2(self, F, cv, n)
        seen.append(("fitness", fitness[keep]))
        return keep, fitness

    offspring = engine._offspring

    def recording_offspring(rng, X, F, cv, crowding, fitness, *args):
        given.append((crowding, fitness))
        return offspring(rng, X, F, cv, crowding, fitness, *args)

    fights = []
    real_tournament = engine.tournament

    def recording_tournament(rng, F, cv, n_select, crowding, fitness=None):
        fights.append((crowding, fitness))
        return real_tournament(rng, F, cv, n_select, crowding, fitness)

    monkeypatch.setattr(engine, "tournament", recording_tournament)
    monkeypatch.setattr(engine, "rank_and_crowding", recording_rc)
    monkeypatch.setattr(engine.SPEA2Survival, "__call__", recording_spea2)
    monkeypatch.setattr(engine, "_offspring", recording_offspring)
    run_vectorised(name, _ToyProblem(space), 10, 4, 0)
    assert len(given) == 3 and len(fights) >= 3
    passed = {(id(c), id(f)) for c, f in given}
    assert all((id(c), id(f)) in passed for c, f in fights)  # the tournaments get what the offspring step got
    for (crowding, fitness), (kind, values) in zip(given, seen if name != "smsemoa" else [(None, None)] * 3):
        if name == "nsga2":
            assert fitness is None and crowding.tolist() == values.tolist() and kind == "crowding"
        elif name == "spea2":
            assert crowding is None and fitness.tolist() == values.tolist() and kind == "fitness"
        else:
            assert crowding is None and fitness is None


def test_default_mutation_probability_and_feasibility_of_the_result():
    space = get_space("ofa_mbv3_w1.2")
    default = run_vectorised("nsga2", _ToyProblem(space), 10, 3, 5)
    explicit = run_vectorised("nsga2", _ToyProblem(space), 10, 3, 5, mutation_prob=0.1, crossover_prob=1.0)
    assert default.genes.tolist() == explicit.genes.tolist()  # the documented defaults: 0.1 and 1.0
    # a cap few archs meet: the population keeps infeasible archs, reported as such (violations < 1 too)
    tight = _ToyProblem(space, cap=20.5)
    res = run_vectorised("nsga2", tight, 10, 3, 5)
    size = res.genes.sum(axis=1)
    assert res.feasible.tolist() == (size <= 20.5).tolist() and not res.feasible.all()
    assert (size == 21).any()  # violation 0.5: infeasible however small the violation


def test_infeasible_archs_fill_by_violation_ties_first_come():
    """Many equal violations: the order is by violation, then by position (a stable sort; Python's
    sort as the reference)."""
    rng = np.random.default_rng(0)
    cv = rng.integers(1, 4, 300).astype(float)
    F = rng.random((300, 2))
    expected = sorted(range(300), key=lambda i: (cv[i], i))[:120]
    assert rank_and_crowding(rng, F, cv, 120)[0].tolist() == expected
    assert least_hv_contribution(F, cv, 120).tolist() == expected
