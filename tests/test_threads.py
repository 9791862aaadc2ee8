"""Thread settings: the search (and packaging, see test_package) runs on one thread and restores
the caller's settings; the predictors' parallel path for large batches gives the same bits as
the serial one.

These tests set thread counts on purpose (that is what they are about)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from ofa2_zoo._threads import limited_threads
from ofa2_zoo.objectives import mlp
from ofa2_zoo.objectives.accuracy import load_accuracy_predictor
from ofa2_zoo.objectives.base import AccuracySource
from ofa2_zoo.search import search


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


class Recording(AccuracySource):
    """The embedded predictor, noting the thread settings it runs under."""

    def __init__(self):
        self.inner = load_accuracy_predictor("ofa2_digits")
        self.space, self.provenance = self.inner.space, self.inner.provenance
        self.seen: set[tuple] = set()

    def predict_genes(self, genes):
        self.seen.add((torch.get_num_threads(), tuple(_blas_threads())))
        return self.inner.predict_genes(genes)


def test_search_runs_single_threaded_and_restores_the_callers_settings():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threadpool_limits(2, user_api="blas"):
            acc = Recording()
            front = search("digits-cpu", accuracy=acc, population=8, generations=3, seed=0)
            assert front.members
            assert acc.seen == {(1, tuple(1 for _ in _blas_threads()))}
            assert torch.get_num_threads() == 2 and set(_blas_threads()) <= {2}
    finally:
        torch.set_num_threads(before)


def test_parallel_path_gives_the_serial_bits(monkeypatch):
    pred = load_accuracy_predictor("ofa2_digits")
    genes = pred.space.sample_genes(mlp.PARALLEL_MIN_ROWS + 77, np.random.default_rng(0))
    serial = np.concatenate([pred.predict_genes(genes[i:i + 1000]) for i in range(0, len(genes), 1000)])
    calls = []
    monkeypatch.setattr(mlp, "_cores", lambda: calls.append(1) or 2)
    parallel = pred.predict_genes(genes)
    assert calls, "the parallel path did not run"
    np.testing.assert_array_equal(parallel, serial)


def test_block_mlp_of_more_than_ten_modules_keeps_the_layer_order():
    """An ``nn.Sequential`` of 6 Linear layers (indices 0, 2, ..., 10): the layers are taken in
    numeric order (``10`` after ``8``, not after ``0``), so the forward pass is torch's."""
    torch.manual_seed(0)
    widths = [5, 7, 6, 9, 4, 8, 3]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(widths) - 2 else [])
    seq = torch.nn.Sequential(*layers).eval()
    net = mlp.BlockMLP.from_state_dict(seq.state_dict())
    assert net.sizes == widths
    x = torch.randn(40, 5)
    with torch.no_grad():
        np.testing.assert_allclose(net(x.numpy()), seq(x).numpy(), rtol=1e-5, atol=1e-6)


def test_block_mlp_refuses_what_is_not_an_mlp():
    with pytest.raises(ValueError, match="not the state dict of a Linear/ReLU MLP"):
        mlp.BlockMLP.from_state_dict({"0.weight": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="does not fit"):
        mlp.BlockMLP([(torch.zeros(4, 3), torch.zeros(4)), (torch.zeros(1, 5), torch.zeros(1))])
    net = mlp.BlockMLP([(torch.ones(2, 3), torch.zeros(2))])
    with pytest.raises(ValueError, match=r"expected features of shape \(N, 3\)"):
        net(np.zeros((4, 2)))
    assert net(np.zeros((0, 3))).shape == (0, 2)


def _mkl_threads() -> int | None:
    """torch's MKL thread count (threadpoolctl cannot see torch's linked-in MKL; torch reports it)."""
    import re

    found = re.search(r"mkl_get_max_threads\(\) : (\d+)", torch.__config__.parallel_info())
    return int(found.group(1)) if found else None


def test_limited_threads_restores_and_refuses_zero():
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the caller's setting, not the block's 1
    try:
        mkl = _mkl_threads()
        with limited_threads(1):
            assert torch.get_num_threads() == 1 and set(_blas_threads()) <= {1}
        # every pool torch computes with is back, MKL's too (threadpoolctl alone restores only OpenMP)
        assert torch.get_num_threads() == 2 and _mkl_threads() == mkl
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        with limited_threads(0):
            pass
