"""Acceptance, end to end on the embedded default: search → ofa2 package → timm names.

The packaged models are loaded with ``timm.create_model("ofa2_digits_cpu_front_<k>",
pretrained=True)`` after ``register_front``; their top-1 on the digits validation split, the
timm way (``resolve_data_config`` + ``create_transform`` on PIL images), must equal the
measured accuracy in their cards, and onnxruntime must agree with PyTorch on every validation
image's top-1.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import timm
import torch
from huggingface_hub import ModelCard

import ofa2_zoo


from ofa2_zoo.package import read_manifest  # noqa: E402
from ofa2_zoo.package.onnx_export import ort_session  # noqa: E402

PROFILE = "digits-cpu"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Search the default profile (small budget), then package it with the CLI's defaults."""
    from ofa2_zoo.search import search
    from ofa2_zoo.supernet import load_supernet

    tmp = tmp_path_factory.mktemp("e2e")
    net = load_supernet("ofa2_digits", weights="embedded")
    front = search(PROFILE, algorithm="nsga2", population=16, generations=4, seed=1,
                   supernet_sha256=net.weights_sha256)
    front.save(tmp / "front")
    proc = subprocess.run([sys.executable, "-m", "ofa2_zoo", "package", str(tmp / "front"), "--out",
                           str(tmp / "package"), "--members", "3"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return tmp / "package"


def _val_the_timm_way(model, uint8: bool = False):
    """The digits validation split as PIL images through the transform timm builds from the model's cfg."""
    import numpy as np
    from PIL import Image

    from ofa2_zoo.training.data import source_images

    val = source_images("digits", "val")
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    images = [val.image(i) for i in range(len(val))]
    if uint8:  # 8-bit grey images, as most image files are
        images = [Image.fromarray(np.round(np.asarray(im) * 255).astype(np.uint8), "L") for im in images]
    return torch.stack([transform(im) for im in images]), torch.tensor(val.labels)


def test_timm_names_load_the_packaged_weights_with_the_card_accuracy(package):
    names = ofa2_zoo.register_front(package)
    manifest = read_manifest(package)
    ks = range(len(manifest.members))
    # digits-cpu is not the zoo's default profile (fmnist-cpu is): no ofa2_front_<k> aliases
    assert set(names) == {f"ofa2_digits_cpu_front_{k}" for k in ks}
    for m in manifest.members:
        model = timm.create_model(m.name, pretrained=True).eval()
        assert model.ofa2_arch.to_dict() == m.arch
        r = m.arch["r"][0]
        x, y = _val_the_timm_way(model)
        with torch.no_grad():
            logits = model(x)
            x8, y8 = _val_the_timm_way(model, uint8=True)
            top1_uint8 = 100.0 * float((model(x8).argmax(1) == y8).float().mean())
        top1 = 100.0 * float((logits.argmax(1) == y).float().mean())
        assert top1_uint8 == pytest.approx(top1, abs=1.0)
        feature = model.forward_features(x[:1]).shape[-2:]
        assert tuple(feature) == model.pretrained_cfg["pool_size"]
        card = ModelCard.load(package / m.folder / "README.md")
        measured = [e for e in card.data.eval_results if "measured" in e.metric_name]
        assert measured and measured[0].metric_value == pytest.approx(top1, abs=1e-3)
        assert m.measured["top1"] == pytest.approx(top1, abs=1e-3) and m.measured["top1_images"] == len(y)
        ort_top1 = ort_session(package / m.folder / "model.onnx").run(["logits"], {"input": x.numpy()})[0].argmax(1)
        assert (ort_top1 == logits.argmax(1).numpy()).all()
        cfg = timm.data.resolve_data_config({}, model=model)
        assert tuple(cfg["input_size"]) == (1, r, r) and len(cfg["mean"]) == 1 and len(cfg["std"]) == 1


def test_default_profile_aliases_and_timm_expectations(package):
    ofa2_zoo.register_front(package, default_profile=PROFILE)  # as if digits-cpu were the zoo's default
    m = read_manifest(package).members[-1]
    model = timm.create_model(f"ofa2_front_{m.k}", pretrained=True)
    assert model.ofa2_arch.to_dict() == m.arch
    r = m.arch["r"][0]
    out = model(torch.randn(2, 1, r, r))
    out.sum().backward()
    assert out.shape == (2, 10)
    feats = timm.create_model(m.name, pretrained=True, features_only=True,
                              out_indices=tuple(range(len(model.feature_info))))
    assert [t.shape[1] for t in feats(torch.randn(1, 1, r, r))] == feats.feature_info.channels()
    assert timm.create_model(m.name, pretrained=True, num_classes=5)(torch.randn(1, 1, r, r)).shape == (1, 5)
    assert f"{m.name}.local" in timm.list_pretrained("ofa2_digits_cpu_*")


def test_package_json_and_cards_record_the_front_and_parity(package):
    manifest = read_manifest(package)
    front = json.loads((package / "front" / "front.json").read_text())
    assert manifest.profile == PROFILE and manifest.provenance["supernet_sha256"] == front["supernet"]["sha256"]
    for m in manifest.members:
        assert m.parity.passed and m.parity.top1_agreement == 1.0
        card = (package / m.folder / "README.md").read_text()
        assert manifest.front_version_id in card and f"{100 * m.parity.top1_agreement:.2f} %" in card
