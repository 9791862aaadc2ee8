"""A search whose objectives are predictors and lookup tables runs without torch (issue 24).

- The predictors run in numpy (:mod:`ofa2_zoo.objectives.mlp`) and agree with torch's forward
  pass of the same weights within 1e-6 on thousands of archs, whatever the batch.
- OFA's ``acc_predictor.pth`` (a torch pickle) is read once with ``weights_only=True`` and
  converted to a safetensors copy in the cache, keyed by its sha256; later processes read the
  copy without torch. Damaged or foreign copies are converted again.
- ``ofa2 search --profile note10`` (and digits-cpu) in a fresh interpreter imports neither torch
  nor matplotlib (``--no-plot``); writing the plot imports matplotlib and still no torch.
- A profile's compiled lookup table is compiled once per process and table sha256.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from torch.nn import functional as F

from ofa2_zoo.front import Front, plot_front
from ofa2_zoo.objectives import accuracy
from ofa2_zoo.objectives.accuracy import OFAAccuracyPredictor, converted_predictor_path, load_accuracy_predictor
from ofa2_zoo.objectives.fitted import encode

from _search_helpers import ASSETS, needs_assets, official_sha256

ROOT = Path(__file__).resolve().parents[1]


def torch_forward(mlp, feats: np.ndarray) -> np.ndarray:
    """The torch path: ``F.linear``/ReLU of the same weights over the whole batch at once."""
    x = torch.from_numpy(np.asarray(feats, dtype=np.float32))
    with torch.no_grad():
        for i, (wt, b) in enumerate(mlp.layers):
            x = F.linear(x, torch.from_numpy(np.ascontiguousarray(wt.T)), torch.from_numpy(b))
            if i < len(mlp.layers) - 1:
                x = x.relu()
    return x.numpy()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty ofa2 cache, and the process's memoised predictor weights forgotten."""
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    accuracy._ofa_predictor_state.cache_clear()
    yield tmp_path / "cache"
    accuracy._ofa_predictor_state.cache_clear()


@pytest.mark.parametrize("name", ["ofa2_digits", "ofa2_fmnist"])
def test_fitted_predictors_numpy_path_equals_torch_path(name):
    pred = load_accuracy_predictor(name)
    genes = pred.space.sample_genes(3000, np.random.default_rng(7))
    feats = encode(pred.space, genes)
    np.testing.assert_allclose(pred.mlp(feats), torch_forward(pred.mlp, feats), rtol=0, atol=1e-6)
    # in %: the standardised output times the target's std
    expected = np.clip(torch_forward(pred.mlp, feats)[:, 0].astype(np.float64) * pred.std + pred.mean, 0, 100)
    np.testing.assert_allclose(pred.predict_genes(genes), expected, rtol=0, atol=1e-6 * pred.std)


@needs_assets
def test_ofa_predictor_numpy_path_equals_torch_path_and_ofa_original():
    pred = load_accuracy_predictor("ofa_mbv3_w1.2", assets=ASSETS)
    genes = pred.space.sample_genes(3000, np.random.default_rng(8))
    feats = pred.encode(genes)
    ours, theirs = pred.mlp(feats), torch_forward(pred.mlp, feats)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)  # the fraction OFA's MLP outputs
    assert not np.array_equal(ours, np.zeros_like(ours))
    # and OFA's own torch predictor (the `ofa` package) on the same weights
    from _oracle import ofa_tutorial_module

    ref = ofa_tutorial_module("accuracy_predictor").AccuracyPredictor(pretrained=False, device="cpu")
    ref.model.load_state_dict(torch.load(ASSETS / "acc_predictor.pth", map_location="cpu", weights_only=True))
    archs = pred.space.genes_to_archs(genes[:500])
    with torch.no_grad():
        original = ref.predict_accuracy([a.to_dict() for a in archs])[:, 0].numpy()
    np.testing.assert_allclose(ours[:500, 0], original, rtol=0, atol=1e-6)


