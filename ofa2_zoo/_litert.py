"""LiteRT conversion, shared by the latency backend ``litert`` (:mod:`ofa2_zoo.profiles.measure`)
and the LiteRT export (:mod:`ofa2_zoo.package.runtimes.litert`): litert-torch converts a PyTorch
module to a ``.tflite`` flatbuffer. Needs the ``litert`` extra; imported by those two only."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .constants import environment_set


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """litert-torch prints a progress line per conversion step, and its converter a log line per
    file, unless told otherwise (the user's own settings come back after the block)."""
    with environment_set("LITERT_TORCH_SHOW_PROGRESS", "n"), environment_set("TF_CPP_MIN_LOG_LEVEL", "3"):
        yield


def tflite_bytes(module: Any, shape: tuple[int, ...]) -> bytes:
    """``module`` (eval mode) converted for a fixed input of ``shape``, as the bytes of a ``.tflite`` file."""
    import litert_torch
    import torch

    with quiet(), torch.no_grad(), tempfile.TemporaryDirectory(prefix="ofa2-litert-") as tmp:
        path = Path(tmp) / "model.tflite"
        litert_torch.convert(module.eval(), (torch.zeros(shape),)).export(str(path))
        return path.read_bytes()
