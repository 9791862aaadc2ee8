"""The real images packaging needs: BN re-calibration, ONNX parity and measured accuracy.

A data source is a dataset name or image folder understood by
:func:`ofa2_zoo.training.data.source_images` (``"digits"`` is the embedded default), or any
callable ``(split, resolution) -> Dataset`` of ``(image tensor, label)`` pairs. Every member
has its own input resolution, so datasets are built per resolution.

Named datasets are preprocessed by timm itself: ``timm.data.create_transform`` with the
input size, interpolation, crop and mean/std that go into the member's ``pretrained_cfg``,
applied to the split's PIL images. So the cfg *is* the preprocessing the weights were
calibrated and measured with, and a user who builds the transform from the cfg
(``resolve_data_config`` + ``create_transform``) reproduces the card's accuracy. A callable's
datasets are used as they are; their metadata (``mean``, ``std``, ``interpolation``,
``crop_pct``, ...) must describe what they did.

Calibration uses a fixed, seeded subset of the training split (OFA's procedure: about 2,000
images, batch 200), in a fixed order, so re-packaging gives the same BN statistics.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from .errors import PackageError

DataSource = Union[str, os.PathLike, Callable[[str, int], Dataset]]


@dataclass(frozen=True)
class DataInfo:
    """What the cards and ``pretrained_cfg`` say about the data."""

    name: str  # shown to people
    dataset_id: str  # the id in the card's ``datasets:`` / model-index
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] | None
    interpolation: str = "bilinear"
    crop_pct: float = 1.0
    license: str | None = None


def _meta_value(ds: Any, key: str) -> Any:
    for holder in (getattr(ds, "meta", None), getattr(ds, "metadata", None), ds):
        if holder is None:
            continue
        if isinstance(holder, dict) and key in holder:
            return holder[key]
        if not isinstance(holder, dict) and hasattr(holder, key):
            return getattr(holder, key)
    return None


def _base(ds: Dataset) -> Dataset:
    while isinstance(ds, Subset):
        ds = ds.dataset
    return ds


def cached_source(data: DataSource) -> Callable[[str, int], Dataset]:
    """``data`` as a ``(split, resolution) -> Dataset`` callable that opens each pair once
    (members often share a resolution; scanning a large image folder is slow)."""
    opened: dict[tuple[str, int], Dataset] = {}

    def source(split: str, resolution: int) -> Dataset:
        if (split, resolution) not in opened:
            opened[split, resolution] = open_split(data, split, resolution)
        return opened[split, resolution]

    source.name = data if isinstance(data, str) else getattr(data, "name", None)  # type: ignore[attr-defined]
    return source


class TimmTransformed(Dataset):
    """A split's PIL images through timm's eval transform for ``resolution``; carries the metadata
    (:func:`data_info`) that the member's ``pretrained_cfg`` records."""

    def __init__(self, source: Any, resolution: int, name: str):
        import timm.data

        self.source, self.name, self.dataset_id = source, name, source.dataset_id
        self.classes, self.in_chans = list(source.classes), source.in_chans
        self.mean, self.std = source.mean, source.std
        self.interpolation, self.crop_pct = source.interpolation, source.crop_pct
        self.transform = timm.data.create_transform(
            input_size=(source.in_chans, resolution, resolution), interpolation=source.interpolation,
            crop_pct=source.crop_pct, crop_mode="center", mean=source.mean, std=source.std)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.source.image(i)), self.source.labels[i]


def open_split(data: DataSource, split: str, resolution: int) -> Dataset:
    """The ``split`` ("train" or "val") of ``data`` at ``resolution``."""
    if callable(data):
        ds = data(split, resolution)
    else:
        from ..training.data import source_images

        ds = TimmTransformed(source_images(os.fspath(data), split), resolution, os.fspath(data))
    if len(ds) == 0:
        raise PackageError(f"the {split} split of {data!r} is empty")
    return ds