def test_numpy_path_is_batch_invariant_at_every_block_position():
    pred = load_accuracy_predictor("ofa2_fmnist")
    genes = pred.space.sample_genes(200, np.random.default_rng(3))
    whole = pred.predict_genes(genes)
    for shift in (1, 5, 31, 33):  # every arch lands at another row of its 32-row block
        padded = np.concatenate([genes[:shift], genes])
        np.testing.assert_array_equal(pred.predict_genes(padded)[shift:], whole)
    singles = np.concatenate([pred.predict_genes(g[None]) for g in genes[:40]])
    np.testing.assert_array_equal(singles, whole[:40])


@needs_assets
def test_ofa_predictor_converted_once_into_a_safe_cache(fresh_cache):
    sha = official_sha256("acc_predictor.pth")
    target = converted_predictor_path(sha)
    assert target == fresh_cache / "converted" / f"acc_predictor-{sha}.safetensors" and not target.exists()
    first = OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")
    assert target.is_file()
    # the copy holds exactly the official weights, with its source named in the metadata
    official = torch.load(ASSETS / "acc_predictor.pth", map_location="cpu", weights_only=True)
    copy = load_file(str(target))
    assert sorted(copy) == sorted(official)
    for k, v in official.items():
        np.testing.assert_array_equal(copy[k], v.numpy())
    from safetensors import safe_open

    with safe_open(str(target), framework="numpy") as f:
        assert f.metadata() == {"format": accuracy.CONVERTED_FORMAT, "source_sha256": sha}
    # a new process (the memo forgotten) reads the copy: the same predictions
    accuracy._ofa_predictor_state.cache_clear()
    genes = first.space.sample_genes(50, np.random.default_rng(0))
    second = OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")
    np.testing.assert_array_equal(second.predict_genes(genes), first.predict_genes(genes))


@needs_assets
def test_damaged_or_foreign_cache_copies_are_converted_again(fresh_cache):
    sha = official_sha256("acc_predictor.pth")
    target = converted_predictor_path(sha)
    genes = None
    reference = OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")
    genes = reference.space.sample_genes(20, np.random.default_rng(1))
    good = reference.predict_genes(genes)
    official = load_file(str(target))
    # a copy that claims another source file: not used (zeros would predict 0 %), replaced
    save_file({k: np.zeros_like(v) for k, v in official.items()}, str(target),
              metadata={"format": accuracy.CONVERTED_FORMAT, "source_sha256": "0" * 64})
    accuracy._ofa_predictor_state.cache_clear()
    np.testing.assert_array_equal(OFAAccuracyPredictor(ASSETS / "acc_predictor.pth").predict_genes(genes), good)
    np.testing.assert_array_equal(load_file(str(target))["0.weight"], official["0.weight"])
    # a truncated copy: converted again
    target.write_bytes(target.read_bytes()[:100])
    accuracy._ofa_predictor_state.cache_clear()
    np.testing.assert_array_equal(OFAAccuracyPredictor(ASSETS / "acc_predictor.pth").predict_genes(genes), good)
    assert load_file(str(target)).keys() == official.keys()


