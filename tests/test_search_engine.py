"""The vectorised NSGA-II / SMS-EMOA / SPEA2 engine: its survival decisions equal pymoo's survival
classes on the same populations, its tournaments follow pymoo's rules, and it drives real
searches (with constraints) to valid fronts."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.algorithms.moo.sms import LeastHypervolumeContributionSurvival
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from ofa2_zoo import Ofa2Error
from ofa2_zoo.search import search
from ofa2_zoo.search.engine import least_hv_contribution, rank_and_crowding, tournament

from _search_helpers import ASSETS, needs_assets


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


@pytest.mark.parametrize("front_size", [50, 150, 180])  # fill by fitness, and truncation
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
