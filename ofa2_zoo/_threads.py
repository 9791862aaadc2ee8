"""Thread-pool scoping for small, frequent numeric work (the search and its predictors).

Multi-threaded BLAS (numpy's OpenBLAS) and OpenMP (torch's intra-op pool) keep their worker
threads spin-waiting for a while after each call. The search calls its objectives about a
thousand times with ~100 rows; there the spinning threads do nothing useful, and when another
process is busy on the machine they compete with it for the cores and the search slows down
five- to fifteen-fold (measured on 2 cores; ``OMP_WAIT_POLICY=PASSIVE`` hides it, but users do
not set it). So that work runs on the caller's thread alone, and the caller's settings are
restored afterwards.
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
def single_threaded() -> Iterator[None]:
    """BLAS and OpenMP pools (numpy's, torch's and any other loaded) on one thread inside the block.

    Scans the loaded libraries on entry (about a millisecond): meant for a whole search, not
    for each small call. torch, when imported, is limited through its own setting too (its
    MKL is linked in, so threadpoolctl cannot see it).
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with ThreadpoolController().limit(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
