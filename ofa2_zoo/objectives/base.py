"""The interface every accuracy source implements (OFA's predictor, fitted predictors,
measured accuracy), so the search treats them alike."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from ..space import ArchSpec, SearchSpace


@dataclass(frozen=True)
class Provenance:
    """Where a number came from: an id and the sha256 of the file(s) behind it."""

    id: str
    sha256: str
    source: Literal["predicted", "measured"]


class AccuracySource(abc.ABC):
    """Top-1 accuracy in % for whole batches of archs of one search space."""

    space: SearchSpace
    provenance: Provenance

    @abc.abstractmethod
    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        """Top-1 in % for an ``(N, n_genes)`` matrix of gene indices; shape ``(N,)``."""

    def predict(self, archs: Sequence[ArchSpec]) -> np.ndarray:
        """Top-1 in % for a list of archs; shape ``(N,)``."""
        return self.predict_genes(self.space.archs_to_genes(archs))
