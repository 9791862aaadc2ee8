"""Faster packaging (issue 24): extraction initialises no weights it then overwrites, and
packaging's latency check is capped in time.

- ``extract_subnet`` builds timm's MobileNetV3 on the meta device and assigns the supernet's
  slices (timm's weight initialisation sees only meta tensors); the result equals the supernet's
  active sub-network exactly, and a new head still gets timm's (real) initialisation.
- ``packaging_measurement`` caps ``min_seconds`` at 0.5 s and ``warmup`` at 10 calls; values
  below the caps pass unchanged; ``_measure_latency`` times with the capped settings.
"""

from __future__ import annotations

import pytest
import torch

from ofa2_zoo.package import package as package_module
from ofa2_zoo.package.package import PACKAGE_MAX_WARMUP, PACKAGE_MIN_SECONDS, packaging_measurement
from ofa2_zoo.profiles.schema import Measurement
from ofa2_zoo.supernet.extract import extract_subnet, subnet_state_dict

from _package_helpers import TINY, tiny_supernet


@pytest.fixture
def init_devices(monkeypatch):
    """The devices of the parameters timm's MobileNetV3 weight initialisation touches."""
    import timm.models._efficientnet_builder as builder

    seen: list[str] = []
    original = builder._init_weight_goog

    def spy(m, n="", **kw):
        seen.extend(p.device.type for p in m.parameters(recurse=False))
        return original(m, n, **kw)

    monkeypatch.setattr(builder, "_init_weight_goog", spy)
    return seen


def test_extraction_initialises_nothing_on_a_real_device_and_copies_exactly(init_devices):
    net = tiny_supernet().eval()
    arch = TINY.sample(1, 3)[0]
    sub = extract_subnet(net, arch)
    assert init_devices and set(init_devices) == {"meta"}  # timm's init ran, on shapes only
    state = subnet_state_dict(net, arch)
    got = sub.state_dict()
    assert sorted(got) == sorted(state)
    for k, v in state.items():
        assert torch.equal(got[k], v), k
    assert not any(t.is_meta for t in (*sub.parameters(), *sub.buffers()))
    assert all(p.requires_grad for p in sub.parameters()) and not sub.training
    x = torch.randn(2, TINY.in_chans, arch.r, arch.r, generator=torch.Generator().manual_seed(0))
    net.set_active(arch)
    with torch.no_grad():
        torch.testing.assert_close(sub(x), net(x), rtol=1e-5, atol=1e-6)  # the supernet's active path


def test_a_new_head_keeps_timms_initialisation_on_the_real_device(init_devices):
    net = tiny_supernet()
    arch = TINY.sample(1, 4)[0]
    sub = extract_subnet(net, arch, num_classes=net.num_classes + 2)
    assert "cpu" in init_devices  # built for real: the fresh classifier needs its initialisation
    assert sub.classifier.weight.shape[0] == net.num_classes + 2 and not sub.classifier.weight.is_meta
    assert sub.classifier.weight.abs().sum() > 0
    state = subnet_state_dict(net, arch)
    assert torch.equal(sub.state_dict()["conv_stem.weight"], state["conv_stem.weight"])


@pytest.mark.parametrize(("asked", "used"), [(2.0, PACKAGE_MIN_SECONDS), (0.6, PACKAGE_MIN_SECONDS),
                                             (0.5, 0.5), (0.4, 0.4), (0.0, 0.0)])
def test_packaging_caps_min_seconds(asked, used):
    m = Measurement(backend="onnxruntime", min_seconds=asked, warmup=20, repeats=100, rounds=10)
    capped = packaging_measurement(m)
    assert capped.min_seconds == used
    assert (capped.repeats, capped.rounds, capped.backend, capped.statistic) == (100, 10, m.backend, m.statistic)
    assert m.min_seconds == asked  # the profile's own settings are untouched


@pytest.mark.parametrize(("asked", "used"), [(20, PACKAGE_MAX_WARMUP), (11, 10), (10, 10), (9, 9), (0, 0)])
def test_packaging_caps_warmup(asked, used):
    assert packaging_measurement(Measurement(backend="torch", warmup=asked)).warmup == used


def test_member_latency_is_timed_with_the_capped_settings(monkeypatch):
    from ofa2_zoo.profiles import load_profile
    from ofa2_zoo.profiles import measure

    prof = load_profile("digits-cpu")
    assert prof.measurement.min_seconds == 2 and prof.measurement.warmup == 20  # the shipped profile asks for more
    used = []

    def fake(module, shape, m):
        used.append((shape, m))
        return measure.Timing(median_ms=0.25, iqr_ms=0.01, n=123)

    monkeypatch.setattr(measure, "measure_module", fake)
    out = package_module._measure_latency(torch.nn.Identity(), (1, 12), prof)
    (shape, m), = used
    assert shape == (1, 1, 12, 12) and m.min_seconds == PACKAGE_MIN_SECONDS and m.warmup == PACKAGE_MAX_WARMUP
    assert (m.repeats, m.rounds, m.clock) == (prof.measurement.repeats, prof.measurement.rounds, prof.measurement.clock)
    assert out["median_ms"] == 0.25 and out["repeats"] == 123
