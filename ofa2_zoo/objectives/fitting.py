"""Measuring random sub-networks and fitting an accuracy predictor on them (``ofa2 fit-predictor``).

:func:`measure_random` measures the top-1 of random distinct sub-networks of a supernet
(:class:`~.measured.MeasuredAccuracy`, in one process or several), and
:func:`fit_from_measurements` fits a :class:`~.fitted.FittedPredictor` on the first of them and
scores it on the rest. The predictor itself, its features and its files are in :mod:`.fitted`.
"""

from __future__ import annotations

import numpy as np

from .._threads import limited_threads
from ..progress import ProgressFn
from ..errors import Ofa2Error
from .fitted import FitReport, FittedPredictor


_WORKER: dict = {}  # the MeasuredAccuracy of a process of measure_random's pool


def _init_worker(measure) -> None:
    _WORKER["measure"] = measure


def _measure_chunk(archs) -> list[float]:
    """One task of :func:`measure_random`'s pool: top-1 of each arch, in order."""
    with limited_threads(1):
        return [_WORKER["measure"].evaluate(a) for a in archs]


def measure_random(net, dataset: str, n: int, seed: int = 0, progress: ProgressFn | None = None,
                   workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Genes of ``n`` distinct random sub-networks of ``net`` and their measured top-1 (%).

    ``workers > 1`` measures in that many processes (each arch on its own, one thread each), with
    the same results as one process: every measurement is independent of the others.

    Args:
        net: The trained supernet (its ``space`` gives the sub-networks).
        dataset: The dataset measured on (its val split, after BN re-calibration on training images).
        n: How many distinct sub-networks to measure.
        seed: Seed of the sample and of its order.
        progress: Called with ("measuring", measured, n) after each network; ``None`` for none.
        workers: Processes that measure (1: this process).
    """
    from .measured import MeasuredAccuracy

    space = net.space
    genes = np.unique(space.sample_genes(4 * n, np.random.default_rng(seed)), axis=0)
    genes = genes[np.random.default_rng(seed + 1).permutation(len(genes))[:n]]
    if len(genes) < n:
        raise Ofa2Error(f"space {space.name!r} has fewer than {n} distinct networks")
    if workers < 1:
        raise Ofa2Error(f"workers must be at least 1, got {workers}")
    measure = MeasuredAccuracy(net, dataset)
    archs = space.genes_to_archs(genes)
    top1 = np.empty(len(genes))
    if workers == 1:
        with limited_threads(1):  # hundreds of small networks: spinning torch threads only slow them down
            for i, arch in enumerate(archs):
                top1[i] = measure.evaluate(arch)
                if progress:
                    progress("measuring", i + 1, len(genes))
        return genes, top1
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    step = 8  # archs per task: progress stays live, and the pool's overhead is small
    chunks = [archs[i:i + step] for i in range(0, len(archs), step)]
    done = 0
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                             initargs=(measure,)) as pool:
        for start, values in zip(range(0, len(archs), step), pool.map(_measure_chunk, chunks)):
            top1[start:start + len(values)] = values
            done += len(values)
            if progress:
                progress("measuring", done, len(genes))
    return genes, top1


def fit_from_measurements(net, dataset: str, n_train: int = 250, n_test: int = 100, seed: int = 0,
                          progress: ProgressFn | None = None, measurements: dict | None = None,
                          fit_progress: ProgressFn | None = None, workers: int = 1) -> tuple[FittedPredictor, FitReport, dict]:
    """Measure ``n_train + n_test`` random sub-networks of ``net`` (or reuse ``measurements``
    written by an earlier run), fit on the first ``n_train`` and score on the held-out rest.
    ``progress("measuring", measured, n)`` and ``fit_progress("fitting", epoch, epochs)`` report the two steps.
    Returns the predictor, its report and the measurements.

    Args:
        net: The trained supernet.
        dataset: The dataset measured on.
        n_train: Networks fitted on.
        n_test: Held-out networks the fit is scored on.
        seed: Seed of the sample and of the fit.
        progress: Called with ("measuring", measured, n) while measuring; ``None`` for none.
        measurements: ``{"genes", "top1", "n_train"}`` from an earlier run to refit without measuring
            (``n_train`` and ``n_test`` then come from it), or ``None``.
        fit_progress: Called with ("fitting", epoch, epochs) while fitting; ``None`` for none.
        workers: Processes that measure (1: this process).
    """
    space = net.space
    if measurements is not None:
        genes, top1 = space.canonicalize_genes(np.array(measurements["genes"])), np.array(measurements["top1"])
        n_train, n_test = int(measurements["n_train"]), len(top1) - int(measurements["n_train"])
    else:
        genes, top1 = measure_random(net, dataset, n_train + n_test, seed, progress, workers)
    pred = FittedPredictor.fit(space, genes[:n_train], top1[:n_train], seed=seed, progress=fit_progress)
    report = pred.score(genes[n_train:], top1[n_train:], seed, n_train)
    pred.meta = {"fit": report.__dict__, "provenance": {"supernet_sha256": getattr(net, "weights_sha256", None),
                                                        "dataset": dataset, "measured": "top-1 % on the val split "
                                                        "after BN re-calibration on training images"}}
    data = {"genes": genes.tolist(), "top1": top1.tolist(), "n_train": n_train}
    return pred, report, data
