"""onnxruntime: ``model.onnx`` (written by the packaging stage itself) on the CPU execution provider."""

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


def load(folder: Path, threads: int = 1):
    session = ort_session(folder / FILE, threads)

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    return predict
