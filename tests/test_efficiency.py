"""Analytic params/MACs agree with counting on the built network."""

import numpy as np
import pytest
import torch
from torch import nn

from ofa2_zoo import create_subnet, efficiency_model, get_space


def counted_macs(model: nn.Module, in_chans: int, r: int) -> int:
    total = 0

    def hook(m, inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += (m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                      * out.shape[2] * out.shape[3] // m.groups)
        else:
            total += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, in_chans, r, r))
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("name", ["ofa_mbv3_w1.0", "ofa_mbv3_w1.2"])
def test_analytic_counts_match_the_built_network(name):
    space = get_space(name)
    em = efficiency_model(space)
    archs = space.sample(6, 0) + [space.largest(), space.smallest()]
    macs, params = em.macs(archs), em.params(archs)
    for arch, m, p in zip(archs, macs, params):
        net = create_subnet(arch, space)
        assert int(m) == counted_macs(net, 3, arch.r), arch
        assert int(p) == sum(t.numel() for t in net.parameters()), arch


def test_known_values():
    # OFA's largest w1.0 net at 224 is the well-known ~7.7 M-parameter, ~570 MMAC network.
    em = efficiency_model("ofa_mbv3_w1.0")
    space = get_space("ofa_mbv3_w1.0")
    assert em.params([space.largest()])[0] == 7_664_760
    assert 560e6 < em.macs([space.largest()])[0] < 570e6


def test_vectorised_equals_one_by_one():
    space = get_space("ofa_mbv3_w1.2")
    em = efficiency_model(space)
    genes = space.sample_genes(300, 4)
    batch = em.macs_genes(genes)
    single = np.array([em.macs_genes(g[None])[0] for g in genes])
    np.testing.assert_array_equal(batch, single)
