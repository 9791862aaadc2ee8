"""The forward pass of the accuracy predictors: a ReLU MLP in numpy, run on fixed blocks of rows.

No torch here: a search whose objectives are a predictor and tables starts without importing
it (OFA's predictor file is converted once, see :mod:`.accuracy`; fitted predictors are
safetensors files read with safetensors' numpy API). Two properties matter more than raw speed:

- **Batch invariance.** A float32 matrix product can round a row differently depending on how
  many rows share the call (BLAS picks kernels and blocking by the matrix sizes). Every
  product here has the same shape: :data:`BLOCK_ROWS` rows (the last block zero-padded) times
  one layer's weights, as a stack of blocks in one ``np.matmul`` call, which runs each block
  through the same product. A row is rounded the same wherever it sits in its block (the tests
  check this), so an arch's prediction is bit-identical whatever batch it arrives in: caches,
  executors and chunking never change a result.
- **No spinning thread pool.** The search calls a predictor about a thousand times with ~100
  rows. Multi-threaded products that small leave BLAS workers spin-waiting, which collapses
  the search when another process is busy on the machine; the search runs inside
  :func:`~ofa2_zoo._threads.limited_threads`. Batches of at least :data:`PARALLEL_MIN_ROWS`
  rows are split over plain Python threads, one per available core, which sleep when idle
  (numpy releases the GIL inside each product). Every block still goes through the same
  product, so the parallel path gives the same bits.

The results agree with torch's ``nn.Linear``/``ReLU`` forward pass of the same weights to
float32 rounding (the tests compare both on thousands of archs).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import numpy as np

#: Rows per matrix product; every product gets exactly this many (see the module docstring). A
#: search's population of 100 is one product: 1.5-1.8x faster than four products of 32 rows on the
#: development VM, with the same bits (``benchmarks/RESULTS.md``).
BLOCK_ROWS = 128
#: Blocks per task of the parallel path.
CHUNK_BLOCKS = 16
#: Batches from this size on use one thread per available core.
PARALLEL_MIN_ROWS = 8192


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def as_float32(value: Any) -> np.ndarray:
    """A float32 numpy copy of an array or a (CPU) torch tensor, without importing torch."""
    if hasattr(value, "detach"):  # a torch tensor: numpy() needs it detached and on the CPU
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float32)


class BlockMLP:
    """``Linear → ReLU → … → Linear`` in float32, from ``(weight (out, in), bias (out,))`` pairs
    (numpy arrays or torch tensors)."""

    def __init__(self, layers: list[tuple[Any, Any]]):
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        self.layers = [(np.ascontiguousarray(as_float32(w).T), as_float32(b).reshape(-1)) for w, b in layers]
        for i, (wt, b) in enumerate(self.layers):  # weights are kept transposed: (in, out)
            if wt.ndim != 2 or wt.shape[1] != len(b) or (i and wt.shape[0] != self.layers[i - 1][0].shape[1]):
                raise ValueError(f"layer {i}: weight {wt.shape[::-1]} does not fit bias {b.shape} "
                                 "or the layer before")

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "BlockMLP":
        """From an ``nn.Sequential`` of Linear/ReLU layers' state dict (``"<i>.weight"``, ``"<i>.bias"``)."""
        index = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"(\d+)\.(weight|bias)", str(k)))})
        if not index or set(state) != {f"{i}.{p}" for i in index for p in ("weight", "bias")}:
            raise ValueError(f"not the state dict of a Linear/ReLU MLP: keys {sorted(map(str, state))}")
        return cls([(state[f"{i}.weight"], state[f"{i}.bias"]) for i in index])

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as an ``nn.Sequential``'s state dict of numpy arrays (Linear at even indices)."""
        out: dict[str, np.ndarray] = {}
        for i, (wt, b) in enumerate(self.layers):
            out[f"{2 * i}.weight"], out[f"{2 * i}.bias"] = np.ascontiguousarray(wt.T), b.copy()
        return out

    @property
    def sizes(self) -> list[int]:
        """Layer widths, inputs first: ``[n_in, hidden..., n_out]``."""
        return [self.layers[0][0].shape[0]] + [wt.shape[1] for wt, _ in self.layers]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """``(N, n_in)`` features → ``(N, n_out)`` float32 outputs."""
        features = np.asarray(features, dtype=np.float32)
        n, n_in = len(features), self.sizes[0]
        if features.ndim != 2 or features.shape[1] != n_in:
            raise ValueError(f"expected features of shape (N, {n_in}), got {features.shape}")
        n_blocks = -(-n // BLOCK_ROWS)
        x = np.zeros((n_blocks, BLOCK_ROWS, n_in), dtype=np.float32)
        x.reshape(-1, n_in)[:n] = features
        out = np.empty((n_blocks, BLOCK_ROWS, self.sizes[-1]), dtype=np.float32)
        starts = range(0, n_blocks, CHUNK_BLOCKS)
        workers = min(_cores(), len(starts)) if n >= PARALLEL_MIN_ROWS else 1
        if workers > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix="ofa2-mlp") as pool:
                list(pool.map(lambda s: self._forward(x[s:s + CHUNK_BLOCKS], out[s:s + CHUNK_BLOCKS]), starts))
        else:
            self._forward(x, out)
        return out.reshape(-1, self.sizes[-1])[:n]

    def _forward(self, x: np.ndarray, out: np.ndarray) -> None:
        """``x`` ``(blocks, BLOCK_ROWS, n_in)`` → ``out`` ``(blocks, BLOCK_ROWS, n_out)``."""
        last = len(self.layers) - 1
        h = x
        for i, (wt, b) in enumerate(self.layers):
            h = np.matmul(h, wt, out=out if i == last else None)  # one product per block, all the same shape
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
