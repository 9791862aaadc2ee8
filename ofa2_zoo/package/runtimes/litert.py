"""LiteRT (formerly TensorFlow Lite): ``model.tflite``, converted from PyTorch with ``litert-torch``
and run with ``ai-edge-litert``'s interpreter (XNNPACK on the CPU). The input is batch 1 (what
phones run); :func:`load` feeds larger batches one image at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._litert import quiet as _quiet
from ..._litert import tflite_bytes
from . import package_versions

FILE = "model.tflite"


def versions() -> dict[str, str]:
    return package_versions("litert-torch", "ai-edge-litert")


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    (folder / FILE).write_bytes(tflite_bytes(model, input_shape))
    return [FILE]


def _predictor(path: Path, threads: int):
    """Batch-1 interpreter of ``path`` fed one image at a time; an int8 input or output (a fully
    quantised file) is quantised/dequantised with the scale and zero point the file states."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def to_input(x: np.ndarray) -> np.ndarray:
        if inp["dtype"] == np.float32:
            return x
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(inp["dtype"])

    def from_output(y: np.ndarray) -> np.ndarray:
        if out["dtype"] == np.float32:
            return y
        scale, zero = out["quantization"]
        return (y.astype(np.float32) - zero) * scale

    def predict(x: np.ndarray) -> np.ndarray:
        rows = []
        for i in range(len(x)):
            interpreter.set_tensor(inp["index"], to_input(x[i:i + 1]))
            interpreter.invoke()
            rows.append(from_output(interpreter.get_tensor(out["index"]).copy()))
        return np.concatenate(rows)

    return predict


def load(folder: Path, threads: int = 1):
    return _predictor(folder / FILE, threads)


# ---------------------------------------------------------------------------- int8 (--int8)
INT8_FILE = "model.int8.tflite"
#: how litert-torch makes model.int8.tflite: PyTorch 2 export quantisation (torchao's
#: prepare_pt2e/convert_pt2e) with litert-torch's quantiser, symmetric int8, per-channel weights,
#: observers calibrated image by image (the file has a fixed batch of 1), then converted with the
#: quantiser so that the file is fully integer (int8 input and output, with their scale/zero point).
INT8_SETTINGS = {"tool": "litert_torch PT2EQuantizer + torchao prepare_pt2e/convert_pt2e", "format": "PT2E static",
                 "activations": "int8 symmetric", "weights": "int8 symmetric", "per_channel": True,
                 "calibration_method": "observers (min/max)"}


def export_int8(model, folder: Path, calibration: list[np.ndarray]) -> list[str]:
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    images = torch.from_numpy(np.ascontiguousarray(np.concatenate(calibration), dtype=np.float32))
    with _quiet(), torch.no_grad():
        graph = torch.export.export(model.eval(), (torch.zeros_like(images[:1]),)).module()
        graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
        for i in range(len(images)):
            graph(images[i:i + 1])
        graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
        converted = litert_torch.convert(graph, (images[:1],), quant_config=QuantConfig(pt2e_quantizer=quantizer))
        converted.export(str(folder / INT8_FILE))
    return [INT8_FILE]


def load_int8(folder: Path, threads: int = 1):
    return _predictor(folder / INT8_FILE, threads)
