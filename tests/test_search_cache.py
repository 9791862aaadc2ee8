"""The objective cache on its own (ofa2_zoo/search/cache.py): its keys change with each part of
an arch and with nothing else, lookups find exactly what was inserted (across many merged runs),
namespaces stay apart, and a saved cache loads back value for value. Fast: no search runs here
(the search's use of the cache is test_search.py::test_cache_reuses_accuracy_across_runs_and_profiles)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from ofa2_zoo.search import ObjectiveCache
from ofa2_zoo.search.cache import arch_keys
from ofa2_zoo.space import DIGITS_SPACE

SPACE = DIGITS_SPACE  # ks (3, 5), e (2, 3, 4), d (1, 2, 3), r (4, 6, 8, 12, 16): 9 blocks, 3 stages
NB, NS = SPACE.n_blocks, SPACE.n_stages


def _genes(ks=0, e=0, d=2, r=0, **at) -> np.ndarray:
    """One gene row: every block's kernel/expand index, every stage's depth index, the resolution index;
    ``at`` = {"ks3": 1, ...} sets one block's index (all stages at full depth so every block counts)."""
    row = np.array([ks] * NB + [e] * NB + [d] * NS + [r], dtype=np.int64)
    for name, value in at.items():
        part, block = name.rstrip("0123456789"), int(name.lstrip("ksed"))
        row[{"ks": 0, "e": NB, "d": 2 * NB}[part] + block] = value
    return row[None]


def _key(**kw) -> bytes:
    return arch_keys(SPACE, _genes(**kw))[0].tobytes()


def test_a_key_changes_when_only_one_part_of_the_arch_changes():
    base = _key()
    changed = {"kernel of block 0": _key(ks0=1), "kernel of the last block": _key(**{f"ks{NB - 1}": 1}),
               "expand of block 0": _key(e0=2), "expand of the last block": _key(**{f"e{NB - 1}": 1}),
               "depth of stage 0": _key(d0=1), "depth of the last stage": _key(**{f"d{NS - 1}": 0}),
               "resolution": _key(r=1), "largest resolution": _key(r=4)}
    for what, key in changed.items():
        assert key != base, what
    assert len(set(changed.values())) == len(changed)
    assert _key() == base  # the same arch: the same key


def test_a_key_holds_the_arch_values_not_gene_indices():
    # 16 px is index 4 of the digits space and index 0 of a space of 16 px only: one key for both
    only16 = dataclasses.replace(SPACE, name="ofa2_digits_16", resolutions=(16,))
    genes = SPACE.sample_genes(12, rng=3)
    genes16 = genes.copy()
    genes[:, -1], genes16[:, -1] = 4, 0
    assert arch_keys(SPACE, genes).tolist() == arch_keys(only16, genes16).tolist()
    keys = arch_keys(SPACE, genes)
    assert keys.shape == (12,) and keys.dtype.itemsize == 2 * (2 * NB + NS + 1)
    v = SPACE.decode(genes)
    row = np.frombuffer(keys[0].tobytes(), dtype="<i2")
    assert row.tolist() == [*v["ks"][0], *v["e"][0], *v["d"][0], v["r"][0]]
    # inactive blocks are canonical: their genes do not change the key
    shallow = _genes(d=0)
    other = shallow.copy()
    other[0, 1], other[0, NB + 1] = 1, 2  # block 1 of stage 0 does not run at depth 1
    assert arch_keys(SPACE, shallow)[0] == arch_keys(SPACE, other)[0]


def _distinct_keys(n: int, seed: int) -> np.ndarray:
    genes = np.unique(SPACE.sample_genes(4 * n, rng=seed), axis=0)
    keys = np.unique(arch_keys(SPACE, genes))
    rng = np.random.default_rng(seed)
    return keys[rng.permutation(len(keys))[:n]]


