"""PALS (Pareto archive local search): its hypervolume bookkeeping equals brute force, its
mutation changes exactly the genes it says, it never evaluates an arch twice, the same seed
gives the same front, and it beats NSGA-II on the same budget."""

from __future__ import annotations

import numpy as np
import pytest

from ofa2_zoo.search import hypervolume, non_dominated, search
from ofa2_zoo.search.pals import active_gene_mask, contributions_2d, front_2d, mutate_active, reduce_2d, reduce_nd

from _search_helpers import ASSETS, needs_assets, note10


def _front(rng, n=40):
    x = np.sort(rng.random(n))
    y = np.sort(rng.random(n))[::-1]
    return np.column_stack([x, y])


@pytest.mark.parametrize("seed", range(5))
def test_contributions_are_hypervolume_differences(seed):
    F, ref = _front(np.random.default_rng(seed)), np.array([1.2, 1.1])
    total = hypervolume(F, ref)
    brute = [total - hypervolume(np.delete(F, i, axis=0), ref) for i in range(len(F))]
    np.testing.assert_allclose(contributions_2d(F, ref), brute, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_reduce_equals_greedy_recomputation(seed):
    F, ref = _front(np.random.default_rng(seed), 30), np.array([1.2, 1.1])
    keep = np.arange(len(F))
    while len(keep) > 12:  # drop the least contributor, recomputing every contribution from scratch
        total = hypervolume(F[keep], ref)
        c = [total - hypervolume(F[np.delete(keep, i)], ref) for i in range(len(keep))]
        keep = np.delete(keep, int(np.argmin(c)))
    assert reduce_2d(F, ref, 12).tolist() == keep.tolist()
    # three objectives through moocore: same rule
    F3 = np.random.default_rng(seed).random((25, 3))
    F3 = F3[non_dominated(F3)]
    ref3 = np.full(3, 1.1)
    keep3 = np.arange(len(F3))
    while len(keep3) > 8:
        total = hypervolume(F3[keep3], ref3)
        c = [total - hypervolume(F3[np.delete(keep3, i)], ref3) for i in range(len(keep3))]
        keep3 = np.delete(keep3, int(np.argmin(c)))
    assert reduce_nd(F3, ref3, 8).tolist() == keep3.tolist()


def test_front_2d_is_the_non_dominated_set_sorted():
    rng = np.random.default_rng(0)
    F = rng.random((300, 2))
    F[:10] = F[10:20]  # exact duplicates: one copy stays
    nd = front_2d(F)
    assert np.all(np.diff(F[nd, 0]) > 0) and np.all(np.diff(F[nd, 1]) < 0)
    expected = {tuple(f) for f in F[non_dominated(F)]}
    assert {tuple(f) for f in F[nd]} == expected and len(nd) == len(expected)


def test_mutation_changes_exactly_k_active_genes():
    space = note10().space
    rng = np.random.default_rng(0)
    genes = space.sample_genes(20000, rng)
    k = rng.integers(1, 6, len(genes))
    k[:5] = 99  # more than there are active genes: every active gene changes
    k[5:8] = 0  # none asked: the row stays as it is
    out = mutate_active(rng, space, genes, k)
    assert np.array_equal(space.canonicalize_genes(out), out)
    assert (out >= 0).all() and (out <= space.gene_upper_bounds).all()
    active, diff = active_gene_mask(space, genes), out != genes
    assert not diff[5:8].any()
    depths = slice(2 * space.n_blocks, 2 * space.n_blocks + space.n_stages)
    same = (out[:, depths] == genes[:, depths]).all(axis=1)
    assert same.mean() > 0.5
    # depths kept: exactly min(k, active genes) genes changed, every one of them active
    assert np.array_equal(diff[same].sum(axis=1), np.minimum(k, active.sum(axis=1))[same])
    assert not (diff & ~active)[same].any()
    # a depth changed: the genes active before and after changed at most k times in all
    both = active & active_gene_mask(space, out)
    assert ((diff & both)[~same].sum(axis=1) <= k[~same]).all()
    # a changed gene takes one of the other choices, uniformly
    moved = out[:, -1] != genes[:, -1]
    shifts = np.bincount((out[moved, -1] - genes[moved, -1]) % 5, minlength=5)
    assert shifts[0] == 0 and shifts[1:].min() > 0.85 * shifts[1:].mean()


class _Recording:
    """Wraps a search's accuracy source to record every gene row it is asked about."""

    def __init__(self, inner):
        from ofa2_zoo.objectives.base import AccuracySource

        class Source(AccuracySource):
            space = inner.space
            provenance = inner.provenance

            def predict_genes(s, genes):
                self.rows.append(np.array(genes))
                return inner.predict_genes(genes)

        self.rows: list[np.ndarray] = []
        self.source = Source()


@needs_assets
def test_never_evaluates_an_arch_twice_and_counts_every_evaluation():
    from _search_helpers import predictor

    prof = note10()
    rec = _Recording(predictor(prof.space))
    front = search(prof, algorithm="pals", population=40, generations=30, seed=2, assets=ASSETS,
                   accuracy=rec.source)
    rows = np.concatenate(rec.rows)
    # the search's requests, then (as for every algorithm) the final members once more, for the front's values
    rows, members = rows[:front.evaluations], rows[front.evaluations:]
    assert front.evaluations == 40 * 30
    assert {tuple(r) for r in members} == {tuple(r) for r in prof.space.archs_to_genes([m.arch for m in front.members])}
    assert len(np.unique(rows, axis=0)) == len(rows)
    assert np.array_equal(prof.space.canonicalize_genes(rows), rows)
    assert len(front.members) <= 40
    assert [r["evaluations"] for r in front.history] == [40 * g for g in range(1, 31)]
    assert front.history[-1]["hypervolume"] == pytest.approx(front.hypervolume, rel=1e-12)
    hv = [r["hypervolume"] for r in front.history]
    assert hv == sorted(hv)  # the archive never loses hypervolume


@needs_assets
def test_same_seed_same_front(tmp_path):
    runs = [search("note10", algorithm="pals", population=20, generations=15, seed=s, assets=ASSETS)
            for s in (4, 4, 5)]
    texts = []
    for i, f in enumerate(runs):
        f.save(tmp_path / str(i))
        text = (tmp_path / str(i) / "front.json").read_text()
        texts.append(text[:text.index('"timing"')])
    assert texts[0] == texts[1] != texts[2]
    assert runs[0].algorithm["name"] == "pals"


@needs_assets
def test_beats_nsga2_on_the_same_budget():
    prof = note10()
    ref = {"latency_ms": 100.0, "top1": 75.0}
    for seed in (1, 2, 3):
        pals, nsga2 = (search(prof, algorithm=a, population=50, generations=60, seed=seed, assets=ASSETS,
                              reference_point=ref) for a in ("pals", "nsga2"))
        assert pals.evaluations == nsga2.evaluations == 3000
        assert pals.hypervolume > nsga2.hypervolume + 10


@needs_assets
def test_three_objectives_options_and_settings():
    from ofa2_zoo import Ofa2Error

    front = search("note10", algorithm="pals", population=15, generations=4, seed=1, assets=ASSETS,
                   objectives=["latency_ms", "top1", "macs_m"])
    assert 0 < len(front.members) <= 15 and front.evaluations == 60
    with pytest.raises(Ofa2Error, match="pals runs on arrays only"):
        search("note10", algorithm="pals", engine="pymoo", population=4, generations=1, assets=ASSETS)
    with pytest.raises(Ofa2Error, match="mutation_prob is for the other algorithms"):
        search("note10", algorithm="pals", mutation_prob=0.2, population=4, generations=1, assets=ASSETS)
    settings = search("note10", algorithm="pals", population=4, generations=2, assets=ASSETS).algorithm
    assert settings == {"name": "pals", "objectives": ["latency_ms", "top1"], "engine": "vectorised",
                        "population": 4, "generations": 2, "crossover_prob": 1.0, "elite": 10,
                        "more_genes_prob": 0.5}


def test_pals_is_the_default_of_search_the_cli_and_run():
    import inspect

    from ofa2_zoo.cli.run import run as run_command
    from ofa2_zoo.cli.search import search_command
    from ofa2_zoo.run import run_pipeline
    from ofa2_zoo.search import DEFAULT_ALGORITHM

    assert DEFAULT_ALGORITHM == "pals"
    assert inspect.signature(search).parameters["algorithm"].default == DEFAULT_ALGORITHM
    assert inspect.signature(run_pipeline).parameters["algorithm"].default == DEFAULT_ALGORITHM
    for command in (search_command, run_command):  # the CLI reads ofa2_zoo.defaults (no search import at start-up)
        assert inspect.signature(command).parameters["algorithm"].default.default == DEFAULT_ALGORITHM


def test_with_nothing_feasible_the_archive_keeps_the_least_violating_archs():
    from ofa2_zoo.search.pals import _State

    state = _State(n_var=3, n_obj=2, ref=np.array([10.0, 10.0]), size=3)
    X = np.arange(15).reshape(5, 3)
    state.add(X, np.ones((5, 2)), np.array([5.0, 1.0, 4.0, 2.0, 3.0]))
    assert not state.feasible
    assert state.cv.tolist() == [1.0, 2.0, 3.0] and state.X.tolist() == X[[1, 3, 4]].tolist()
    state.add(X[:1] + 100, np.ones((1, 2)), np.array([0.0]))  # the first feasible arch replaces them all
    assert state.feasible and state.X.tolist() == [[100, 101, 102]]
