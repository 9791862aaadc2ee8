"""ONNX export of a packaged member and the parity check that gates it.

The export uses the TorchScript exporter (``dynamo=False``): the dynamo exporter cannot go
down to opset 17, which older runtimes and TensorRT 8.6+ need. The batch axis is dynamic,
everything else is fixed by the member's resolution. The bytes are deterministic for fixed
weights (no timestamps or random names), so re-packaging gives a byte-identical file.

Nothing is final before :func:`check_parity` has compared onnxruntime with PyTorch on real
images: the largest absolute logit difference must stay within ``atol + rtol * max|logit|``,
and wherever the two disagree on the top-1 class, the PyTorch logits of the two classes must
be within that tolerance of each other (a numerical near-tie, not a wrong graph).
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np
import onnx
import torch
from torch import nn

from ..defaults import PARITY_ATOL, PARITY_RTOL
from .errors import ParityError

ONNX_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
DEFAULT_ATOL = PARITY_ATOL  # the parity gate's tolerance lives in defaults.py
DEFAULT_RTOL = PARITY_RTOL


def export_onnx_bytes(model: nn.Module, input_shape: tuple[int, int, int, int], opset: int = ONNX_OPSET) -> bytes:
    """Export ``model`` (put in eval mode) to a checked ONNX graph with a dynamic batch axis."""
    if opset < 17:
        raise ValueError(f"opset {opset} is too old; ofa2-zoo exports opset 17 or newer")
    model = model.eval()
    ref = next(model.parameters())
    dummy = torch.zeros(input_shape, dtype=ref.dtype, device=ref.device)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of dynamo, which cannot emit opset 17.
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(model, (dummy,), buf, opset_version=opset, dynamo=False, do_constant_folding=True,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def ort_session(onnx_model: bytes | str | os.PathLike, threads: int = 1):
    """An onnxruntime CPU session with all graph optimisations and a fixed thread count."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    src = onnx_model if isinstance(onnx_model, bytes) else os.fspath(onnx_model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class ParityReport:
    """How closely onnxruntime reproduces PyTorch on ``n_images`` real images."""

    n_images: int
    max_abs_diff: float
    tolerance: float
    top1_agreement: float
    top1_mismatches: int
    unexplained_mismatches: int
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"max |logit diff| {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g}), top-1 agreement "
                f"{100 * self.top1_agreement:.2f} % on {self.n_images} images"
                + (f", {self.unexplained_mismatches} top-1 mismatch(es) that are not near-ties"
                   if self.unexplained_mismatches else ""))


def _batches(images: torch.Tensor | Iterable, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        yield from images.split(batch_size)
        return
    for b in images:
        yield b[0] if isinstance(b, (list, tuple)) else b


@torch.no_grad()
def check_parity(model: nn.Module, onnx_model: bytes | str | os.PathLike, images: torch.Tensor | Iterable,
                 *, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, batch_size: int = 64,
                 threads: int = 1) -> ParityReport:
    """Run ``model`` (eval mode) and the ONNX graph on the same images and compare their logits.

    ``images``: an ``(N, C, H, W)`` tensor (split into batches of ``batch_size``, so the dynamic
    batch axis is exercised too) or an iterable of image batches / ``(images, labels)`` pairs.

    Args:
        model: The PyTorch model (run in eval mode).
        onnx_model: The ONNX graph: its bytes or a file path.
        images: An ``(N, C, H, W)`` tensor or an iterable of batches / ``(images, labels)`` pairs.
        atol: Absolute tolerance of the logits' comparison.
        rtol: Relative tolerance of the logits' comparison.
        batch_size: Images per batch when ``images`` is one tensor.
        threads: onnxruntime's intra-op threads.
    """
    model = model.eval()
    sess = ort_session(onnx_model, threads)
    torch_out, ort_out = [], []
    for x in _batches(images, batch_size):
        x = x.float().contiguous()
        torch_out.append(model(x).float().numpy())
        ort_out.append(sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0])
    if not torch_out:
        raise ParityError("the parity check got no images")
    return compare_logits(np.concatenate(torch_out), np.concatenate(ort_out), atol=atol, rtol=rtol)


def compare_logits(t: np.ndarray, o: np.ndarray, *, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL) -> ParityReport:
    """The parity gate on PyTorch logits ``t`` and an exported file's logits ``o`` of the same images."""
    if t.shape != o.shape:
        return ParityReport(len(t), float("inf"), 0.0, 0.0, len(t), len(t), False)
    diff = float(np.abs(t - o).max()) if np.isfinite(o).all() else float("inf")
    tol = float(atol + rtol * np.abs(t).max())
    t1, o1 = t.argmax(1), o.argmax(1)
    mismatch = np.flatnonzero(t1 != o1)
    # A mismatch is explained when PyTorch itself nearly ties the two classes.
    margin = t[mismatch, t1[mismatch]] - t[mismatch, o1[mismatch]]
    unexplained = int((margin > 2 * tol).sum())
    passed = bool(diff <= tol and unexplained == 0)
    return ParityReport(len(t), diff, tol, float(1 - len(mismatch) / len(t)), int(len(mismatch)), unexplained, passed)


def require_parity(report: ParityReport, what: str) -> ParityReport:
    """Raise :class:`ParityError` with a one-line reason unless ``report`` passed."""
    if not report.passed:
        raise ParityError(f"ONNX parity check failed for {what}: {report.describe()}; nothing was written")
    return report
