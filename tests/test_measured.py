"""The shipped embedded default: measured accuracy of its supernet and its fitted predictor."""

import json
import pickle

import numpy as np
import pytest
from scipy.stats import kendalltau

from ofa2_zoo import load_supernet
from ofa2_zoo._io import sha256_file
from ofa2_zoo.catalog import EMBEDDED_DIR as DATA_DIR
from ofa2_zoo.catalog import embedded, embedded_weights_path
from ofa2_zoo.space import DIGITS_SPACE
from ofa2_zoo.errors import CheckpointError
from ofa2_zoo.objectives.accuracy import load_accuracy_predictor
from ofa2_zoo.objectives.mlp import BLOCK_ROWS
from ofa2_zoo.objectives.fitted import FittedPredictor
from ofa2_zoo.objectives.measured import MeasuredAccuracy
from ofa2_zoo.space import ArchSpec
from ofa2_zoo.training.data import DatasetError


@pytest.fixture(scope="module")
def measured():
    return MeasuredAccuracy(load_supernet("ofa2_digits", weights="embedded"), "digits")


def test_shipped_files_fit_in_a_wheel():
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir() if p.is_file())
    assert total <= 5 * 2 ** 20, total


def test_embedded_supernet_meets_the_accuracy_targets(measured):
    """Acceptance: largest network >= 97 %, smallest between 80 and 93 % top-1 on digits val."""
    largest = measured.evaluate(DIGITS_SPACE.largest(max(DIGITS_SPACE.resolutions)))
    smallest = measured.evaluate(DIGITS_SPACE.smallest(min(DIGITS_SPACE.resolutions)))
    assert largest >= 97.0
    assert 80.0 <= smallest <= 93.0
    assert measured.provenance.source == "measured"
    assert measured.provenance.sha256 == sha256_file(embedded_weights_path("ofa2_digits"))


def test_measured_accuracy_does_not_depend_on_batching_or_pickling(measured):
    genes = DIGITS_SPACE.sample_genes(3, np.random.default_rng(5))
    together = measured.predict_genes(genes)
    alone = np.array([measured.evaluate(a) for a in DIGITS_SPACE.genes_to_archs(genes)])
    np.testing.assert_array_equal(together, alone)
    copy = pickle.loads(pickle.dumps(measured))  # process-pool executors send it to workers
    np.testing.assert_array_equal(copy.predict_genes(genes[:1]), together[:1])
    assert measured.predict_genes(genes[:0]).shape == (0,)


def test_measured_accuracy_refuses_a_resolution_outside_the_space(measured):
    arch = DIGITS_SPACE.largest(8)
    bad = ArchSpec(arch.ks, arch.e, arch.d, 10)
    with pytest.raises(DatasetError, match="resolution 10 is not in space 'ofa2_digits'"):
        measured.evaluate(bad)


def test_embedded_predictor_reproduces_its_reported_fit():
    """The shipped predictor, loaded by name, scores its held-out measured archs as reported."""
    pred = load_accuracy_predictor("ofa2_digits")
    assert isinstance(pred, FittedPredictor) and pred.provenance.source == "predicted"
    info = json.loads(embedded("ofa2_digits").predictor_prefix.with_suffix(".json").read_text())
    data = json.loads(embedded("ofa2_digits").predictor_prefix.with_suffix(".measurements.json").read_text())
    genes, top1, n = np.array(data["genes"]), np.array(data["top1"]), data["n_train"]
    assert len(top1) - n >= 100  # acceptance: at least 100 held-out measured archs
    held = pred.predict_genes(genes[n:])
    tau = kendalltau(held, top1[n:])[0]
    assert tau >= 0.8
    assert tau == pytest.approx(info["fit"]["kendall_tau"], abs=1e-6)
    assert np.sqrt(((held - top1[n:]) ** 2).mean()) == pytest.approx(info["fit"]["rmse"], abs=1e-4)
    assert info["provenance"]["supernet_sha256"] == sha256_file(embedded_weights_path("ofa2_digits"))


def test_fitted_predictions_are_batch_invariant():
    pred = load_accuracy_predictor("ofa2_digits")
    genes = DIGITS_SPACE.sample_genes(3 * BLOCK_ROWS + 5, np.random.default_rng(0))
    whole = pred.predict_genes(genes)
    pieces = np.concatenate([pred.predict_genes(genes[i:i + 7]) for i in range(0, len(genes), 7)])
    np.testing.assert_array_equal(whole, pieces)
    assert pred.predict_genes(genes[:0]).shape == (0,)


