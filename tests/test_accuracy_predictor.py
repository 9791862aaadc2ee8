"""OFA's accuracy predictor: safe loading, vectorised encoding checked against the original
implementation, batch-invariant predictions, provenance, registry and errors."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch

from ofa2_zoo import AssetError, CheckpointError, get_space
from ofa2_zoo.objectives.accuracy import (AccuracySourceError, OFAAccuracyPredictor, list_accuracy_sources,
                                          load_accuracy_predictor, register_accuracy_source)
from ofa2_zoo.objectives.base import AccuracySource, Provenance

from _search_helpers import ASSETS, needs_assets, predictor

pytestmark = needs_assets


def _ofa_reference():
    from _oracle import ofa_tutorial_module

    return ofa_tutorial_module("accuracy_predictor").AccuracyPredictor


def test_encoding_and_predictions_match_ofa_original():
    ref_cls = _ofa_reference()
    pred = predictor()
    space = pred.space
    genes = space.sample_genes(64, 3)
    archs = space.genes_to_archs(genes)
    feats = pred.encode(genes)
    for arch, row in zip(archs, feats):
        ref = ref_cls.spec2feats(list(arch.ks), list(arch.e), list(arch.d), arch.r).numpy()
        np.testing.assert_array_equal(row, ref)
    # OFA's own predictor (torch) with the same weights: our numpy forward pass agrees to
    # float32 rounding (the sums run in another order)
    ref_pred = ref_cls(pretrained=False, device="cpu")
    ref_pred.model.load_state_dict(torch.load(ASSETS / "acc_predictor.pth", map_location="cpu", weights_only=True))
    ref_out = ref_pred.predict_accuracy([a.to_dict() for a in archs])[:, 0].double().numpy() * 100
    np.testing.assert_allclose(pred.predict(archs), ref_out, rtol=0, atol=1e-4)
    assert 70 < pred.predict(archs).min() and pred.predict(archs).max() < 85


def test_skipped_blocks_are_all_zero_and_resolution_slot():
    pred = predictor()
    arch = pred.space.smallest(160)  # depth 2 everywhere
    f = pred.encode(pred.space.archs_to_genes([arch]))[0]
    assert f[:60].sum() == 10 and f[60:120].sum() == 10  # 5 stages x 2 active blocks
    assert f[60 + 2 * 3: 60 + 4 * 3].sum() == 0  # blocks 2, 3 of stage 0 skipped
    assert f[120 + (160 - 112) // 16] == 1 and f[120:].sum() == 1


def test_prediction_does_not_depend_on_batch_composition():
    pred = predictor()
    genes = pred.space.sample_genes(700, 0)
    full = pred.predict_genes(genes)
    rng = np.random.default_rng(1)
    for size in (1, 3, 100, 333):
        perm = rng.permutation(len(genes))
        parts = np.concatenate([pred.predict_genes(genes[perm][i:i + size]) for i in range(0, len(genes), size)])
        np.testing.assert_array_equal(parts, full[perm])  # bit-identical


def test_restricted_space_and_provenance():
    from _search_helpers import note10

    prof = note10()
    pred = load_accuracy_predictor("ofa_mbv3_w1.2", assets=ASSETS, space=prof.space)
    full = predictor()
    archs = prof.space.sample(20, 5)
    np.testing.assert_array_equal(pred.predict(archs), full.predict(archs))
    assert pred.space is prof.space and full.space is get_space("ofa_mbv3_w1.2")  # space= reaches the predictor
    expected = hashlib.sha256((ASSETS / "acc_predictor.pth").read_bytes()).hexdigest()
    assert pred.provenance == Provenance("ofa-acc-predictor-mbv3-w1.2", expected, "predicted")
    assert load_accuracy_predictor("ofa_mbv3_d234_e346_k357_w1.2", assets=ASSETS).provenance == pred.provenance


def test_throughput_path_handles_large_batches():
    pred = predictor()
    out = pred.predict_genes(pred.space.sample_genes(5000, 0))
    assert out.shape == (5000,) and np.isfinite(out).all()
    assert pred.predict_genes(np.zeros((0, 46), dtype=np.int64)).shape == (0,)


def test_errors(tmp_path):
    with pytest.raises(AccuracySourceError, match="no accuracy predictor for 'nope'"):
        load_accuracy_predictor("nope", assets=ASSETS)
    with pytest.raises(AssetError, match="acc_predictor.pth is not in the assets folder"):
        load_accuracy_predictor("ofa_mbv3_w1.2", assets=tmp_path)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not OFA's accuracy predictor"):
        OFAAccuracyPredictor(bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"0.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(CheckpointError, match="not OFA's accuracy predictor"):
        OFAAccuracyPredictor(wrong)
    pickled = tmp_path / "code.pth"
    torch.save({"fn": np.random.default_rng}, pickled)  # not loadable with weights_only=True
    with pytest.raises(CheckpointError):
        OFAAccuracyPredictor(pickled)
    with pytest.raises(AccuracySourceError, match="does not cover space"):
        OFAAccuracyPredictor(ASSETS / "acc_predictor.pth", get_space("ofa_mbv3_w1.2").__class__(
            **{**get_space("ofa_mbv3_w1.2").to_dict(), "name": "x", "depth_choices": (1, 2)}))


def test_registry_plugs_in_other_sources():
    class Constant(AccuracySource):
        def __init__(self, space):
            self.space = space
            self.provenance = Provenance("const", "0" * 64, "predicted")

        def predict_genes(self, genes):
            return np.full(len(genes), 50.0)

    register_accuracy_source("test_constant_source", lambda assets=None, space=None: Constant(
        space or get_space("ofa_mbv3_w1.0")))
    assert "test_constant_source" in list_accuracy_sources()
    src = load_accuracy_predictor("test_constant_source")
    assert src.predict(src.space.sample(3, 0)).tolist() == [50.0] * 3


def test_predictor_file_forms_and_refusals(tmp_path):
    state = torch.load(ASSETS / "acc_predictor.pth", map_location="cpu", weights_only=True)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": state}, wrapped)  # a training checkpoint's layout
    archs = predictor().space.sample(5, 1)
    np.testing.assert_array_equal(OFAAccuracyPredictor(wrapped).predict(archs), predictor().predict(archs))
    small = tmp_path / "small.pth"
    torch.save({"0.weight": torch.zeros(4, 128), "0.bias": torch.zeros(4), "2.weight": torch.zeros(1, 4),
                "2.bias": torch.zeros(1)}, small)
    with pytest.raises(CheckpointError, match=re.escape(f"{small}: not OFA's accuracy predictor state dict: layer "
                                                        "sizes [128, 4, 1], expected [128, 400, 400, 400, 1]")):
        OFAAccuracyPredictor(small)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=re.escape(f"{empty}: not OFA's accuracy predictor state dict: ")):
        OFAAccuracyPredictor(empty)


@pytest.mark.parametrize("resolutions, allowed", [((108, 160), "108..160"), ((160, 240), "160..240")])
def test_resolutions_outside_the_predictors_range_are_refused(resolutions, allowed):
    space = get_space("ofa_mbv3_w1.2").__class__(**{**get_space("ofa_mbv3_w1.2").to_dict(), "name": "wide",
                                                     "resolutions": resolutions})
    with pytest.raises(AccuracySourceError, match=re.escape(f"OFA's predictor covers resolutions 112..239; space "
                                                            f"'wide' allows {allowed}")):
        OFAAccuracyPredictor(ASSETS / "acc_predictor.pth", space)
    edge = get_space("ofa_mbv3_w1.2").__class__(**{**get_space("ofa_mbv3_w1.2").to_dict(), "name": "edge",
                                                    "resolutions": (112, 239)})
    pred = OFAAccuracyPredictor(ASSETS / "acc_predictor.pth", edge)  # both ends of the 8 resolution slots
    feats = pred.encode(edge.archs_to_genes([edge.smallest(112), edge.largest(239)]))
    assert feats[:, 120:].tolist() == [[1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1]]


def test_largest_arch_features_by_hand():
    pred = predictor()
    f = pred.encode(pred.space.archs_to_genes([pred.space.largest(224)]))[0]
    expected = np.zeros(128, dtype=np.float32)
    expected[2:60:3] = 1  # kernel 7 (third of {3,5,7}) in all 20 blocks
    expected[62:120:3] = 1  # expand 6 (third of {3,4,6}) in all 20 blocks
    expected[120 + (224 - 112) // 16] = 1
    assert f.dtype == np.float32 and f.tolist() == expected.tolist()


def test_source_registration_rules(monkeypatch):
    from ofa2_zoo.objectives import accuracy as accuracy_module, sources
    from ofa2_zoo.objectives.sources import AccuracySourceInfo, accuracy_source_info

    # the registry is process-wide: this test's sources must not outlive it (a second source
    # declared for ofa_mbv3_w1.2 would make a profile's default source ambiguous in later tests)
    monkeypatch.setattr(sources, "_INFO", dict(sources._INFO))
    monkeypatch.setattr(sources, "_ALIASES", dict(sources._ALIASES))
    monkeypatch.setattr(accuracy_module, "_FACTORIES", dict(accuracy_module._FACTORIES))

    with pytest.raises(TypeError, match="^factory must be callable$"):
        register_accuracy_source("test_not_callable", "nope")
    first, second = (lambda assets=None, space=None: "first"), (lambda assets=None, space=None: "second")
    register_accuracy_source("test_source_rules", first, space="ofa_mbv3_w1.0", assets=("acc_predictor.pth",))
    assert accuracy_source_info("test_source_rules") == AccuracySourceInfo("test_source_rules", "ofa_mbv3_w1.0",
                                                                           ("acc_predictor.pth",))
    register_accuracy_source("test_source_rules", second)  # replaces the factory, keeps the declared facts
    assert load_accuracy_predictor("test_source_rules") == "second"
    assert accuracy_source_info("test_source_rules").space == "ofa_mbv3_w1.0"
    register_accuracy_source("test_source_rules", first, space="ofa_mbv3_w1.2")
    assert accuracy_source_info("test_source_rules").space == "ofa_mbv3_w1.2"
    assert accuracy_source_info("test_source_rules").assets == ()
    register_accuracy_source("test_source_undeclared", first)
    assert accuracy_source_info("test_source_undeclared") == AccuracySourceInfo("test_source_undeclared", None, ())
    names = list_accuracy_sources()
    assert names == sorted(names) and {"ofa_mbv3_w1.2", "ofa_mbv3_d234_e346_k357_w1.2", "test_source_rules"} <= set(names)
    assert load_accuracy_predictor("test_source_rules", space="s") == "first"  # keyword arguments reach the factory


def test_embedded_predictors_are_registered_from_the_catalog(tmp_path, monkeypatch):
    """Every supernet the catalog lists has its fitted predictor under its space's name, read from
    the catalog's prefix (the objectives stage never imports a module that defines spaces)."""
    import ofa2_zoo.catalog as catalog
    from ofa2_zoo.objectives import accuracy

    assert set(catalog.EMBEDDED) <= set(list_accuracy_sources())
    with pytest.raises(AccuracySourceError) as info:
        load_accuracy_predictor("digits")
    assert str(info.value) == f"no accuracy predictor for 'digits'; known: {', '.join(list_accuracy_sources())}"
    src = load_accuracy_predictor("ofa2_digits")
    assert src.space.name == "ofa2_digits"
    # the factory reads the prefix the catalog gives at call time
    entry = catalog.EMBEDDED["ofa2_digits"]
    monkeypatch.setitem(catalog.EMBEDDED, "ofa2_digits",
                        catalog.EmbeddedSupernet("ofa2_digits", entry.weights, "no_such_predictor", entry.dataset,
                                                 entry.report))
    with pytest.raises(CheckpointError) as info:
        load_accuracy_predictor("ofa2_digits")
    assert "no_such_predictor.safetensors" in str(info.value)
    assert accuracy._FACTORIES["ofa2_fmnist"] is not accuracy._FACTORIES["ofa2_digits"]


