"""OpenVINO: an IR (``openvino_model.xml`` + ``.bin``) converted from ``model.onnx`` with fp32 weights
(``save_model``'s default compresses them to fp16: 1.4e-2 logit error on real digits images) and run
on the CPU plugin with ``INFERENCE_PRECISION_HINT=f32`` (CPUs with AMX/AVX-512 bf16 default to
bf16 inference: 0.047 logit error). The IR keeps the dynamic batch axis of the ONNX file. With
``--int8``, ``openvino_model.int8.xml`` + ``.bin``: the checked fp32 IR quantised by NNCF (OpenVINO's
own post-training quantisation), its statistics collected image by image."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..onnx_export import export_onnx_bytes
from . import package_versions

FILES = ("openvino_model.xml", "openvino_model.bin")
#: The compile settings the parity and latency numbers hold for; users must pass them too.
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1}


def versions() -> dict[str, str]:
    return package_versions("openvino")


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    import openvino as ov

    if onnx_path is None or not onnx_path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            onnx_path.write_bytes(export_onnx_bytes(model, input_shape))
            return export(model, input_shape, folder, onnx_path)
    ov.save_model(ov.convert_model(str(onnx_path)), str(folder / FILES[0]), compress_to_fp16=False)
    return list(FILES)


def load(folder: Path, threads: int = 1, file: str = FILES[0]):
    import openvino as ov

    compiled = ov.Core().compile_model(str(folder / file), "CPU", {**CONFIG, "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def predict(x: np.ndarray) -> np.ndarray:
        return request.infer({0: x})[output].copy()

    return predict


# ---------------------------------------------------------------------------- int8 (--int8)
INT8_FILES = ("openvino_model.int8.xml", "openvino_model.int8.bin")
#: how openvino_model.int8.xml is made (recorded with each int8 export): nncf.quantize on the checked
#: fp32 IR with its defaults (the performance preset: symmetric int8 weights per channel and
#: activations per tensor, fast bias correction), statistics over every calibration image, one
#: image per item (statistics over batches can differ from the batch-1 model's), saved without
#: compressing the remaining fp32 constants to fp16. The stem convolution (the first, on the raw
#: pixels) stays fp32: quantised, it alone cost the Fashion-MNIST members 0.4-1.7 points of top-1
#: (two of five fell more than 1 point below fp32); kept in fp32, at most 0.62 (benchmarks/RESULTS.md).
INT8_SETTINGS = {"tool": "nncf.quantize (OpenVINO IR)", "format": "OpenVINO FakeQuantize", "activations": "int8",
                 "weights": "int8 symmetric", "per_channel": True, "calibration_method": "nncf defaults (min/max, "
                 "fast bias correction)", "fp32_layers": "the stem convolution"}


def export_int8(model, folder: Path, calibration: list[np.ndarray]) -> list[str]:
    import contextlib
    import io
    import logging

    import nncf
    import openvino as ov

    images = np.ascontiguousarray(np.concatenate(calibration), dtype=np.float32)
    items = [images[i:i + 1] for i in range(len(images))]
    ir = ov.Core().read_model(str(folder / FILES[0]))
    keep = stem_convolution(ir)
    level = logging.getLogger("nncf").level
    nncf.set_log_level(logging.ERROR)
    # NNCF draws its own progress bars (rich, on the standard streams) whatever its log level: not
    # inside ofa2's
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            quantized = nncf.quantize(ir, nncf.Dataset(items), subset_size=len(items),
                                      ignored_scope=nncf.IgnoredScope(names=keep) if keep else None)
    finally:
        nncf.set_log_level(level)
    ov.save_model(quantized, str(folder / INT8_FILES[0]), compress_to_fp16=False)
    return list(INT8_FILES)


def stem_convolution(ir) -> list[str]:
    """The name of the IR's first convolution (the stem, on the input pixels), as a list (empty
    when there is none): the layer NNCF leaves in fp32."""
    return next(([op.get_friendly_name()] for op in ir.get_ordered_ops() if op.get_type_name() == "Convolution"), [])


def load_int8(folder: Path, threads: int = 1):
    return load(folder, threads, INT8_FILES[0])