def eval_split(data: DataSource) -> str:
    """The split a card's top-1 is measured on: a dataset's official ``test`` split where it has one
    (Fashion-MNIST: never used to choose anything), else ``val``."""
    from ..catalog import DATASETS

    return "test" if isinstance(data, str) and data in DATASETS else "val"


def data_info(data: DataSource, ds: Dataset, *, dataset_id: str | None = None) -> DataInfo:
    """Describe ``data`` from the dataset's metadata (mean, std, channels, class names)."""
    base = _base(ds)
    x, _ = base[0]
    in_chans = int(_meta_value(base, "in_chans") or x.shape[0])
    mean = _meta_value(base, "mean")
    std = _meta_value(base, "std")
    if mean is None or std is None:
        raise PackageError(f"data {data!r} does not say its normalisation (mean/std): the packaged pretrained_cfg "
                           "needs them so that timm users preprocess images the same way")
    mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    crop_pct = _meta_value(base, "crop_pct")
    crop_pct = 1.0 if crop_pct is None else float(crop_pct)
    # what config.json may hold (package.verify checks it again before publishing)
    if not mean or not std or not all(math.isfinite(v) for v in mean) or \
            not all(math.isfinite(v) and v > 0 for v in std):
        raise PackageError(f"data {data!r}: mean {list(mean)} / std {list(std)} must be finite numbers, the std "
                           "positive")
    if len(mean) != len(std) or len(mean) not in (1, in_chans):
        raise PackageError(f"data {data!r}: mean {list(mean)} / std {list(std)} need one value per channel "
                           f"({in_chans}) or one for all")
    if not 0 < crop_pct <= 1:
        raise PackageError(f"data {data!r}: crop_pct {crop_pct} is not in (0, 1]")
    names = _meta_value(base, "class_names") or _meta_value(base, "classes")
    name = _meta_value(base, "name") or (data if isinstance(data, str) else type(base).__name__)
    return DataInfo(
        name=str(name), dataset_id=str(dataset_id or _meta_value(base, "dataset_id") or name), in_chans=in_chans,
        mean=mean, std=std, class_names=tuple(str(c) for c in names) if names is not None else None,
        interpolation=str(_meta_value(base, "interpolation") or "bilinear"), crop_pct=crop_pct,
        license=_meta_value(base, "license"))


def calibration_subset(ds: Dataset, num_images: int, seed: int) -> Subset:
    """A fixed pseudo-random subset of ``num_images`` images (all of them if fewer)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:num_images]
    return Subset(ds, idx.tolist())


def loader(ds: Dataset, batch_size: int) -> DataLoader:
    """Batches in a fixed order (no shuffling, no worker processes: deterministic)."""
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0)


def calibration_batches(data: DataSource, resolution: int, num_images: int, batch_size: int = 200,
                        seed: int = 0) -> Iterator[torch.Tensor]:
    """Image batches of the fixed calibration subset of the training split.

    Args:
        data: The dataset: a name, a folder or a callable ``(split, resolution) -> Dataset``.
        resolution: Image size of the batches.
        num_images: Images in the calibration subset.
        batch_size: Images per batch.
        seed: Seed that picks the subset.
    """
    ds = calibration_subset(open_split(data, "train", resolution), num_images, seed)
    for images, _ in loader(ds, batch_size):
        yield images


def first_images(ds: Dataset, n: int, batch_size: int = 256) -> torch.Tensor:
    """The first ``n`` images of ``ds`` as one tensor (parity check input)."""
    ds = Subset(ds, range(min(n, len(ds))))
    return torch.cat([x for x, _ in loader(ds, batch_size)])


@torch.no_grad()
def top1_accuracy(model: torch.nn.Module, ds: Dataset, batch_size: int = 256) -> tuple[float, int]:
    """Top-1 accuracy (%) of ``model`` in eval mode on every image of ``ds``, and the image count."""
    model = model.eval()
    correct = seen = 0
    for images, labels in loader(ds, batch_size):
        pred = model(images.float()).argmax(1)
        correct += int((pred == torch.as_tensor(labels)).sum())
        seen += len(images)
    return 100.0 * correct / seen, seen