def test_exact_refusals(tmp_path):
    space = get_space("ofa_mbv3_w1.2")
    other = space.__class__(**{**space.to_dict(), "name": "x", "depth_choices": (1, 2)})
    with pytest.raises(AccuracySourceError) as info:
        OFAAccuracyPredictor(ASSETS / "acc_predictor.pth", other)
    assert str(info.value) == ("OFA's predictor does not cover space 'x' (it needs 20 blocks, kernels {3,5,7}, "
                               "expands {3,4,6}, depths {2,3,4})")


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.mkdir(path): what a hostile checkpoint could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import os

        return os.mkdir, (self.path,)


def test_predictor_files_are_loaded_as_weights_only(tmp_path):
    """A checkpoint that would run code when unpickled is refused before any code runs; each
    refusal is one line; an error without a message is named by its type."""
    marker = tmp_path / "code-ran"
    hostile = tmp_path / "hostile.pth"
    torch.save({"0.weight": _RunsCodeWhenUnpickled(marker)}, hostile)
    with pytest.raises(CheckpointError) as info:
        OFAAccuracyPredictor(hostile)
    assert not marker.exists() and str(info.value).startswith(f"{hostile}: not OFA's accuracy predictor state dict: ")
    text = tmp_path / "text.pth"
    text.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as info:
        OFAAccuracyPredictor(text)
    assert "\n" not in str(info.value) and len(str(info.value)) > len(f"{text}: not OFA's accuracy predictor state dict: ")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        OFAAccuracyPredictor(empty)
    assert str(info.value) == f"{empty}: not OFA's accuracy predictor state dict: EOFError"


def test_predictions_are_float64_percent():
    pred = predictor()
    genes = pred.space.sample_genes(7, 2)
    out = pred.predict_genes(genes)
    assert out.dtype == np.float64 and out.shape == (7,)
    assert pred.predict_genes(genes[:1]).tolist() == out[:1].tolist()


def test_weights_only_even_when_the_environment_turns_torchs_default_off(tmp_path, monkeypatch):
    """torch lets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 switch its safe default off (and torch < 2.6,
    which the project's pins allow, defaults to unsafe loading); an explicit weights_only=True holds."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "code-ran"
    hostile = tmp_path / "hostile.pth"
    torch.save({"0.weight": _RunsCodeWhenUnpickled(marker)}, hostile)
    with pytest.raises(CheckpointError):
        OFAAccuracyPredictor(hostile)
    assert not marker.exists()
