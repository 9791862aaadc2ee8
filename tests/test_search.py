"""The search engine: every algorithm on a small budget, determinism, constraints, metrics,
executors and the evaluation cache (OFA's predictor + Note10 tables, tiny budgets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymoo.indicators.hv import HV

from ofa2_zoo import Ofa2Error
from ofa2_zoo.front import Front
from ofa2_zoo.search import ALGORITHMS, ObjectiveCache, hypervolume, igd, search
from ofa2_zoo.search.evaluator import to_minimised

from _search_helpers import (ASSETS, ChunkRecordingAccuracy, brute_force_non_dominated, dominated_by_any,
                             needs_assets, note10)

pytestmark = needs_assets
NOTE10_YAML = (Path(__file__).resolve().parents[1] / "hardware_profiles" / "note10.yaml").read_text()


def _profile(tmp_path: Path, name: str, extra: str = "", resolutions: str | None = None) -> Path:
    text = NOTE10_YAML.replace("id: note10", f"id: {name}")
    if resolutions:
        text = text.replace("resolutions: [160, 176, 192, 208, 224]", f"resolutions: {resolutions}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text + extra)
    return path


def _F(front: Front) -> np.ndarray:
    names = front.algorithm["objectives"]
    return np.column_stack([to_minimised(n, front.values(n)) for n in names])


def _check_front(front: Front, profile) -> None:
    assert front.members, "empty front"
    space = profile.space
    genes = space.archs_to_genes([m.arch for m in front.members])
    # canonical, valid and distinct archs
    assert space.genes_to_archs(genes) == [m.arch for m in front.members]
    assert len({m.arch for m in front.members}) == len(front.members)
    # objective values are the sources' values
    lat = front.values("latency_ms")
    np.testing.assert_allclose(lat, profile.latency_genes(genes), rtol=1e-12)
    # sorted fastest first, mutually non-dominated (pair by pair), and every other arch of the
    # final population is dominated by a member: the front is exactly the population's front
    assert np.all(np.diff(lat) >= 0)
    F = _F(front)
    assert brute_force_non_dominated(F) == list(range(len(F)))
    names = front.algorithm["objectives"]
    rest = [[float(to_minimised(n, p[n])) for n in names] for p in front.population]
    assert all(dominated_by_any(p, F) for p in rest)
    ref = np.array([to_minimised(n, front.reference_point[n]) for n in front.algorithm["objectives"]])
    inside = F[np.all(F < ref, axis=1)]
    assert front.hypervolume == pytest.approx(float(HV(ref_point=ref)(inside)) if len(inside) else 0.0, rel=1e-12)
    assert {"macs_m", "params_m"} <= set(front.members[0].objectives)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_returns_a_valid_front(algorithm):
    prof = note10()
    if algorithm == "agemoea":
        try:
            import numba  # noqa: F401
        except ImportError:
            with pytest.raises(Ofa2Error, match="agemoea needs numba"):
                search(prof, algorithm=algorithm, population=10, generations=2, assets=ASSETS)
            pytest.skip("numba is not installed: agemoea gives its clear error instead")
    front = search(prof, algorithm=algorithm, population=12, generations=4, seed=3, assets=ASSETS)
    _check_front(front, prof)
    assert front.algorithm["name"] == algorithm and front.seed == 3
    if algorithm in ("nsga2", "smsemoa", "spea2", "random"):  # the vectorised engine and random: full batches
        assert front.evaluations == 12 * 4
    elif algorithm == "ofa-evolution":  # 10 budgets, 1 generation each: a population, then as many children
        assert front.evaluations == 10 * (12 + 12)
    else:  # pymoo drops offspring it cannot make unique
        assert 12 <= front.evaluations <= 12 * 4
    generations = [r["generation"] for r in front.history]
    # one row per generation (ofa-evolution: per budget, each budget's generations counted)
    assert generations == list(range(1, 11 if algorithm == "ofa-evolution" else 5))
    assert front.history[-1]["hypervolume"] == pytest.approx(front.hypervolume, rel=1e-12)


def test_same_seed_same_front_json(tmp_path):
    a = search("note10", algorithm="nsga2", population=16, generations=6, seed=7, assets=ASSETS)
    b = search("note10", algorithm="nsga2", population=16, generations=6, seed=7, assets=ASSETS)
    c = search("note10", algorithm="nsga2", population=16, generations=6, seed=8, assets=ASSETS)
    texts = []
    for i, f in enumerate((a, b, c)):
        f.save(tmp_path / str(i))
        text = (tmp_path / str(i) / "front.json").read_text()
        cut = text.index('"timing"')
        assert text.rstrip().endswith("}") and '"timing"' not in text[cut + 1:]
        texts.append(text[:cut])
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]
    assert a.version_id == b.version_id != c.version_id
    timing = json.loads((tmp_path / "0" / "timing.json").read_text())
    # elapsed time at the end of each generation (4 decimals), within the whole run's (3 decimals)
    seconds = timing["generation_s"]
    assert len(seconds) == 6 and 0 < seconds[0] and seconds == sorted(seconds)
    assert seconds[-1] <= timing["wall_time_s"] + 5e-4
    assert json.loads((tmp_path / "0" / "front.json").read_text())["timing"] == {"wall_time_s": timing["wall_time_s"]}


def test_hypervolume_equals_pymoo_indicator():
    rng = np.random.default_rng(0)
    for n_obj in (2, 2, 2, 3):
        F = rng.random((60, n_obj)) * 10
        F[:5] = F[5:10]  # duplicates
        ref = np.full(n_obj, 9.0)
        inside = F[np.all(F < ref, axis=1)]
        assert hypervolume(F, ref) == pytest.approx(float(HV(ref_point=ref)(inside)), rel=1e-12)
    assert hypervolume(np.array([[10.0, 10.0]]), np.array([9.0, 9.0])) == 0.0
    assert hypervolume(np.array([[1.0, 1.0]]), np.array([2.0, 3.0])) == pytest.approx(2.0)


def test_igd_history_with_reference_front():
    first = search("note10", algorithm="random", population=30, generations=3, seed=1, assets=ASSETS)
    ref_front = _F(first)
    front = search("note10", algorithm="nsga2", population=12, generations=3, seed=1, assets=ASSETS,
                   reference_front=ref_front)
    assert all("igd" in row for row in front.history)
    assert front.history[-1]["igd"] == pytest.approx(igd(_F(front), ref_front))
    assert igd(ref_front, ref_front) == 0.0


@pytest.mark.parametrize("algorithm", ["pals", "nsga2", "random", "ofa-evolution"])
def test_constraints_never_return_an_infeasible_member(tmp_path, algorithm):
    path = _profile(tmp_path, "note10-capped", "constraints:\n  latency_ms: {max: 20.0}\n")
    front = search(path, algorithm=algorithm, population=16, generations=4, seed=2, assets=ASSETS)
    assert front.values("latency_ms").max() <= 20.0
    assert all(p["latency_ms"] <= 20.0 for p in front.population)


@pytest.mark.parametrize("algorithm", ["pals", "nsga2"])
def test_a_search_that_nothing_meets_refuses_with_one_clear_error(tmp_path, algorithm):
    """A cap below every network's latency: no front of infeasible members, an error naming the cause."""
    path = _profile(tmp_path, "note10-impossible", "constraints:\n  latency_ms: {max: 0.001}\n")
    with pytest.raises(Ofa2Error, match=r"^the search found no feasible architecture \(check the profile's "
                                        r"constraints\)$"):
        search(path, algorithm=algorithm, population=8, generations=2, seed=2, assets=ASSETS)


