"""The forward pass of the accuracy predictors: a ReLU MLP run on fixed blocks of rows.

Two properties matter more than raw speed here:

- **Batch invariance.** A float32 matrix product can round a row differently depending on how
  many rows share the call and where the row sits (BLAS picks kernels and blocking by size;
  numpy's OpenBLAS here even rounds by row position). Every product here has exactly
  :data:`BLOCK_ROWS` rows (the last block zero-padded) and goes through torch's CPU matrix
  product, which rounds a row the same wherever it sits in the block (the tests check this),
  so an arch's prediction is bit-identical whatever batch it arrives in: caches, executors and
  chunking never change a result.
- **No spinning thread pool.** The search calls a predictor about a thousand times with ~100
  rows. Multi-threaded products that small leave OpenMP workers spin-waiting, which collapses
  the search when another process is busy on the machine. Each product here runs with one
  torch thread (scoped, restored after the call); batches of at least
  :data:`PARALLEL_MIN_ROWS` rows are split over plain Python threads, one per available core,
  which sleep when idle (torch releases the GIL inside each product). Every block still goes
  through the same single-threaded product, so the parallel path gives the same bits.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import numpy as np
import torch
from torch.nn import functional as F

from .._threads import torch_threads

#: Rows per matrix product; every product gets exactly this many (see the module docstring).
BLOCK_ROWS = 32
#: Blocks per task of the parallel path.
CHUNK_BLOCKS = 64
#: Batches from this size on use one thread per available core.
PARALLEL_MIN_ROWS = 8192


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class BlockMLP:
    """``Linear → ReLU → … → Linear`` in float32, from ``(weight (out, in), bias (out,))`` pairs."""

    def __init__(self, layers: list[tuple[Any, Any]]):
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        self.layers = [(torch.as_tensor(w, dtype=torch.float32).detach().clone().contiguous(),
                        torch.as_tensor(b, dtype=torch.float32).detach().clone().reshape(-1)) for w, b in layers]
        for i, (w, b) in enumerate(self.layers):
            if w.ndim != 2 or w.shape[0] != len(b) or (i and w.shape[1] != self.layers[i - 1][0].shape[0]):
                raise ValueError(f"layer {i}: weight {tuple(w.shape)} does not fit bias {tuple(b.shape)} "
                                 "or the layer before")

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "BlockMLP":
        """From an ``nn.Sequential`` of Linear/ReLU layers' state dict (``"<i>.weight"``, ``"<i>.bias"``)."""
        index = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"(\d+)\.(weight|bias)", str(k)))})
        if not index or set(state) != {f"{i}.{p}" for i in index for p in ("weight", "bias")}:
            raise ValueError(f"not the state dict of a Linear/ReLU MLP: keys {sorted(map(str, state))}")
        return cls([(state[f"{i}.weight"], state[f"{i}.bias"]) for i in index])

    @property
    def sizes(self) -> list[int]:
        """Layer widths, inputs first: ``[n_in, hidden..., n_out]``."""
        return [self.layers[0][0].shape[1]] + [w.shape[0] for w, _ in self.layers]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """``(N, n_in)`` features → ``(N, n_out)`` float32 outputs."""
        features = np.asarray(features, dtype=np.float32)
        n, n_in = len(features), self.sizes[0]
        if features.ndim != 2 or features.shape[1] != n_in:
            raise ValueError(f"expected features of shape (N, {n_in}), got {features.shape}")
        n_blocks = -(-n // BLOCK_ROWS)
        x = torch.zeros(n_blocks * BLOCK_ROWS, n_in)
        x[:n] = torch.from_numpy(features)
        out = torch.empty(n_blocks * BLOCK_ROWS, self.sizes[-1])
        step = CHUNK_BLOCKS * BLOCK_ROWS
        starts = range(0, len(x), step)
        with torch.no_grad(), torch_threads(1):
            workers = min(_cores(), len(starts)) if n >= PARALLEL_MIN_ROWS else 1
            if workers > 1:
                with ThreadPoolExecutor(workers, thread_name_prefix="ofa2-mlp") as pool:
                    list(pool.map(lambda s: self._forward(x[s:s + step], out[s:s + step]), starts))
            else:
                self._forward(x, out)
        return out[:n].numpy()

    def _forward(self, x: torch.Tensor, out: torch.Tensor) -> None:
        last = len(self.layers) - 1
        with torch.no_grad():  # per thread: the grad mode is thread-local
            for start in range(0, len(x), BLOCK_ROWS):
                h = x[start:start + BLOCK_ROWS]
                for i, (w, b) in enumerate(self.layers):
                    h = F.linear(h, w, b)
                    if i < last:
                        h.relu_()
                out[start:start + BLOCK_ROWS] = h
