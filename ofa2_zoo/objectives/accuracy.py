"""Accuracy objectives: OFA's accuracy predictor and a registry of accuracy sources.

OFA's predictor (``acc_predictor.pth``) is an MLP ``128 → 400 → 400 → 400 → 1`` over a
one-hot encoding: kernel size per block (20 × {3,5,7}), expand ratio per block
(20 × {3,4,6}), both all-zero for skipped blocks, and the resolution in 8 slots
``(r - 112) // 16``. It outputs ImageNet top-1 as a fraction; we report %.

The encoding is built for a whole gene matrix with array indexing, and the MLP runs on the
whole batch, so a population of 100,000 costs one forward pass.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..assets import resolve_asset, sha256_file
from ..errors import CheckpointError, Ofa2Error
from ..space import SearchSpace, get_space
from .base import AccuracySource, Provenance

_FACTORIES: dict[str, Callable[..., AccuracySource]] = {}


def register_accuracy_source(name: str, factory: Callable[..., AccuracySource]) -> None:
    """Make ``load_accuracy_predictor(name, ...)`` call ``factory(assets=...)``."""
    _FACTORIES[name] = factory


def load_accuracy_predictor(name: str, assets: str | os.PathLike | None = None, **kwargs) -> AccuracySource:
    """An accuracy source by name: ``ofa_mbv3_w1.2`` (OFA's predictor), ``ofa2_digits`` ..."""
    if name not in _FACTORIES:
        raise Ofa2Error(f"no accuracy predictor for {name!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](assets=assets, **kwargs)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class OFAAccuracyPredictor(AccuracySource):
    """OFA's ImageNet top-1 predictor for the ``ofa_mbv3_w1.2`` space."""

    def __init__(self, path: str | os.PathLike, space: SearchSpace | None = None):
        self.space = space or get_space("ofa_mbv3_w1.2")
        if (self.space.n_blocks, self.space.ks_choices, self.space.expand_choices) != (20, (3, 5, 7), (3, 4, 6)):
            raise Ofa2Error(f"OFA's predictor does not cover space {self.space.name!r}")
        self.model = _mlp([128, 400, 400, 400, 1])
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state)
        except Exception as exc:  # corrupt file, pickled code, wrong keys: all refused the same way
            raise CheckpointError(f"{path}: not OFA's accuracy predictor state dict: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        self.provenance = Provenance("ofa-acc-predictor-mbv3-w1.2", sha256_file(path), "predicted")

    def encode(self, genes: np.ndarray) -> np.ndarray:
        """The 128-d features of an ``(N, 46)`` gene matrix."""
        v = self.space.decode(genes)
        n, nb = v["ks_idx"].shape
        feats = np.zeros((n, 128), dtype=np.float32)
        rows = np.repeat(np.arange(n), nb)
        cols = (np.arange(nb) * 3)[None, :]
        active = v["active"].ravel()
        feats[rows[active], (cols + v["ks_idx"]).ravel()[active]] = 1
        feats[rows[active], 60 + (cols + v["e_idx"]).ravel()[active]] = 1
        feats[np.arange(n), 120 + (v["r"] - 112) // 16] = 1
        return feats

    @torch.no_grad()
    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        feats = torch.from_numpy(self.encode(genes))
        out = torch.cat([self.model(chunk) for chunk in feats.split(65536)]) if len(feats) else torch.zeros(0, 1)
        return out[:, 0].double().numpy() * 100.0


def _ofa_predictor(assets: str | os.PathLike | None = None, space: SearchSpace | None = None) -> OFAAccuracyPredictor:
    return OFAAccuracyPredictor(resolve_asset("acc_predictor.pth", assets), space)


register_accuracy_source("ofa_mbv3_w1.2", _ofa_predictor)
register_accuracy_source("ofa_mbv3_d234_e346_k357_w1.2", _ofa_predictor)
