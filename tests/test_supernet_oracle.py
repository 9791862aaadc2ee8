"""Equivalence with the original OFA implementation (the `ofa` package as oracle)."""

import numpy as np
import pytest
import torch

from _oracle import ofa_supernet, randomise, set_ofa_active
from ofa2_zoo import extract_subnet, load_supernet
from ofa2_zoo._threads import limited_threads

WIDTHS = {"ofa_mbv3_w1.0": 1.0, "ofa_mbv3_w1.2": 1.2}


@pytest.fixture(autouse=True)
def one_thread():
    """Batch-1 forwards are many small ops: a second torch thread only spin-waits at each one, and
    with another process on a core that made the float64 comparison 225-382 s instead of ~9 s
    (``benchmarks/results/busy_suite.log``). The numbers compared do not depend on the threads."""
    with limited_threads(1):
        yield


@pytest.fixture(scope="module", params=sorted(WIDTHS))
def pair(request):
    torch.manual_seed(0)
    ours = load_supernet(request.param)
    randomise(ours, seed=1)
    theirs = ofa_supernet(WIDTHS[request.param])
    theirs.load_state_dict(ours.state_dict())
    return ours.eval(), theirs.eval()


def test_state_dict_keys_and_shapes_match(pair):
    ours, theirs = pair
    a, b = ours.state_dict(), theirs.state_dict()
    assert len(a) == len(b) == 475
    assert set(a) == set(b)
    assert all(a[k].shape == b[k].shape for k in a)
    n = sum(p.numel() for p in ours.parameters())
    assert n == sum(p.numel() for p in theirs.parameters())
    assert n == {"ofa_mbv3_w1.0": 7_678_880, "ofa_mbv3_w1.2": 10_715_752}[ours.space.name]


def _archs(space, n, seed):
    rng = np.random.default_rng(seed)
    archs = space.sample(n, rng)
    # several resolutions, always including both ends of the range and the extremes of the space
    return archs + [space.largest(224), space.smallest(128)]


@pytest.mark.slow("runs the supernet in float64 twice (OFA's and ours) on 22 sub-networks, elastic and "
                  "extracted: 8-31 s on a loaded 2-core machine")
def test_float64_elastic_and_extracted_match_exactly(pair):
    ours, theirs = pair
    ours, theirs = ours.double(), theirs.double()
    try:
        torch.manual_seed(2)
        for arch in _archs(ours.space, 20, 3):
            x = torch.randn(1, 3, arch.r, arch.r, dtype=torch.float64)
            ours.set_active(arch)
            set_ofa_active(theirs, arch)
            with torch.no_grad():
                ref = theirs(x)
                out = ours(x)
                sub = extract_subnet(ours, arch).eval()
                out_sub = sub(x)
            scale = ref.abs().max().item()
            assert (out - ref).abs().max().item() <= 1e-10 * max(scale, 1.0), arch
            assert (out_sub - ref).abs().max().item() <= 1e-10 * max(scale, 1.0), arch
            their_sub = theirs.get_active_subnet()
            assert sum(p.numel() for p in sub.parameters()) == sum(p.numel() for p in their_sub.parameters())
    finally:
        ours.float(), theirs.float()


def test_float32_within_relative_tolerance(pair):
    ours, theirs = pair
    torch.manual_seed(4)
    for arch in _archs(ours.space, 4, 5):
        x = torch.randn(2, 3, arch.r, arch.r)
        ours.set_active(arch)
        set_ofa_active(theirs, arch)
        with torch.no_grad():
            ref, out, out_sub = theirs(x), ours(x), extract_subnet(ours, arch).eval()(x)
        scale = ref.abs().max().item()
        assert (out - ref).abs().max().item() <= 1e-5 * scale
        assert (out_sub - ref).abs().max().item() <= 1e-5 * scale


def test_channel_sorting_matches_ofa_and_keeps_the_largest_network(pair):
    ours, theirs = pair
    ours, theirs = ours.double(), theirs.double()
    try:
        x = torch.randn(1, 3, 160, 160, dtype=torch.float64)
        largest = ours.space.largest(160)
        ours.set_active(largest)
        with torch.no_grad():
            before = ours(x)
        ours.sort_channels()
        theirs.re_organize_middle_weights()
        for k, v in ours.state_dict().items():
            assert torch.equal(v, theirs.state_dict()[k]), k
        with torch.no_grad():
            after = ours(x)
        assert (before - after).abs().max().item() < 1e-10 * before.abs().max().item()
    finally:
        ours.float(), theirs.float()
