"""BN re-calibration follows OFA's procedure (checked against the `ofa` package)."""

import torch

from _oracle import ofa_supernet, randomise, require_oracle, set_ofa_active
from ofa2_zoo import extract_subnet, get_space, load_supernet, recalibrate_bn

set_running_statistics = require_oracle("ofa.imagenet_classification.elastic_nn.utils").set_running_statistics


def test_recalibrated_subnet_matches_ofa():
    space = get_space("ofa_mbv3_w1.0")
    ours = load_supernet(space)
    randomise(ours, seed=3)
    theirs = ofa_supernet(1.0)
    theirs.load_state_dict(ours.state_dict())
    arch = space.sample(1, 5)[0]
    arch = type(arch).from_dict({**arch.to_dict(), "r": [128]}, space)
    torch.manual_seed(0)
    batches = [torch.randn(8, 3, 128, 128) for _ in range(3)] + [torch.randn(5, 3, 128, 128)]
    sub = extract_subnet(ours, arch)
    sub.train()
    seen = recalibrate_bn(sub, [(b, torch.zeros(len(b))) for b in batches], num_images=100)
    assert seen == 29 and sub.training  # mode restored
    set_ofa_active(theirs, arch)
    their_sub = theirs.get_active_subnet()
    set_running_statistics(their_sub, [(b, None) for b in batches])
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        ref = their_sub.eval()(x)
        out = sub.eval()(x)
    assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
    # the BN statistics really changed (random init statistics were mean 0 / var 1-ish)
    assert not torch.allclose(sub.bn1.running_mean, extract_subnet(ours, arch).bn1.running_mean)


def test_num_images_limit_and_no_other_state_changes():
    space = get_space("ofa_mbv3_w1.0")
    sub = extract_subnet(load_supernet(space), space.smallest(128))
    before = {k: v.clone() for k, v in sub.state_dict().items()}
    seen = recalibrate_bn(sub, (torch.randn(16, 3, 128, 128) for _ in range(10)), num_images=40)
    assert seen == 40
    after = sub.state_dict()
    for k, v in before.items():
        if "running_" not in k:
            assert torch.equal(v, after[k]), k


def test_by_default_the_first_2000_images_are_used():
    """The documented default: 2,000 images, and the statistics are theirs (not those of the next ones)."""
    torch.manual_seed(0)
    images = torch.cat([torch.randn(2000, 1, 2, 2), torch.randn(1000, 1, 2, 2) + 5.0])  # later images differ
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    assert recalibrate_bn(model, images.split(300)) == 2000
    torch.testing.assert_close(model[0].running_mean, images[:2000].mean().reshape(1))