@needs_assets
def test_unwritable_cache_still_predicts(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OFA2_CACHE", str(blocker))  # the cache lies under a file: nothing can be written
    accuracy._ofa_predictor_state.cache_clear()
    try:
        pred = OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")
        assert pred.predict_genes(pred.space.sample_genes(3, np.random.default_rng(0))).shape == (3,)
        assert blocker.read_text() == "not a folder"
    finally:
        accuracy._ofa_predictor_state.cache_clear()


def _imported(stderr: str) -> set[str]:
    """Top-level module names listed by ``python -X importtime`` on stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


def _search(tmp_path: Path, profile: str, *extra: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OFA2_CACHE": str(cache), "OFA2_ASSETS": str(ASSETS), "OFA2_OFFLINE": "1"}
    cmd = [sys.executable, "-X", "importtime", "-m", "ofa2_zoo", "search", "--profile", profile,
           "--population", "20", "--generations", "3", "--out", str(tmp_path / profile), "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)


@needs_assets
@pytest.mark.parametrize("profile", ["note10", "digits-cpu"])
def test_search_from_the_shell_imports_no_torch_and_no_matplotlib(tmp_path, fresh_cache, profile):
    OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")  # the one conversion (this process has torch)
    res = _search(tmp_path, profile, "--no-plot", cache=fresh_cache)
    assert res.returncode == 0, res.stderr[-3000:]
    mods = _imported(res.stderr)
    assert {"ofa2_zoo", "numpy", "pymoo"} <= mods  # the listing is real
    assert not mods & {"torch", "matplotlib", "timm", "onnx", "onnxruntime"}, sorted(mods)
    assert (tmp_path / profile / "front.json").is_file() and not (tmp_path / profile / "front.png").exists()


@needs_assets
def test_the_plot_is_drawn_by_a_child_process_and_the_search_still_imports_no_torch(tmp_path, fresh_cache):
    """matplotlib loads in the plot's own process (tests/test_front_plot_background.py) while the
    search runs; the search's process imports neither it nor torch."""
    OFAAccuracyPredictor(ASSETS / "acc_predictor.pth")
    res = _search(tmp_path, "note10", cache=fresh_cache)
    assert res.returncode == 0, res.stderr[-3000:]
    mods = _imported(res.stderr)
    assert "ofa2_zoo" in mods and not mods & {"matplotlib", "torch"}, sorted(mods)
    png = tmp_path / "note10" / "front.png"
    assert png.read_bytes() == plot_front(Front.load(tmp_path / "note10"), tmp_path / "here.png").read_bytes()


@needs_assets
def test_without_the_converted_copy_the_first_search_reads_the_official_file_with_torch(tmp_path, fresh_cache):
    """The converse of the tests above: an empty cache makes the search convert, with torch."""
    res = _search(tmp_path, "note10", "--no-plot", cache=fresh_cache)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "torch" in _imported(res.stderr)
    assert converted_predictor_path(official_sha256("acc_predictor.pth")).is_file()


def test_fitted_predictor_files_round_trip_without_torch_and_refusals(tmp_path):
    import re

    from ofa2_zoo.catalog import embedded
    from ofa2_zoo.errors import CheckpointError
    from ofa2_zoo.objectives.fitted import FittedPredictor

    pred = load_accuracy_predictor("ofa2_digits")
    shipped = load_file(str(embedded("ofa2_digits").predictor_prefix.with_suffix(".safetensors")))
    pred.save(tmp_path / "p")
    written = load_file(str(tmp_path / "p.safetensors"))
    assert sorted(written) == sorted(shipped) and all(k.startswith("layers.") for k in written)
    for k, v in shipped.items():
        assert written[k].dtype == np.float32
        np.testing.assert_array_equal(written[k], v)
    genes = pred.space.sample_genes(64, np.random.default_rng(2))
    np.testing.assert_array_equal(FittedPredictor.load(tmp_path / "p").predict_genes(genes), pred.predict_genes(genes))
    n_in = shipped["layers.0.weight"].shape[1]
    narrow = {**shipped, "layers.0.weight": shipped["layers.0.weight"][:, :-1].copy()}
    save_file(narrow, str(tmp_path / "p.safetensors"))
    with pytest.raises(CheckpointError, match=re.escape(
            f"{tmp_path / 'p'}: not a valid ofa2 predictor: weight 0.weight has shape (128, {n_in - 1}), "
            f"expected (128, {n_in})")):
        FittedPredictor.load(tmp_path / "p")
    save_file({k: v for k, v in shipped.items() if k != "layers.4.bias"}, str(tmp_path / "p.safetensors"))
    with pytest.raises(CheckpointError, match=re.escape(
            f"{tmp_path / 'p'}: not a valid ofa2 predictor: weights ['0.bias', '0.weight', '2.bias', '2.weight', "
            "'4.weight'], expected ['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']")):
        FittedPredictor.load(tmp_path / "p")
