"""ExecuTorch: ``model.pte``, lowered with ``torch.export`` → ``to_edge_transform_and_lower`` and
the XNNPACK partitioner (the older ``to_edge().to_backend()`` leaves the classifier's ``addmm``
outside XNNPACK, and the model runs slower), run with ``executorch.runtime``. Batch 1. With
``--int8``, ``model.int8.pte``: the same lowering of the model quantised with ExecuTorch's
XNNPACK quantiser (PyTorch 2 export quantisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import package_versions

FILE = "model.pte"


def versions() -> dict[str, str]:
    return package_versions("executorch", "torch")


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    import torch

    with torch.no_grad():
        _lower(torch.export.export(model.eval(), (torch.zeros(input_shape),)), folder / FILE)
    return [FILE]


def _lower(program, path: Path) -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)


def load(folder: Path, threads: int = 1, file: str = FILE):
    import torch
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime

    _unsafe_reset_threadpool(threads)  # XNNPACK's thread pool (one per process)
    method = Runtime.get().load_program(str(folder / file)).load_method("forward")

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([method.execute([torch.from_numpy(x[i:i + 1])])[0].numpy() for i in range(len(x))])

    return predict


# ---------------------------------------------------------------------------- int8 (--int8)
INT8_FILE = "model.int8.pte"
#: how model.int8.pte is made (recorded with each int8 export): torch.export, ExecuTorch's
#: XNNPACKQuantizer through torchao's prepare_pt2e/convert_pt2e (symmetric int8, per-channel
#: weights, observers calibrated image by image: the program has a fixed batch of 1), then the
#: same XNNPACK lowering as model.pte. Input and output stay float32.
INT8_SETTINGS = {"tool": "executorch XNNPACKQuantizer + torchao prepare_pt2e/convert_pt2e", "format": "PT2E static",
                 "activations": "int8 symmetric", "weights": "int8 symmetric", "per_channel": True,
                 "calibration_method": "observers (min/max)"}


def export_int8(model, folder: Path, calibration: list[np.ndarray]) -> list[str]:
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                         get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    images = torch.from_numpy(np.ascontiguousarray(np.concatenate(calibration), dtype=np.float32))
    sample = torch.zeros_like(images[:1])
    with torch.no_grad():
        graph = prepare_pt2e(torch.export.export(model.eval(), (sample,)).module(), quantizer)
        for i in range(len(images)):
            graph(images[i:i + 1])
        _lower(torch.export.export(convert_pt2e(graph), (sample,)), folder / INT8_FILE)
    return [INT8_FILE]


def load_int8(folder: Path, threads: int = 1):
    return load(folder, threads, INT8_FILE)