def test_lookup_finds_every_inserted_value_after_many_merged_inserts():
    keys = _distinct_keys(300, seed=1)
    values = np.arange(300, dtype=float) * 1.5 - 7.0
    cache = ObjectiveCache()
    sizes = [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 70, 87]  # 12 inserts of growing and shrinking runs
    start = 0
    for i, n in enumerate(sizes):
        cache.insert("top1:x", keys[start:start + n], values[start:start + n])
        start += n
        assert len(cache) == start
        got, found = cache.lookup("top1:x", keys)
        assert found.tolist() == [True] * start + [False] * (300 - start), i
        assert got[:start].tolist() == values[:start].tolist()
        assert np.isnan(got[start:]).all()
    assert start == 300
    # looked up in any order, with repeats: each key its own value
    order = np.random.default_rng(5).integers(0, 300, size=500)
    got, found = cache.lookup("top1:x", keys[order])
    assert found.all() and got.tolist() == values[order].tolist()


def test_a_key_past_the_last_stored_one_is_a_miss():
    keys = np.sort(_distinct_keys(20, seed=2))
    cache = ObjectiveCache()
    cache.insert("ns", keys[:10], np.arange(10.0))
    got, found = cache.lookup("ns", keys[10:])  # all sort after every stored key
    assert not found.any() and np.isnan(got).all()
    got, found = cache.lookup("ns", keys[:1])
    assert found.tolist() == [True] and got.tolist() == [0.0]


def test_namespaces_are_apart_and_listed_sorted():
    keys = _distinct_keys(10, seed=3)
    cache = ObjectiveCache()
    cache.insert("top1:b", keys, np.full(10, 1.0))
    cache.insert("latency_ms:a", keys[:4], np.full(4, 2.0))
    assert cache.namespaces() == ["latency_ms:a", "top1:b"] and len(cache) == 14
    got, found = cache.lookup("latency_ms:a", keys)
    assert found.tolist() == [True] * 4 + [False] * 6 and got[:4].tolist() == [2.0] * 4
    got, found = cache.lookup("top1:c", keys)
    assert not found.any() and np.isnan(got).all() and got.shape == (10,)
    cache.insert("top1:b", keys[:0], np.zeros(0))  # nothing to insert: nothing changes
    assert cache.namespaces() == ["latency_ms:a", "top1:b"] and len(cache) == 14
    got, found = cache.lookup("top1:b", keys[:0])
    assert got.shape == found.shape == (0,)


def test_keys_of_another_width_are_kept_apart():
    keys = _distinct_keys(8, seed=4)
    wide = np.array([k.tobytes() + b"\0\0" for k in keys], dtype=np.dtype((np.void, keys.dtype.itemsize + 2)))
    cache = ObjectiveCache()
    cache.insert("ns", keys[:4], np.arange(4.0))
    cache.insert("ns", wide[4:], np.arange(4.0, 8.0))  # merged with the first run: the newer width is kept
    got, found = cache.lookup("ns", wide)
    assert found.tolist() == [False] * 4 + [True] * 4 and got[4:].tolist() == [4.0, 5.0, 6.0, 7.0]
    got, found = cache.lookup("ns", keys)
    assert not found.any()
    cache.insert("ns", keys[:1], [9.0])  # a short run beside a longer one of another width: both stay
    got, found = cache.lookup("ns", keys[:1])
    assert found.tolist() == [True] and got.tolist() == [9.0]
    got, found = cache.lookup("ns", wide[4:])
    assert found.all()


