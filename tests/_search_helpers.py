"""Fixtures for the search, front and predictor tests: the official assets folder, the
Note10 profile, and an accuracy source that declares itself *measured* (so the evaluator
sends it through the executor) while computing OFA's predictor underneath."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from _assets import ASSETS, needs_assets  # noqa: F401  (re-exported for the search tests)
from ofa2_zoo.objectives.base import AccuracySource, Provenance



def official_sha256(name: str) -> str:
    """The sha256 of an official asset as listed in the assets folder's SHA256SUMS."""
    for line in (ASSETS / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        if path.removeprefix("./") == name:
            return digest
    raise KeyError(name)


def official_note10_lut_sha256() -> str:
    """A profile's lut_sha256 over OFA's per-resolution tables: sha256 of their concatenated sha256s."""
    import hashlib

    sums = "".join(official_sha256(f"note10/{r}_lookup_table.yaml") for r in (160, 176, 192, 208, 224))
    return hashlib.sha256(sums.encode()).hexdigest()


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


def brute_force_non_dominated(F) -> list[int]:
    """Rows of ``F`` (minimisation) that no other row dominates, by comparing every pair: the
    reference the search's own ``non_dominated`` is checked against."""
    rows = [[float(v) for v in row] for row in np.asarray(F)]

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [i for i, b in enumerate(rows) if not any(dominates(a, b) for a in rows)]


def dominated_by_any(point, rows) -> bool:
    """Whether some row of ``rows`` dominates ``point`` (minimisation), pair by pair."""
    return any(all(x <= y for x, y in zip(r, point)) and any(x < y for x, y in zip(r, point)) for r in rows)
