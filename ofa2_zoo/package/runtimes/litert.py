"""LiteRT (formerly TensorFlow Lite): ``model.tflite``, converted from PyTorch with ``litert-torch``
and run with ``ai-edge-litert``'s interpreter (XNNPACK on the CPU). The input is batch 1 (what
phones run); :func:`load` feeds larger batches one image at a time."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ...constants import environment_set
from . import package_versions

FILE = "model.tflite"


def versions() -> dict[str, str]:
    return package_versions("litert-torch", "ai-edge-litert")


@contextlib.contextmanager
def _quiet():
    """litert-torch prints a progress line per conversion step unless told otherwise."""
    with environment_set("LITERT_TORCH_SHOW_PROGRESS", "n"):
        yield


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    import litert_torch
    import torch

    sample = torch.zeros(input_shape)
    with _quiet(), torch.no_grad():
        converted = litert_torch.convert(model.eval(), (sample,))
        converted.export(str(folder / FILE))
    return [FILE]


def load(folder: Path, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(folder / FILE), num_threads=threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]

    def predict(x: np.ndarray) -> np.ndarray:
        rows = []
        for i in range(len(x)):
            interpreter.set_tensor(inp, x[i:i + 1])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out).copy())
        return np.concatenate(rows)

    return predict
