"""Accuracy predictors fitted on measured sub-networks (``ofa2 fit-predictor``).

Features are OFA's encoding generalised to any space: per block a one-hot of the kernel size
and one of the expand ratio (all-zero for skipped blocks), then a one-hot of the resolution.
The model is an MLP (ReLU) regressing standardised top-1, trained full-batch with Adam. The
default size and weight decay (two hidden layers of 128, weight decay 1e-3, 2,000 epochs) were
chosen by 5-fold cross-validation of Kendall's tau on the embedded default's training archs.

File format (files sharing a prefix):

- ``<prefix>.safetensors``: the MLP weights (``layers.<i>.weight`` / ``.bias``, indices of an
  ``nn.Sequential`` of Linear/ReLU layers; metadata ``format``);
- ``<prefix>.json``: ``{"format": "ofa2-predictor/1", "space": <SearchSpace dict>,
  "hidden": [128, 128], "target_mean": ..., "target_std": ..., "fit": {n_train, n_test,
  kendall_tau, rmse, mae, seed}, "provenance": {supernet_sha256, dataset, measured}}``;
  a prediction is ``mlp(features) * target_std + target_mean`` (top-1 %);
- ``<prefix>.measurements.json`` (written by ``ofa2 fit-predictor``): ``{"genes": [[...]],
  "top1": [...], "n_train": N}``, the measured archs, the first ``N`` fitted on and the rest
  held out; ``--measurements`` refits from it without measuring.

Predictions run the MLP in numpy on fixed blocks of rows (:mod:`.mlp`), so they are
bit-identical whatever batch an arch arrives in; loading and predicting import no torch
(only fitting does).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .._io import atomic_path, sha256_file, write_json_atomic
from ..progress import ProgressFn
from .._schema import Schema, first_problem
from ..errors import CheckpointError, Ofa2Error
from ..space import SearchSpace, resolve_space
from .base import AccuracySource, Provenance
from .mlp import BlockMLP

FORMAT = "ofa2-predictor/1"


def encode(space: SearchSpace, genes: np.ndarray) -> np.ndarray:
    """One-hot features of an ``(N, n_genes)`` gene matrix (vectorised)."""
    v = space.decode(genes)
    n, nb = v["ks_idx"].shape
    nk, ne, nr = len(space.ks_choices), len(space.expand_choices), len(space.resolutions)
    feats = np.zeros((n, nb * (nk + ne) + nr), dtype=np.float32)
    rows, on = np.arange(n)[:, None], v["active"].astype(np.float32)  # 0 for a skipped block's own columns
    feats[rows, (np.arange(nb) * nk)[None, :] + v["ks_idx"]] = on
    feats[rows, nb * nk + (np.arange(nb) * ne)[None, :] + v["e_idx"]] = on
    feats[np.arange(n), nb * (nk + ne) + v["r_idx"]] = 1
    return feats


def _mlp(n_in: int, hidden: list[int]):
    """``Linear-ReLU-...-Linear`` (a torch ``nn.Sequential``): ``n_in`` features, ``hidden`` sizes, one output."""
    from torch import nn

    sizes = [n_in, *hidden, 1]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class PredictorInfo(Schema):
    """Schema of ``<prefix>.json`` (extra keys are kept: ``fit``, ``provenance``, ...)."""

    model_config = ConfigDict(extra="allow")
    format: Literal["ofa2-predictor/1"]
    space: dict
    hidden: list[Annotated[int, Field(ge=1)]]
    target_mean: float
    target_std: float = Field(gt=0)


@dataclass
class FitReport:
    n_train: int
    n_test: int
    kendall_tau: float
    rmse: float
    mae: float
    seed: int


def _check_shapes(state: dict[str, np.ndarray], sizes: list[int]) -> None:
    """``state`` holds exactly the weights of ``_mlp`` with these layer ``sizes``."""
    expected = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        expected[f"{2 * i}.weight"], expected[f"{2 * i}.bias"] = (b, a), (b,)
    if set(state) != set(expected):
        raise ValueError(f"weights {sorted(state)}, expected {sorted(expected)}")
    for k, shape in expected.items():
        if tuple(state[k].shape) != shape:
            raise ValueError(f"weight {k} has shape {tuple(state[k].shape)}, expected {shape}")


class FittedPredictor(AccuracySource):
    """A fitted predictor; ``model`` is its MLP: a torch ``nn.Sequential`` of Linear/ReLU layers or
    that Sequential's state dict (torch tensors or numpy arrays). Predictions run in numpy."""

    def __init__(self, space: SearchSpace, model, hidden: list[int], mean: float, std: float,
                 meta: dict | None = None, sha256: str = "unsaved"):
        self.space, self.hidden, self.mean, self.std = space, hidden, mean, std
        self.mlp = BlockMLP.from_state_dict(model.state_dict() if hasattr(model, "state_dict") else model)
        self.meta = meta or {}
        self.provenance = Provenance(f"fitted:{space.name}", sha256, "predicted")

    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        """Top-1 % per row, bit-identical whatever batch an arch arrives in (see :mod:`.mlp`).

        The regression can overshoot near the top (100.006 % for a digits network PALS found);
        a top-1 outside [0, 100] means nothing and fronts refuse it, so it is clipped."""
        feats = encode(self.space, np.asarray(genes).reshape(-1, self.space.n_genes))
        return np.clip(self.mlp(feats)[:, 0].astype(np.float64) * self.std + self.mean, 0.0, 100.0)

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, space: SearchSpace, genes: np.ndarray, top1: np.ndarray, hidden: list[int] | None = None,
            epochs: int = 2000, lr: float = 3e-3, weight_decay: float = 1e-3, seed: int = 0,
            progress: ProgressFn | None = None) -> FittedPredictor:
        """Fit on measured ``top1`` (%); ``progress("fitting", epoch, epochs)`` is called every 50 epochs.

        Args:
            space: The search space the genes belong to.
            genes: ``(N, n_genes)`` gene matrix of the measured sub-networks.
            top1: Their measured top-1 (%), one per row of ``genes``.
            hidden: Sizes of the hidden layers (default ``[128, 128]``).
            epochs: Full-batch Adam steps.
            lr: Initial learning rate (cosine-annealed to zero over ``epochs``).
            weight_decay: Adam's weight decay.
            seed: Seed of torch's generator (the initial weights).
            progress: Called with ("fitting", epoch, epochs) every 50 epochs and at the end; ``None`` for none.
        """
        import torch
        from torch import nn

        hidden = hidden or [128, 128]
        torch.manual_seed(seed)
        x = torch.from_numpy(encode(space, genes))
        y = torch.as_tensor(top1, dtype=torch.float32)
        mean, std = float(y.mean()), float(y.std().clamp_min(1e-6))
        model = _mlp(x.shape[1], hidden)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
        target = (y - mean) / std
        for epoch in range(1, epochs + 1):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x)[:, 0], target)
            loss.backward()
            opt.step()
            sched.step()
            if progress and (epoch % 50 == 0 or epoch == epochs):
                progress("fitting", epoch, epochs)
        return cls(space, model.eval(), hidden, mean, std)

    def score(self, genes: np.ndarray, top1: np.ndarray, seed: int, n_train: int) -> FitReport:
        from scipy.stats import kendalltau

        pred = self.predict_genes(genes)
        err = pred - np.asarray(top1)
        return FitReport(n_train, len(top1), float(kendalltau(pred, top1)[0]), float(np.sqrt((err ** 2).mean())),
                         float(np.abs(err).mean()), seed)

    # ---------------------------------------------------------------- files
    def save(self, prefix: str | os.PathLike, meta: dict | None = None) -> None:
        prefix = Path(prefix)
        state = {f"layers.{k}": v for k, v in self.mlp.state_dict().items()}
        with atomic_path(prefix.with_suffix(".safetensors")) as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
        write_json_atomic(prefix.with_suffix(".json"), {
            "format": FORMAT, "space": self.space.to_dict(), "hidden": self.hidden, "target_mean": self.mean,
            "target_std": self.std, **(meta or self.meta)})

    @classmethod
    def load(cls, prefix: str | os.PathLike, space: SearchSpace | None = None) -> FittedPredictor:
        prefix = Path(prefix)
        weights, info_path = prefix.with_suffix(".safetensors"), prefix.with_suffix(".json")
        if not weights.is_file() or not info_path.is_file():
            raise CheckpointError(f"predictor files {weights} and {info_path} are needed")
        try:
            info = json.loads(info_path.read_text())
            meta = PredictorInfo.model_validate(info)
            own = resolve_space(meta.space)
            hidden, mean, std = meta.hidden, meta.target_mean, meta.target_std
            state = {k.removeprefix("layers."): v for k, v in load_file(str(weights)).items()}
            n_in = own.n_blocks * (len(own.ks_choices) + len(own.expand_choices)) + len(own.resolutions)
            _check_shapes(state, [n_in, *hidden, 1])
        except ValidationError as exc:
            problem = first_problem(exc)
            raise CheckpointError(f"{info_path}: not a valid ofa2 predictor: {problem.where}: {problem.msg}") from None
        except (KeyError, ValueError, TypeError, RuntimeError, SafetensorError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{prefix}: not a valid ofa2 predictor: {msg}") from None
        if space is not None:
            if (space.n_blocks, space.ks_choices, space.expand_choices) != (own.n_blocks, own.ks_choices,
                                                                             own.expand_choices) \
                    or not set(space.resolutions) <= set(own.resolutions):
                raise Ofa2Error(f"predictor for space {own.name!r} does not cover space {space.name!r}")
            if space.resolutions != own.resolutions:
                state = _restrict_resolutions(state, own, space)
        pred = cls(space or own, state, hidden, mean, std, info, sha256_file(weights))
        return pred


def _restrict_resolutions(state: dict[str, np.ndarray], own: SearchSpace,
                          space: SearchSpace) -> dict[str, np.ndarray]:
    """Drop the first layer's inputs of resolutions ``space`` does not have (a profile subset)."""
    base = own.n_blocks * (len(own.ks_choices) + len(own.expand_choices))
    keep = list(range(base)) + [base + own.resolutions.index(r) for r in space.resolutions]
    return {**state, "0.weight": np.ascontiguousarray(state["0.weight"][:, keep])}
