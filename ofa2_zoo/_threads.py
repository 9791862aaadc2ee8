"""Thread-pool scoping for small, frequent numeric work (the search and its predictors).

Multi-threaded BLAS (numpy's OpenBLAS) and OpenMP (torch's intra-op pool) keep their worker
threads spin-waiting for a while after each call. The search calls its objectives about a
thousand times with ~100 rows; there the spinning threads do nothing useful, and when another
process is busy on the machine they compete with it for the cores and the search slows down
several-fold (``OMP_WAIT_POLICY=PASSIVE`` hides it, but users do not set it). So that work runs
on the caller's thread alone, and the caller's settings are restored afterwards. The same holds
for packaging the small networks of a front and for extracting sub-networks (the figures are in
``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import ThreadpoolController


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count is ``n`` inside the block (cheap; for each predictor call)."""
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


@contextmanager
def limited_threads(n: int = 1) -> Iterator[None]:
    """BLAS and OpenMP pools (numpy's, torch's and any other loaded) on ``n`` threads inside the block.

    Scans the loaded libraries on entry (about a millisecond): meant for a whole search or
    packaging run, not for each small call. torch, when imported, is limited through its own
    setting too (its MKL is linked in, so threadpoolctl cannot see it). Usable as a decorator.
    """
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with ThreadpoolController().limit(limits=n):
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
