"""Extraction is exact on spaces other than OFA's (other widths, strides, choices, channels)."""

import pytest
import timm
import torch

from ofa2_zoo import SearchSpace, extract_subnet, load_supernet

SMALL = SearchSpace(
    name="test_small", stem_width=8, first_block_width=16, stage_widths=(16, 24, 40), stage_strides=(2, 1, 2),
    stage_acts=("relu", "h_swish", "h_swish"), stage_se=(False, True, True), final_expand_width=48,
    feature_mix_width=64, ks_choices=(3, 5), expand_choices=(2, 3, 4), depth_choices=(1, 2, 3),
    resolutions=(4, 6, 8, 16), in_chans=1, num_classes=10)


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_extracted_subnets_equal_the_elastic_forward(stem_stride):
    import dataclasses

    space = dataclasses.replace(SMALL, stem_stride=stem_stride, name=f"test_small_s{stem_stride}")
    torch.manual_seed(0)
    net = load_supernet(space)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype.is_floating_point:
                t.copy_(torch.rand_like(t) + 0.5 if name.endswith("running_var") else torch.randn_like(t) * 0.3)
    net = net.double().eval()
    for arch in space.sample(12, 1) + [space.largest(), space.smallest()]:
        x = torch.randn(3, 1, arch.r, arch.r, dtype=torch.float64)
        net.set_active(arch)
        sub = extract_subnet(net, arch).eval()
        with torch.no_grad():
            ref, out = net(x), sub(x)
        assert (ref - out).abs().max() <= 1e-10 * ref.abs().max(), arch
        assert sum(p.numel() for p in sub.parameters()) == int(
            __import__("ofa2_zoo").efficiency_model(space).params([arch])[0])


def test_features_only_reductions_follow_the_stem_stride():
    import dataclasses

    space = dataclasses.replace(SMALL, stem_stride=1)
    arch = space.largest(16)
    f = timm.create_model("ofa2_subnet", arch=arch.to_dict(), space=space.to_dict(), features_only=True)
    outs = f(torch.randn(1, 1, 16, 16))
    assert [16 // o.shape[-1] for o in outs] == f.feature_info.reduction()
