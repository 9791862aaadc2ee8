"""onnxruntime: ``model.onnx`` (written by the packaging stage itself) on the CPU execution provider, and
with ``--int8`` ``model.int8.onnx``, made from it by onnxruntime's own static quantisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx_bytes, ort_session
from . import package_versions

FILE = "model.onnx"


def versions() -> dict[str, str]:
    return package_versions("torch", "onnx", "onnxruntime")


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    if onnx_path is None or not onnx_path.is_file():
        (folder / FILE).write_bytes(export_onnx_bytes(model, input_shape))
    elif onnx_path != folder / FILE:
        (folder / FILE).write_bytes(onnx_path.read_bytes())
    return [FILE]


def _predictor(path: Path, threads: int):
    session = ort_session(path, threads)

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    return predict


def load(folder: Path, threads: int = 1):
    return _predictor(folder / FILE, threads)


# ---------------------------------------------------------------------------- int8 (--int8)
INT8_FILE = "model.int8.onnx"
#: how onnxruntime.quantization makes model.int8.onnx (recorded with each int8 export): QDQ is the
#: format its CPU kernels are optimised for; unsigned 8-bit activations with signed 8-bit weights
#: and no range reduction are its advice for x86 CPUs with VNNI and for Arm; per-channel weights
#: because depthwise convolutions' channels differ by orders of magnitude.
INT8_SETTINGS = {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "activations": "QUInt8",
                 "weights": "QInt8", "per_channel": True, "reduce_range": False, "calibration_method": "MinMax",
                 "preprocess": "quant_pre_process"}


def export_int8(model, folder: Path, calibration: list[np.ndarray]) -> list[str]:
    """``model.int8.onnx`` from the checked ``model.onnx`` in ``folder`` (``model``, the PyTorch
    model, is not needed), statically quantised by onnxruntime's own tools, its activation ranges
    calibrated on the batches ``calibration``."""
    import tempfile

    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([{INPUT_NAME: np.ascontiguousarray(b, dtype=np.float32)} for b in calibration])

        def get_next(self) -> dict | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory(prefix="ofa2-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"  # shapes inferred and graph optimised, as its docs advise
        quant_pre_process(str(folder / FILE), str(prepared))
        quantize_static(str(prepared), str(folder / INT8_FILE), Batches(), quant_format=QuantFormat.QDQ,
                        per_channel=INT8_SETTINGS["per_channel"], reduce_range=INT8_SETTINGS["reduce_range"],
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, calibration_providers=["CPUExecutionProvider"])
    return [INT8_FILE]


def load_int8(folder: Path, threads: int = 1):
    return _predictor(folder / INT8_FILE, threads)
