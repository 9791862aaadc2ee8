"""The ONNX export and its parity gate (``ofa2_zoo.package.onnx_export``) on a small network and
on hand-made logits: the tolerance and the near-tie rule at their boundaries, what a report
says, and what the exported graph declares (opset, names, dynamic batch)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from ofa2_zoo.package import ParityError
from ofa2_zoo.package.onnx_export import (ParityReport, check_parity, compare_logits, export_onnx_bytes, ort_session,
                                          require_parity)

# powers of two: every sum and difference below is exact in float32
ATOL, RTOL = 0.25, 0.0625
STEP = 2.0 ** -10


def _logits() -> np.ndarray:
    """4 images, 3 classes; max |logit| 4, so the tolerance is 0.25 + 0.0625 * 4 = 0.5."""
    return np.array([[4.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [-4.0, 2.0, 0.0]], dtype=np.float32)


def test_the_logit_tolerance_holds_at_its_boundary_and_fails_just_past_it():
    t = _logits()
    at = t.copy()
    at[1, 2] += 0.5
    report = compare_logits(t, at, atol=ATOL, rtol=RTOL)
    assert report == ParityReport(4, 0.5, 0.5, 1.0, 0, 0, True)
    past = t.copy()
    past[1, 2] += 0.5 + STEP
    assert compare_logits(t, past, atol=ATOL, rtol=RTOL) == ParityReport(4, 0.5 + STEP, 0.5, 1.0, 0, 0, False)
    below = t.copy()
    below[2, 0] -= 0.5 - STEP  # a difference below the logits is as large as one above
    assert compare_logits(t, below, atol=ATOL, rtol=RTOL).max_abs_diff == 0.5 - STEP


def test_the_tolerance_scales_with_the_largest_logit_of_either_sign():
    t = _logits()
    t[3, 0] = -8.0  # the largest magnitude is negative: tolerance 0.25 + 0.0625 * 8 = 0.75
    o = t.copy()
    o[0, 1] += 0.75
    assert compare_logits(t, o, atol=ATOL, rtol=RTOL) == ParityReport(4, 0.75, 0.75, 1.0, 0, 0, True)
    assert compare_logits(t, o, atol=0.0, rtol=RTOL).tolerance == 0.5
    assert compare_logits(t, o, atol=ATOL, rtol=0.0).tolerance == ATOL


def test_the_defaults_are_a_tight_floor_and_a_relative_tolerance():
    t = _logits()
    report = compare_logits(t, t)
    assert report.tolerance == pytest.approx(1e-6 + 1e-4 * 4.0, rel=1e-6) and report.passed
    o = t.copy()
    o[0, 0] += 1e-3  # within 1e-3 but past 4e-4
    assert not compare_logits(t, o).passed


def test_a_top1_flip_is_explained_up_to_twice_the_tolerance_and_no_further():
    t = _logits()
    # row 1: PyTorch's top-1 (class 1, logit 2) leads class 2 by 1.0 = 2 x tolerance; the file flips them
    o = t.copy()
    o[1] = [0.0, 1.0, 2.0]
    report = compare_logits(t, o, atol=ATOL, rtol=RTOL)
    assert (report.top1_mismatches, report.unexplained_mismatches, report.top1_agreement) == (1, 0, 0.75)
    assert report.max_abs_diff == 1.0 and not report.passed  # the logits themselves are too far apart
    t2 = t.copy()
    t2[1, 1] = 2.0 + STEP  # a lead just past 2 x tolerance: not a near-tie
    report = compare_logits(t2, o, atol=ATOL, rtol=RTOL)
    assert (report.top1_mismatches, report.unexplained_mismatches) == (1, 1)


def test_every_flip_is_counted_and_only_unexplained_ones_fail_a_close_graph():
    t = np.array([[1.0, 1.25], [2.0, 1.75], [0.0, 3.0], [0.5, 0.0]] * 3, dtype=np.float32)  # 12 images, max 3
    o = t.copy()
    o[0] = [1.125, 1.125 - STEP]  # flips to class 0; PyTorch's lead 0.25: a near-tie
    o[1] = [1.875, 1.875 + STEP]  # flips to class 1; lead 0.25
    report = compare_logits(t, o, atol=ATOL, rtol=RTOL)  # tolerance 0.25 + 0.1875 = 0.4375
    assert (report.top1_mismatches, report.unexplained_mismatches, report.passed) == (2, 0, True)
    assert report.top1_agreement == 1 - 2 / 12 and report.n_images == 12


def test_logits_of_another_shape_or_not_finite_fail():
    t = _logits()
    assert compare_logits(t, t[:, :2]) == ParityReport(4, float("inf"), 0.0, 0.0, 4, 4, False)
    assert compare_logits(t, t[:3]) == ParityReport(4, float("inf"), 0.0, 0.0, 4, 4, False)
    for bad in (np.nan, np.inf):
        o = t.copy()
        o[2, 1] = bad
        report = compare_logits(t, o, atol=ATOL, rtol=RTOL)
        assert report.max_abs_diff == float("inf") and not report.passed


def test_what_a_report_says_word_for_word():
    ok = ParityReport(397, 1.5e-6, 4.25e-4, 1.0, 0, 0, True)
    assert ok.describe() == "max |logit diff| 1.5e-06 (tolerance 0.000425), top-1 agreement 100.00 % on 397 images"
    bad = ParityReport(12, 0.75, 0.4375, 10 / 12, 2, 1, False)
    assert bad.describe() == ("max |logit diff| 0.75 (tolerance 0.438), top-1 agreement 83.33 % on 12 images, "
                              "1 top-1 mismatch(es) that are not near-ties")
    assert bad.to_dict() == {"n_images": 12, "max_abs_diff": 0.75, "tolerance": 0.4375, "top1_agreement": 10 / 12,
                             "top1_mismatches": 2, "unexplained_mismatches": 1, "passed": False}
    assert require_parity(ok, "member 0") is ok
    with pytest.raises(ParityError) as exc:
        require_parity(bad, "member 2 (m2)")
    assert str(exc.value) == f"ONNX parity check failed for member 2 (m2): {bad.describe()}; nothing was written"


# ---------------------------------------------------------------------------- a real graph
def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    with torch.no_grad():  # BN statistics of their own, so that eval and train mode differ
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net


def _images(n: int = 10, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def exported():
    net = _net().train()  # packaging may hand over a model in training mode: the export must be of eval mode
    data = export_onnx_bytes(net, (1, 1, 6, 6))
    return net, data


def test_the_export_is_the_eval_mode_network_with_a_dynamic_batch(exported):
    net, data = exported
    assert not net.training  # export_onnx_bytes put it in eval mode
    x = _images(10)
    ref = _net().eval()(x).detach().numpy()
    out = ort_session(data).run(["logits"], {"input": x.numpy()})[0]
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)
    assert out.shape == (10, 5)  # exported with batch 1, run with 10


def test_the_graph_declares_opset_names_and_the_batch_axis(exported):
    model = onnx.load_from_string(exported[1])
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    (inp,), (out,) = model.graph.input, model.graph.output

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    assert (inp.name, dims(inp)) == ("input", ["batch", 1, 6, 6])
    assert (out.name, dims(out)) == ("logits", ["batch", 5])
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)  # folded into the conv
    assert export_onnx_bytes(_net(), (1, 1, 6, 6)) == exported[1]  # same weights, same bytes


def test_opset_17_is_the_oldest_exported():
    with pytest.raises(ValueError) as exc:
        export_onnx_bytes(_net(), (1, 1, 6, 6), opset=16)
    assert str(exc.value) == "opset 16 is too old; ofa2-zoo exports opset 17 or newer"
    model = onnx.load_from_string(export_onnx_bytes(_net(), (1, 1, 6, 6), opset=18))
    assert [o.version for o in model.opset_import if o.domain == ""] == [18]


def test_the_session_runs_on_the_cpu_with_the_threads_asked_for(exported, tmp_path):
    import onnxruntime as ort

    sess = ort_session(exported[1], threads=3)
    opts = sess.get_session_options()
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (3, 1)
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert sess.get_providers() == ["CPUExecutionProvider"]
    path = tmp_path / "model.onnx"
    path.write_bytes(exported[1])
    x = _images(2).numpy()
    assert np.array_equal(ort_session(path).run(None, {"input": x})[0], sess.run(None, {"input": x})[0])
    assert ort_session(str(path)).get_session_options().intra_op_num_threads == 1


def test_parity_of_the_exported_graph_on_images_in_any_form(exported, tmp_path):
    _, data = exported
    net = _net().train()
    x = _images(10)
    report = check_parity(net, data, x, batch_size=3)  # batches of 3, 3, 3 and 1
    assert not net.training
    assert report.passed and report.n_images == 10 and report.top1_agreement == 1.0 and report.max_abs_diff < 1e-5
    t = net(x).detach().numpy()
    assert report.tolerance == pytest.approx(1e-6 + 1e-4 * float(np.abs(t).max()), rel=1e-6)
    pairs = [(x[:4], torch.zeros(4)), (x[4:], torch.zeros(6))]  # a loader's (images, labels) batches
    assert check_parity(net, data, pairs).n_images == 10
    assert check_parity(net, data, [x[:7].double(), x[7:]]).n_images == 10  # bare batches, any float dtype
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    assert check_parity(net, path, x).passed
    with pytest.raises(ParityError) as exc:
        check_parity(net, data, [])
    assert str(exc.value) == "the parity check got no images"


def test_parity_catches_a_graph_of_other_weights_unless_the_tolerance_is_widened(exported):
    _, data = exported
    other = _net()
    with torch.no_grad():
        other[-1].bias[1] += 0.01  # one logit shifted by 0.01 on every image
    x = _images(10)
    report = check_parity(other, data, x)
    assert not report.passed and report.max_abs_diff == pytest.approx(0.01, rel=1e-3)
    assert check_parity(other, data, x, atol=0.02).passed
    assert check_parity(other, data, x, atol=0.0, rtol=1.0).passed


def test_a_float64_network_is_exported_with_a_float64_input():
    net = _net().double()
    model = onnx.load_from_string(export_onnx_bytes(net, (1, 1, 6, 6)))
    # (the traced input takes the network's dtype; onnxruntime's CPU provider has no float64 Conv to run it)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


class _Warns(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(36, 5)

    def forward(self, x):
        import warnings

        warnings.warn("a warning of the network itself", UserWarning)
        return self.fc(x.flatten(1))


def test_only_the_exporters_own_deprecation_notice_is_silenced():
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        export_onnx_bytes(_Warns(), (1, 1, 6, 6))
    messages = [str(w.message) for w in seen]
    assert "a warning of the network itself" in messages  # the user's own warnings still reach them
    assert not [m for m in messages if "legacy TorchScript-based ONNX export" in m]


def test_a_session_asks_only_for_a_provider_that_exists(exported):
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sess = ort_session(exported[1])
    assert [str(w.message) for w in seen] == []  # onnxruntime warns about a provider name it does not know
    assert sess.get_providers() == ["CPUExecutionProvider"]