def test_three_objectives_with_macs():
    prof = note10()
    front = search(prof, algorithm="nsga3", population=15, generations=3, seed=1, assets=ASSETS,
                   objectives=["latency_ms", "top1", "macs_m"])
    assert front.objective_meta["macs_m"] == {"unit": "M", "direction": "min", "source": "analytic"}
    assert front.reference_point["macs_m"] > front.values("macs_m").max()
    F = _F(front)
    assert brute_force_non_dominated(F) == list(range(len(F)))


def test_bad_options_give_clear_errors(tmp_path):
    with pytest.raises(Ofa2Error, match="unknown algorithm 'nsga9'; choose one of pals, nsga2"):
        search("note10", algorithm="nsga9", assets=ASSETS)
    with pytest.raises(Ofa2Error, match="population must be an integer from 2 to 1,000,000, got 0"):
        search("note10", population=0, assets=ASSETS)
    with pytest.raises(Ofa2Error, match="generations must be an integer from 1 to 1,000,000, got 0"):
        search("note10", generations=0, assets=ASSETS)
    with pytest.raises(Ofa2Error, match="is not in the assets folder"):
        search("note10", population=4, generations=1, assets=tmp_path)
    with pytest.raises(Ofa2Error, match="unknown hardware profile 'mars'"):
        search("mars", assets=ASSETS)
    with pytest.raises(Ofa2Error, match="not ofa_mbv3_w1.0"):
        search("note10", supernet="ofa_mbv3_w1.0", assets=ASSETS)
    with pytest.raises(Ofa2Error, match="unknown objective"):
        search("note10", objectives=["latency_ms", "energy"], assets=ASSETS)
    with pytest.raises(Ofa2Error, match="unknown executor"):
        search("note10", population=4, generations=1, executor="gpu-farm", assets=ASSETS)