def test_a_saved_cache_loads_back_value_for_value(tmp_path):
    keys = _distinct_keys(40, seed=6)
    cache = ObjectiveCache()
    for i in range(10):  # ten runs, so save merges several
        cache.insert("top1:p:abc", keys[4 * i:4 * i + 4], np.arange(4 * i, 4 * i + 4) + 0.25)
    cache.insert("latency_ms:q", keys[:3], [1.0, 2.0, 3.0])
    cache.save(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{hashlib.sha256(ns.encode()).hexdigest()[:24]}.npz" for ns in ("top1:p:abc", "latency_ms:q"))
    with np.load(tmp_path / f"{hashlib.sha256(b'latency_ms:q').hexdigest()[:24]}.npz") as data:
        assert str(data["namespace"]) == "latency_ms:q" and data["keys"].shape == (3, keys.dtype.itemsize)
        assert sorted(data["values"].tolist()) == [1.0, 2.0, 3.0]
    loaded = ObjectiveCache.load(tmp_path)
    assert loaded.namespaces() == ["latency_ms:q", "top1:p:abc"] and len(loaded) == 43
    got, found = loaded.lookup("top1:p:abc", keys)
    assert found.all() and got.tolist() == (np.arange(40) + 0.25).tolist()
    got, found = loaded.lookup("latency_ms:q", keys[:3])
    assert found.all() and got.tolist() == [1.0, 2.0, 3.0]


def test_a_damaged_or_missing_cache_folder_is_only_a_miss(tmp_path):
    assert len(ObjectiveCache.load(tmp_path / "absent")) == 0
    (tmp_path / "file").write_text("x")
    assert len(ObjectiveCache.load(tmp_path / "file")) == 0  # not a folder
    keys = _distinct_keys(5, seed=7)
    cache = ObjectiveCache()
    cache.insert("good", keys, np.arange(5.0))
    cache.insert("bad", keys, np.arange(5.0))
    cache.save(tmp_path / "c")
    bad = tmp_path / "c" / f"{hashlib.sha256(b'bad').hexdigest()[:24]}.npz"
    bad.write_bytes(b"not an npz")
    (tmp_path / "c" / "wrong.npz").write_bytes(b"")
    with open(tmp_path / "c" / "short.npz", "wb") as f:  # fewer values than keys: skipped
        np.savez(f, namespace=np.array("short"), keys=keys.view(np.uint8).reshape(5, -1), values=np.arange(4.0))
    with open(tmp_path / "c" / "nokeys.npz", "wb") as f:  # a file without keys: skipped
        np.savez(f, namespace=np.array("nokeys"), values=np.arange(4.0))
    with open(tmp_path / "c" / "flat.npz", "wb") as f:  # keys not one row per key: skipped
        np.savez(f, namespace=np.array("flat"), keys=np.zeros(8, np.uint8), values=np.arange(8.0))
    loaded = ObjectiveCache.load(tmp_path / "c")
    assert loaded.namespaces() == ["good"]
    got, found = loaded.lookup("good", keys)
    assert found.all() and got.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_an_empty_namespace_saves_and_loads_as_nothing(tmp_path):
    with open(tmp_path / "empty.npz", "wb") as f:
        np.savez(f, namespace=np.array("e"), keys=np.zeros((0, 4), np.uint8), values=np.zeros(0))
    assert len(ObjectiveCache.load(tmp_path)) == 0


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11])
def test_insert_sizes_around_the_merge_rule(n):
    keys = _distinct_keys(2 * n + 1, seed=10 + n)
    cache = ObjectiveCache()
    cache.insert("ns", keys[:n], np.arange(n, dtype=float))
    cache.insert("ns", keys[n:2 * n + 1], np.arange(n, 2 * n + 1, dtype=float))
    got, found = cache.lookup("ns", keys)
    assert found.all() and got.tolist() == list(range(2 * n + 1))


def test_whole_number_values_stay_numbers_when_a_fraction_is_merged_in():
    # values given as ints (a count, a whole latency) must not turn the run into an int array:
    # a later run merged into it would lose its fractions
    keys = np.sort(_distinct_keys(3, seed=20))
    cache = ObjectiveCache()
    cache.insert("ns", keys[:2], [1, 2])
    cache.insert("ns", keys[2:], [2.75])  # merged into the first run (2 * 1 >= 2)
    got, found = cache.lookup("ns", keys)
    assert found.all() and got.tolist() == [1.0, 2.0, 2.75]
    cache.insert("ns2", keys[2:], np.array([3], dtype=np.int64))
    cache.insert("ns2", keys[:1], [0.5])
    got, found = cache.lookup("ns2", keys[[0, 2]])
    assert got.tolist() == [0.5, 3.0]
