"""ExecuTorch: ``model.pte``, lowered with ``torch.export`` → ``to_edge_transform_and_lower`` and
the XNNPACK partitioner (the older ``to_edge().to_backend()`` leaves the classifier's ``addmm``
outside XNNPACK, and the model runs slower), run with ``executorch.runtime``. Batch 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import package_versions

FILE = "model.pte"


def versions() -> dict[str, str]:
    return package_versions("executorch", "torch")


def export(model, input_shape: tuple[int, ...], folder: Path, onnx_path: Path | None = None) -> list[str]:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    with torch.no_grad():
        program = torch.export.export(model.eval(), (torch.zeros(input_shape),))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    (folder / FILE).write_bytes(lowered.buffer)
    return [FILE]


def load(folder: Path, threads: int = 1):
    import torch
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime

    _unsafe_reset_threadpool(threads)  # XNNPACK's thread pool (one per process)
    method = Runtime.get().load_program(str(folder / FILE)).load_method("forward")

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([method.execute([torch.from_numpy(x[i:i + 1])])[0].numpy() for i in range(len(x))])

    return predict