def test_cache_reuses_accuracy_across_runs_and_profiles(tmp_path):
    cache = ObjectiveCache()
    first = search("note10", population=12, generations=3, seed=1, assets=ASSETS, cache=cache)
    # each distinct arch the run asked for is computed once: count them with a recording source
    recording = RecordingAccuracy(note10().space)
    search("note10", population=12, generations=3, seed=1, assets=ASSETS, accuracy=recording)
    distinct = len(set(recording.seen))
    assert 12 < distinct <= 36 and len(recording.seen) > distinct  # repeats asked for, computed once
    assert first.timing["computed"]["top1"] == first.timing["computed"]["latency_ms"] == distinct
    assert first.timing["computed"]["macs_m"] == len(first.members) + len(first.population)
    again = search("note10", population=12, generations=3, seed=1, assets=ASSETS, cache=cache)
    assert again.timing["computed"] == {k: 0 for k in again.timing["computed"]}
    assert again.to_dict() | {"timing": None} == first.to_dict() | {"timing": None}
    # another profile with the same accuracy source (fewer resolutions): shared accuracy values
    other = _profile(tmp_path, "note10-small", resolutions="[160, 176]")
    third = search(other, population=12, generations=3, seed=1, assets=ASSETS, cache=cache)
    seen = len(cache)
    assert third.timing["computed"]["top1"] <= third.evaluations
    # on disk: a new process (a fresh cache object) computes nothing twice
    folder = tmp_path / "cache"
    search("note10", population=12, generations=3, seed=4, assets=ASSETS, cache=folder)
    rerun = search("note10", population=12, generations=3, seed=4, assets=ASSETS, cache=folder)
    assert rerun.timing["computed"]["top1"] == 0 and rerun.timing["computed"]["latency_ms"] == 0
    assert seen == len(cache)


class RecordingAccuracy(ChunkRecordingAccuracy):
    """OFA's predictor as a cheap (predicted) source that records every arch it is asked for."""

    def __init__(self, space):
        super().__init__(space)
        self.provenance = self.inner.provenance
        self.seen: list[str] = []

    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        self.seen += [a.to_string() for a in self.space.genes_to_archs(genes)]
        return super().predict_genes(genes)


def _measured_search(executor, log_dir=None, **kw):
    prof = note10()
    acc = ChunkRecordingAccuracy(prof.space, log_dir)
    return search(prof, algorithm="nsga2", population=12, generations=3, seed=5, assets=ASSETS, accuracy=acc,
                  executor=executor, **kw)


def test_process_pool_gives_the_same_front(tmp_path):
    inproc = _measured_search("inprocess")
    pooled = _measured_search("process", log_dir=tmp_path, workers=2)
    assert pooled.to_dict() | {"timing": None} == inproc.to_dict() | {"timing": None}
    assert pooled.objective_meta["top1"]["source"] == "measured"
    sizes = [int(x) for f in tmp_path.glob("pid-*.log") for x in f.read_text().split()]
    assert sizes and max(sizes) <= 16  # chunks of the evaluator's chunk size ran in the workers


def test_ray_gives_the_same_front():
    ray = pytest.importorskip("ray", reason="Ray (optional extra 'ray') is not installed")
    inproc = _measured_search("inprocess")
    tests_dir = str(Path(__file__).resolve().parent)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": tests_dir}})
    try:
        remote = _measured_search("ray")
    finally:
        ray.shutdown()
    assert remote.to_dict() | {"timing": None} == inproc.to_dict() | {"timing": None}


def test_an_accuracy_source_given_by_name_wins_over_the_profiles():
    """Both present and different: the name passed is the one used (here it does not fit the
    profile's space, so the search refuses it instead of silently using the profile's own)."""
    from ofa2_zoo.search import search as run_search

    with pytest.raises(Ofa2Error, match=r"predictor for space 'ofa2_fmnist' does not cover space 'ofa2_digits'"):
        run_search("digits-cpu", accuracy="ofa2_fmnist", population=8, generations=2)
