"""Measured accuracy: extract each sub-network, re-calibrate BN, score it on real images.

This is the ground truth a fitted predictor learns from, and an accuracy objective in its own
right (``source: measured``): the search's executor can evaluate it in parallel. Each arch is
independent of the others, so results do not depend on batching or on the executor. Gene
matrices index ``space`` (default: the supernet's): give ``space=profile.space`` when a
profile searches fewer resolutions than the supernet has.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..space import SearchSpace
from ..supernet import ElasticMobileNetV3, extract_subnet, recalibrate_bn
from ..training.data import DatasetError, check_fits, check_resolution, get_dataset
from .base import AccuracySource, Provenance


class MeasuredAccuracy(AccuracySource):
    """Top-1 (%) on the validation split after BN re-calibration on training images."""

    def __init__(self, net: ElasticMobileNetV3, dataset: str = "digits", calib_images: int = 1000,
                 batch_size: int = 500, space: SearchSpace | None = None):
        self.net = net.eval()
        self.space = space or net.space
        self.dataset, self.calib_images, self.batch_size = dataset, calib_images, batch_size
        sha = getattr(net, "weights_sha256", None) or "unsaved-weights"
        self.provenance = Provenance(f"measured:{dataset}:val", sha, "measured")
        self._splits: dict[tuple[str, int], Dataset] = {}

    def _split(self, split: str, r: int) -> Dataset:
        if (split, r) not in self._splits:
            ds = get_dataset(self.dataset, split, r)
            check_fits(self.space, ds)
            if len(ds.classes) != self.net.num_classes:
                raise DatasetError(f"dataset {ds.dataset_id!r} has {len(ds.classes)} classes but the supernet "
                                   f"predicts {self.net.num_classes}")
            self._splits[split, r] = ds
        return self._splits[split, r]

    @torch.no_grad()
    def evaluate(self, arch) -> float:
        check_resolution(self.space, arch.r)
        sub = extract_subnet(self.net, arch).eval()
        train = self._split("train", arch.r)
        x_tr = train.tensors[0][: self.calib_images]
        recalibrate_bn(sub, x_tr.split(self.batch_size), num_images=self.calib_images)
        val = self._split("val", arch.r)
        x, y = val.tensors
        correct = sum(int((sub(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(self.batch_size),
                                                                            y.split(self.batch_size)))
        return 100.0 * correct / len(y)

    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        genes = np.asarray(genes).reshape(-1, self.space.n_genes)
        return np.array([self.evaluate(a) for a in self.space.genes_to_archs(genes)], dtype=np.float64)

    def __getstate__(self):  # picklable for process-pool executors; each process loads its own data
        return {**self.__dict__, "_splits": {}}
