"""Where expensive objectives run: in this process, in a process pool, or on a Ray cluster.

An executor maps a function over chunks of a gene matrix and returns the results in chunk
order. The evaluator always cuts the same chunks (fixed size, sorted arch order) whichever
executor runs them, and every objective is a pure function of a chunk's genes, so results
are identical across executors.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np

from ..errors import ExecutorError

EXECUTORS = ("inprocess", "process", "ray")
ChunkFn = Callable[[np.ndarray], np.ndarray]


class Executor:
    """Runs chunks one after another in this process (the default)."""

    name = "inprocess"

    def map(self, fn: ChunkFn, chunks: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(fn(c)) for c in chunks]

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProcessExecutor(Executor):
    """A pool of worker processes on this machine (``fn`` must be picklable).

    Workers are *spawned*, not forked: forking a process whose torch/OpenMP thread pools are
    running can deadlock the child."""

    name = "process"

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise ExecutorError(f"workers must be at least 1, got {workers}")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn, chunks):
        return [np.asarray(r) for r in self.pool.map(fn, chunks)]

    def close(self) -> None:
        self.pool.shutdown()


class RayExecutor(Executor):
    """Tasks on a Ray cluster (``address=None`` starts or joins a local one)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise ExecutorError("the ray executor needs Ray: pip install 'ofa2-zoo[ray]'") from None
        self.ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs = {"num_cpus": workers} if address is None and workers is not None else {}
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **kwargs)
            self._started = True
        self._task = ray.remote(_call)

    def map(self, fn, chunks):
        ref = self.ray.put(fn)
        return [np.asarray(r) for r in self.ray.get([self._task.remote(ref, c) for c in chunks])]

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()


def _call(fn: ChunkFn, chunk: np.ndarray) -> np.ndarray:
    return fn(chunk)


def make_executor(name: str | Executor = "inprocess", workers: int | None = None) -> Executor:
    """An executor by name: ``inprocess``, ``process`` or ``ray``."""
    if isinstance(name, Executor):
        return name
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ExecutorError(f"workers must be a whole number of at least 1, got {workers!r}")
    if name == "inprocess":
        return Executor()
    if name == "process":
        return ProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(workers=workers)
    raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
