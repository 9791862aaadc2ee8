"""Fixtures for the search, front and predictor tests: the official assets folder, the
Note10 profile, and an accuracy source that declares itself *measured* (so the evaluator
sends it through the executor) while computing OFA's predictor underneath."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from _assets import ASSETS, needs_assets  # noqa: F401  (re-exported for the search tests)
from ofa2_zoo.objectives.base import AccuracySource, Provenance



def note10():
    from ofa2_zoo.profiles import load_profile

    return load_profile("note10", assets=ASSETS)


def predictor(space=None):
    from ofa2_zoo.objectives.accuracy import load_accuracy_predictor

    return load_accuracy_predictor("ofa_mbv3_w1.2", assets=ASSETS, space=space)


class ChunkRecordingAccuracy(AccuracySource):
    """OFA's predictor declared as a *measured* source; records the chunk sizes it saw (in
    this process) so tests can check that the executor path ran."""

    def __init__(self, space, log_dir: str | os.PathLike | None = None):
        self.inner = predictor(space)
        self.space = space
        self.provenance = Provenance("test-measured-" + self.inner.provenance.id, self.inner.provenance.sha256,
                                     "measured")
        self.log_dir = str(log_dir) if log_dir else None

    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        if self.log_dir:
            with open(Path(self.log_dir) / f"pid-{os.getpid()}.log", "a") as f:
                f.write(f"{len(genes)}\n")
        return self.inner.predict_genes(genes)