def test_fitted_predictions_stay_within_0_and_100_percent():
    """The regression overshoots 100 % for a network PALS finds on digits-cpu; fronts refuse such values."""
    from ofa2_zoo.objectives.fitted import encode

    pred = load_accuracy_predictor("ofa2_digits")
    arch = ArchSpec.from_string("r12-d333-k555555355-e444444322", DIGITS_SPACE)
    genes = DIGITS_SPACE.archs_to_genes([arch])
    raw = pred.mlp(encode(DIGITS_SPACE, genes))[:, 0].astype(np.float64) * pred.std + pred.mean
    assert raw[0] > 100.0 and pred.predict([arch])[0] == 100.0


def test_predictor_restricted_to_a_profile_subspace():
    sub = DIGITS_SPACE.restrict(resolutions=[6, 12])
    full, part = load_accuracy_predictor("ofa2_digits"), load_accuracy_predictor("ofa2_digits", space=sub)
    genes = sub.sample_genes(40, np.random.default_rng(1))
    archs = sub.genes_to_archs(genes)
    np.testing.assert_allclose(part.predict(archs), full.predict(archs), rtol=1e-5)


def test_corrupt_predictor_files_are_refused(tmp_path):
    prefix = tmp_path / "p"
    FittedPredictor.load(embedded("ofa2_digits").predictor_prefix).save(prefix)
    good = prefix.with_suffix(".json").read_text()
    prefix.with_suffix(".json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="not a valid ofa2 predictor: format"):
        FittedPredictor.load(prefix)
    prefix.with_suffix(".json").write_text(good.replace('"target_std": ', '"target_std": -'))
    with pytest.raises(CheckpointError, match="target_std: Input should be greater than 0"):
        FittedPredictor.load(prefix)
    prefix.with_suffix(".json").write_text("{truncated")
    with pytest.raises(CheckpointError, match="not a valid ofa2 predictor"):
        FittedPredictor.load(prefix)
    prefix.with_suffix(".json").write_text(good)
    prefix.with_suffix(".safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a valid ofa2 predictor"):
        FittedPredictor.load(prefix)
    with pytest.raises(CheckpointError, match="are needed"):
        FittedPredictor.load(tmp_path / "missing")


def test_measured_accuracy_as_the_search_objective(measured):
    """``search(accuracy=MeasuredAccuracy(...))``: the front's top-1 values are measured ones.
    (Genes index the profile's space: pass ``space=profile.space`` when it has fewer resolutions.)"""
    from ofa2_zoo.profiles import load_profile
    from ofa2_zoo.search import search

    prof = load_profile("digits-cpu")
    acc = MeasuredAccuracy(measured.net, "digits", space=prof.space)
    front = search(profile=prof, accuracy=acc, population=8, generations=2, seed=0)
    assert front.objective_meta["top1"]["source"] == "measured"
    assert front.accuracy["source"] == "measured" and front.accuracy["sha256"] == measured.provenance.sha256
    for m in front.members[:3]:
        assert m.objectives["top1"] == pytest.approx(measured.evaluate(m.arch))


def test_measured_accuracy_is_top1_on_the_validation_split_after_bn_recalibration_on_training_images(measured):
    """Recomputed by hand from the two splits: BN statistics from the first ``calib_images``
    training images, top-1 over every validation image (the split its provenance names)."""
    import torch

    from ofa2_zoo.supernet.extract import extract_subnet
    from ofa2_zoo.supernet.calibrate import recalibrate_bn
    from ofa2_zoo.training.data import get_dataset

    arch = DIGITS_SPACE.smallest(min(DIGITS_SPACE.resolutions))
    sub = extract_subnet(measured.net, arch).eval()
    x_tr = get_dataset("digits", "train", arch.r).tensors[0][:measured.calib_images]
    recalibrate_bn(sub, x_tr.split(measured.batch_size), num_images=measured.calib_images)
    x, y = get_dataset("digits", "val", arch.r).tensors
    with torch.no_grad():
        correct = sum(int((sub(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(measured.batch_size),
                                                                            y.split(measured.batch_size)))
    expected = 100.0 * correct / len(y)
    assert measured.evaluate(arch) == pytest.approx(expected, abs=1e-9)
    assert measured.provenance.id == "measured:digits:val"
