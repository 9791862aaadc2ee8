"""OpenVINO: an IR (``openvino_model.xml`` + ``.bin``) converted from ``model.onnx`` with fp32 weights
(``save_model``'s default compresses them to fp16: 1.4e-2 logit error on real digits images) and run
on the CPU plugin with ``INFERENCE_PRECISION_HINT=f32`` (CPUs with AMX/AVX-512 bf16 default to
bf16 inference: 0.047 logit error). The IR keeps the dynamic batch axis of the ONNX file."""

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


def load(folder: Path, threads: int = 1):
    import openvino as ov

    compiled = ov.Core().compile_model(str(folder / FILES[0]), "CPU", {**CONFIG, "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def predict(x: np.ndarray) -> np.ndarray:
        return request.infer({0: x})[output].copy()

    return predict
