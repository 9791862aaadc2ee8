"""The extracted sub-network is a timm MobileNetV3 and behaves like one."""

import json

import pytest
import timm
import torch
from safetensors.torch import save_file

import ofa2_zoo  # noqa: F401  (registers ofa2_subnet)
from ofa2_zoo import ArchSpec, extract_subnet, get_space, load_supernet
from timm.models.mobilenetv3 import MobileNetV3

SPACE = get_space("ofa_mbv3_w1.0")
ARCH = SPACE.sample(1, 11)[0]
ARCH = ArchSpec.from_dict({**ARCH.to_dict(), "r": [160]}, SPACE)


def test_create_model_forward_backward_and_cfg():
    m = timm.create_model("ofa2_subnet", arch=ARCH.to_string(), space=SPACE.name)
    assert isinstance(m, MobileNetV3)
    assert m.pretrained_cfg["input_size"] == (3, 160, 160)
    cfg = timm.data.resolve_data_config({}, model=m)
    assert cfg["input_size"] == (3, 160, 160)
    x = torch.randn(2, 3, 160, 160)
    out = m(x)
    assert out.shape == (2, 1000)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.eval()
    with torch.no_grad():
        assert torch.equal(m.forward_head(m.forward_features(x)), m(x))


def test_arch_as_dict_json_or_string_is_the_same_model():
    a = timm.create_model("ofa2_subnet", arch=ARCH.to_dict(), space=SPACE.name)
    b = timm.create_model("ofa2_subnet", arch=ARCH.to_json(), space=SPACE.to_dict())
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}



def test_no_arguments_build_the_documented_default_arch():
    """Like every timm model, ofa2_subnet builds with no arguments: the largest network of OFA w1.2 at 224."""
    from ofa2_zoo.supernet.subnet import default_arch

    m = timm.create_model("ofa2_subnet")
    space = get_space("ofa_mbv3_w1.2")
    assert default_arch() == space.largest() and space.largest().r == 224
    assert m.ofa2_arch == space.largest() and m.ofa2_space == space
    assert m.pretrained_cfg["input_size"] == (3, 224, 224) and m.pretrained_cfg["pool_size"] == (7, 7)
    assert sum(p.numel() for p in m.parameters()) == sum(
        p.numel() for p in timm.create_model("ofa2_subnet", arch=space.largest().to_dict()).parameters())
    small = timm.create_model("ofa2_subnet", space="ofa2_digits")  # another space: its largest network
    assert small.ofa2_arch == get_space("ofa2_digits").largest()


@pytest.mark.parametrize("space_name", ["ofa_mbv3_w1.0", "ofa2_digits"])
def test_pool_size_is_the_feature_map_size_at_every_resolution(space_name):
    space = get_space(space_name)
    for i, r in enumerate(space.resolutions[:: max(1, len(space.resolutions) // 4)] + (space.resolutions[-1],)):
        arch = ArchSpec.from_dict({**space.sample(1, i)[0].to_dict(), "r": [r]}, space)
        m = timm.create_model("ofa2_subnet", arch=arch.to_dict(), space=space.name).eval()
        with torch.no_grad():
            feats = m.forward_features(torch.zeros(1, space.in_chans, r, r))
        assert tuple(feats.shape[-2:]) == m.pretrained_cfg["pool_size"] == (space.feature_size(r),) * 2, r
        assert m.pretrained_cfg["input_size"] == (space.in_chans, r, r)


def test_features_only_num_classes_and_reset_classifier():
    f = timm.create_model("ofa2_subnet", arch=ARCH.to_dict(), space=SPACE.name, features_only=True)
    feats = f(torch.randn(1, 3, 160, 160))
    assert [t.shape[1] for t in feats] == f.feature_info.channels()
    assert [t.shape[-1] for t in feats] == [80, 40, 20, 10, 5]
    m = timm.create_model("ofa2_subnet", arch=ARCH.to_dict(), space=SPACE.name, num_classes=0)
    assert m(torch.randn(1, 3, 160, 160)).shape == (1, 1280)
    m = timm.create_model("ofa2_subnet", arch=ARCH.to_dict(), space=SPACE.name, num_classes=7)
    assert m(torch.randn(1, 3, 160, 160)).shape == (1, 7)
    m.reset_classifier(3)
    assert m.get_classifier().out_features == 3 and m(torch.randn(1, 3, 160, 160)).shape == (1, 3)


def test_extract_with_new_head_keeps_the_body():
    net = load_supernet(SPACE).eval()
    full = extract_subnet(net, ARCH).eval()
    headless = extract_subnet(net, ARCH, num_classes=0).eval()
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(headless(x), full.forward_head(full.forward_features(x), pre_logits=True))


def test_local_dir_round_trip_reproduces_outputs(tmp_path):
    net = load_supernet(SPACE)
    torch.manual_seed(0)
    for p in net.parameters():
        p.data.normal_(0, 0.1)
    model = extract_subnet(net, ARCH).eval()
    config = {"architecture": "ofa2_subnet", "num_classes": 1000,
              "model_args": {"arch": ARCH.to_dict(), "space": SPACE.to_dict()},
              "pretrained_cfg": {**{k: v for k, v in model.pretrained_cfg.items() if k not in ("architecture", "tag")}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "model.safetensors"))
    loaded = timm.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_torchscript_works():
    m = timm.create_model("ofa2_subnet", arch=ARCH.to_dict(), space=SPACE.name).eval()
    x = torch.randn(1, 3, 160, 160)
    scripted = torch.jit.script(m)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), m(x))
