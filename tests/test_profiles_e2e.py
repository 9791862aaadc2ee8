"""End to end for each CPU profile of OFA's w1.2 space, as a user runs it: ``ofa2 search`` with
OFA's official accuracy predictor (small budgets), then ``ofa2 package`` with an official-format
supernet checkpoint, ONNX export and the latency measured on this machine in every card.

The official supernet checkpoints cannot be downloaded here, so the test writes one itself:
random weights of the ``ofa`` package's own ``OFAMobileNetV3`` (the oracle), saved the way OFA
publishes them (a torch file with the weights under ``state_dict``). The images are real:
scikit-learn's digits, written as an RGB image folder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from _assets import needs_assets
from ofa2_zoo._io import sha256_file
from ofa2_zoo.cli import main

pytestmark = needs_assets


def run(*args) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code


@pytest.fixture(scope="module")
def official_checkpoint(tmp_path_factory):
    from _oracle import ofa_supernet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "ofa_mbv3_d234_e346_k357_w1.2"
    torch.save({"state_dict": ofa_supernet(1.2).state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """scikit-learn's 8x8 digits as RGB PNGs: 10 classes, 4 training and 2 validation images each."""
    from PIL import Image
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digits_rgb")
    d = load_digits()
    for label in range(10):
        idx = np.flatnonzero(d.target == label)[:6]
        for j, i in enumerate(idx):
            split = "train" if j < 4 else "val"
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            grey = (d.images[i] * 255 / 16).astype("uint8")
            Image.fromarray(np.stack([grey, 255 - grey, grey // 2], -1), "RGB").save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("profile, population, generations, latency_source", [
    ("cpu-onnxruntime", 12, 3, "lookup-table"),
    ("cpu-torch", 6, 2, "measured"),
])
def test_cpu_profile_searches_and_packages(profile, population, generations, latency_source, official_checkpoint,
                                           image_folder, official_assets, tmp_path, capsys):
    front_dir, package_dir = tmp_path / "front", tmp_path / "package"
    assert run("search", "--profile", profile, "--assets", official_assets, "--population", population,
               "--generations", generations, "--seed", 1, "--out", front_dir, "--no-plot") == 0
    front = json.loads((front_dir / "front.json").read_text())
    assert front["profile"]["id"] == profile and front["supernet"]["id"] == "ofa_mbv3_w1.2"
    assert front["accuracy"]["id"] == "ofa-acc-predictor-mbv3-w1.2"
    assert front["accuracy"]["sha256"] == sha256_file(official_assets / "acc_predictor.pth")
    assert front["objective_meta"]["latency_ms"]["source"] == latency_source
    assert front["objective_meta"]["top1"]["source"] == "predicted"
    members = front["members"]
    assert len(members) >= 2 and all(70 < m["objectives"]["top1"] < 85 for m in members)  # ImageNet top-1 %
    lat = [m["objectives"]["latency_ms"] for m in members]
    assert lat == sorted(lat) and lat[0] > 0
    capsys.readouterr()

    assert run("package", front_dir, "--out", package_dir, "--weights", official_checkpoint, "--data", image_folder,
               "--members", 2, "--calib-images", 40, "--calib-batch", 20, "--parity-images", 20,
               "--measure-latency", "--assets", official_assets) == 0
    manifest = json.loads((package_dir / "package.json").read_text())
    assert manifest["provenance"]["supernet_sha256"] == sha256_file(official_checkpoint)
    assert manifest["provenance"]["accuracy_id"] == "ofa-acc-predictor-mbv3-w1.2"
    backend = {"cpu-onnxruntime": "onnxruntime", "cpu-torch": "torch"}[profile]
    for m in manifest["members"]:
        folder = package_dir / m["folder"]
        measured = m["measured"]["latency"]
        assert measured["backend"] == backend and measured["clock"] == "cpu" and measured["median_ms"] > 0
        assert m["parity"]["passed"] and m["parity"]["n_images"] == 20
        card = ModelCard.load(folder / "README.md")
        assert f"{measured['median_ms']:.3f} ms median" in card.text and "thread's CPU time" in card.text
        assert f"{backend}, batch 1, fp32, 1 thread(s)" in card.text
        import onnxruntime as ort

        sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        r = m["arch"]["r"][0]
        logits = sess.run(None, {sess.get_inputs()[0].name: np.zeros((1, 3, r, r), np.float32)})[0]
        assert logits.shape == (1, 1000) and np.isfinite(logits).all()


def test_tensorrt_profile_refuses_in_one_line(official_assets, tmp_path, capsys):
    from ofa2_zoo.profiles import load_profile

    if load_profile("gpu-tensorrt-fp16").table_path().is_file():
        pytest.skip("a measured TensorRT table is present")
    assert run("search", "--profile", "gpu-tensorrt-fp16", "--assets", official_assets, "--population", 6,
               "--generations", 1, "--out", tmp_path / "f") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "build-lut gpu-tensorrt-fp16 on a machine with an NVIDIA GPU" in err
    assert not (tmp_path / "f").exists()


def test_tensorrt_profile_says_gpu_before_any_download(tmp_path, capsys, monkeypatch):
    """Without the official files either: the table a GPU must measure is the reason, not a download."""
    from ofa2_zoo.profiles import load_profile

    if load_profile("gpu-tensorrt-fp16").table_path().is_file():
        pytest.skip("a measured TensorRT table is present")
    monkeypatch.setenv("OFA2_ASSETS_URL", "http://127.0.0.1:9/")  # any download attempt would fail loudly
    empty = tmp_path / "no-assets"
    empty.mkdir()
    assert run("search", "--profile", "gpu-tensorrt-fp16", "--assets", empty, "--out", tmp_path / "f") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "download" not in err
    assert "build-lut gpu-tensorrt-fp16 on a machine with an NVIDIA GPU" in err
    assert not (tmp_path / "f").exists()
