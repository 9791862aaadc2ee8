"""Datasets for supernet training, BN re-calibration and measured accuracy.

``get_dataset(name_or_folder, split, resolution)`` returns a torch ``Dataset`` of
``(image CxHxW float, label)`` at the requested resolution, normalised, plus metadata
(``classes``, ``mean``, ``std``, ``in_chans``, ``dataset_id``) as attributes.

- ``"digits"``: scikit-learn's ``load_digits`` (1,797 real 8×8 grey-scale handwritten digits
  shipped inside scikit-learn, so it works offline). Fixed split: a stratified permutation
  with seed 0 puts 1,000 images in ``train`` and 797 in ``val`` (one validation image is
  0.13 % of top-1). Images are scaled to [0, 1] and resized to the resolution with bilinear
  interpolation (area averaging when shrinking).
- ``"fashion-mnist"``: Zalando's Fashion-MNIST (:mod:`.fashion_mnist`: where the files are read
  from, the pinned checksums, the fixed ``train``/``val``/``test`` splits). Each image is resized
  from 28×28 to the resolution exactly as timm's eval transform does (PIL bilinear, no crop), so
  training, measured accuracy and the model cards see the same pixels.
- an image folder: ``FOLDER/train/<class>/*.png`` and ``FOLDER/val/<class>/*.png`` (torchvision
  ``ImageFolder`` layout), resized to ``ceil(r / 0.875)`` and centre-cropped to ``r`` (OFA's
  evaluation transform); channels follow the images (``L`` → 1, else RGB → 3).

``source_images(name_or_folder, split)`` gives the same splits as PIL images before any
resizing, with the preprocessing to apply in timm's terms (interpolation, crop, mean/std):
packaging calibrates and measures each member on ``timm.data.create_transform`` of these, so
a member's ``pretrained_cfg`` is exactly the preprocessing its card's accuracy was measured with.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

from ..catalog import check_dataset_folder
from ..errors import DatasetError

DIGITS_TRAIN = 1000
DIGITS_SEED = 0
SPLITS = ("train", "val")
FMNIST_SPLITS = ("train", "val", "test")
# Per-channel mean/std of the 54,000 Fashion-MNIST training-split images (values in [0, 1]).
FMNIST_MEAN = (0.2859,)
FMNIST_STD = (0.3530,)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = d.images.astype(np.float32) / 16.0
    labels = d.target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SEED)
    train_idx = []
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in range(10)}
    # stratified: each class contributes its share of the 1,000 training images
    share = {c: round(DIGITS_TRAIN * len(v) / len(labels)) for c, v in per_class.items()}
    share[0] += DIGITS_TRAIN - sum(share.values())
    for c, idx in per_class.items():
        train_idx.extend(idx[: share[c]])
    train_idx = np.sort(np.array(train_idx))
    val_idx = np.setdiff1d(np.arange(len(labels)), train_idx)
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]


DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3760,)


def resize_images(x: torch.Tensor, r: int) -> torch.Tensor:
    """Resize a batch ``(N, C, H, W)`` to ``r x r`` (area averaging when shrinking)."""
    if x.shape[-1] == r:
        return x
    if r < x.shape[-1]:
        return F.interpolate(x, size=(r, r), mode="area")
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)


def _digits(split: str, resolution: int) -> Dataset:
    tr_x, tr_y, va_x, va_y = _digits_arrays()
    x, y = (tr_x, tr_y) if split == "train" else (va_x, va_y)
    images = resize_images(torch.from_numpy(x)[:, None], resolution)
    images = (images - DIGITS_MEAN[0]) / DIGITS_STD[0]
    ds = TensorDataset(images, torch.from_numpy(y))
    _annotate(ds, [str(i) for i in range(10)], DIGITS_MEAN, DIGITS_STD, 1, "sklearn-digits")
    return ds


def _fmnist_resized(split: str, resolution: int) -> np.ndarray:
    """uint8 ``(N, r, r)``: PIL bilinear resize of every image (what timm's eval transform does)."""
    from PIL import Image

    from .fashion_mnist import load_split

    x, _ = load_split(split)
    if resolution == x.shape[-1]:
        return x
    return np.stack([np.asarray(Image.fromarray(im).resize((resolution, resolution), Image.BILINEAR))
                     for im in x])


def _fashion_mnist(split: str, resolution: int) -> Dataset:
    from ..catalog import FASHION_MNIST
    from .fashion_mnist import load_split

    _, y = load_split(split)
    images = torch.from_numpy(_fmnist_resized(split, resolution)).float().div_(255.0)[:, None]
    images = (images - FMNIST_MEAN[0]) / FMNIST_STD[0]
    ds = TensorDataset(images, torch.from_numpy(y))
    _annotate(ds, FASHION_MNIST.classes, FMNIST_MEAN, FMNIST_STD, 1, "fashion-mnist")
    return ds


def _annotate(ds: Dataset, classes, mean, std, in_chans: int, dataset_id: str) -> None:
    ds.classes, ds.mean, ds.std, ds.in_chans, ds.dataset_id = list(classes), tuple(mean), tuple(std), in_chans, dataset_id


def _folder_files(root: Path, split: str) -> tuple[list[str], list[Path], list[int]]:
    """Classes, image files and labels of an image-folder split (torchvision ``ImageFolder`` layout)."""
    folder = root / split
    check_dataset_folder(root)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {root} has no '{split}' split (expected {folder}/<class>/<images>)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(f"{folder} has no class folders (expected {folder}/<class>/<images>)")
    files, labels = [], []
    for i, c in enumerate(classes):
        imgs = sorted(p for p in (folder / c).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not imgs:
            raise DatasetError(f"class folder {folder / c} is empty (no {', '.join(IMAGE_SUFFIXES)} files)")
        files += imgs
        labels += [i] * len(imgs)
    return classes, files, labels


def _image_folder(root: Path, split: str, resolution: int) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    classes, files, labels = _folder_files(root, split)
    mode = None
    tensors = []
    # timm's eval transform at crop_pct 0.875 (what the cards and `source_images` use): the shorter
    # side to floor(r / 0.875), the longer in proportion (truncated), bilinear, then the centre crop
    # with torchvision's rounding
    resize = math.floor(resolution / 0.875)
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                m = "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"
                mode = mode or m
                im = im.convert(mode)
                w, h = im.size
                size = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
                im = im.resize(size, Image.BILINEAR)
                w, h = im.size
                left, top = int(round((w - resolution) / 2.0)), int(round((h - resolution) / 2.0))
                im = im.crop((left, top, left + resolution, top + resolution))
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DatasetError(f"cannot read image {f}: {exc}") from None
        tensors.append(torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()))
    x = torch.stack(tensors)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    ds = TensorDataset((x - mean[None, :, None, None]) / std[None, :, None, None], torch.tensor(labels))
    _annotate(ds, classes, mean.tolist(), std.tolist(), x.shape[1], f"imagefolder:{root.name}")
    return ds


@dataclass(frozen=True)
class ImageSource:
    """A dataset split as PIL images before any resizing, and how to preprocess them (timm's terms)."""

    dataset_id: str
    classes: tuple[str, ...]
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str  # timm/torchvision name of the resize filter
    crop_pct: float  # resize the shorter side to floor(r / crop_pct), then centre-crop r x r
    labels: tuple[int, ...]
    load: Callable[[int], Any]  # index -> PIL image

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int):
        """Image ``i`` as a PIL image (``F`` mode for the digits: values in [0, 1], nothing lost)."""
        return self.load(i)


@lru_cache(maxsize=3)
def _fmnist_source(split: str) -> ImageSource:
    from PIL import Image

    from ..catalog import FASHION_MNIST
    from .fashion_mnist import load_split

    x, y = load_split(split)
    return ImageSource("fashion-mnist", FASHION_MNIST.classes, 1, FMNIST_MEAN, FMNIST_STD, "bilinear", 1.0,
                       tuple(int(v) for v in y), lambda i: Image.fromarray(x[i], mode="L"))


@lru_cache(maxsize=2)
def _digits_source(split: str) -> ImageSource:
    from PIL import Image

    tr_x, tr_y, va_x, va_y = _digits_arrays()
    x, y = (tr_x, tr_y) if split == "train" else (va_x, va_y)
    images = [Image.fromarray(np.ascontiguousarray(im, dtype=np.float32), mode="F") for im in x]
    return ImageSource("sklearn-digits", tuple(str(i) for i in range(10)), 1, DIGITS_MEAN, DIGITS_STD, "bilinear",
                       1.0, tuple(int(v) for v in y), images.__getitem__)


def _open_image(path: Path, mode: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def _folder_mode(path: Path) -> str:
    """``L`` for grey-scale images, else ``RGB`` (the first image of a folder decides, as for training)."""
    from PIL import Image

    with Image.open(path) as im:
        return "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"


@lru_cache(maxsize=4)
def _folder_stats(root: Path) -> tuple[str, tuple[float, ...], tuple[float, ...]]:
    """Colour mode and per-channel mean/std of an image folder's training images (values in [0, 1])."""
    _, files, _ = _folder_files(root, "train")
    mode = _folder_mode(files[0])
    n, total, total_sq = 0, 0.0, 0.0
    for f in files:
        arr = (np.asarray(_open_image(f, mode), dtype=np.float64) / 255.0).reshape(-1, 1 if mode == "L" else 3)
        n, total, total_sq = n + arr.shape[0], total + arr.sum(0), total_sq + (arr ** 2).sum(0)
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean ** 2, 0.0)).clip(1e-3)
    return mode, tuple(float(v) for v in mean), tuple(float(v) for v in std)


def source_images(name_or_folder: str | os.PathLike, split: str) -> ImageSource:
    """A split as PIL images (see the module docstring): the digits at 8x8, or an image folder's files.

    Digits: bilinear, no crop, the training mean/std. Image folders: bilinear, OFA's crop of
    0.875, the training split's per-channel mean/std (computed once over its images).
    """
    if str(name_or_folder) == "fashion-mnist":
        return _fmnist_source(_check_split(split, FMNIST_SPLITS))
    _check_split(split, SPLITS)
    if str(name_or_folder) == "digits":
        return _digits_source(split)
    root = Path(name_or_folder).expanduser().resolve()
    classes, files, labels = _folder_files(root, split)
    mode, mean, std = _folder_stats(root)
    return ImageSource(f"imagefolder:{root.name}", tuple(classes), 1 if mode == "L" else 3, mean, std, "bilinear",
                       0.875, tuple(labels), lambda i: _open_image(files[i], mode))


def _check_split(split: str, allowed: tuple[str, ...]) -> str:
    if split not in allowed:
        raise DatasetError(f"unknown split {split!r}; use one of {allowed}")
    return split


def get_dataset(name_or_folder: str | os.PathLike, split: str, resolution: int) -> Dataset:
    """A dataset split at ``resolution`` (see the module docstring)."""
    if not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise DatasetError(f"resolution must be a positive integer, got {resolution!r}")
    if str(name_or_folder) == "fashion-mnist":
        return _fashion_mnist(_check_split(split, FMNIST_SPLITS), int(resolution))
    _check_split(split, SPLITS)
    if str(name_or_folder) == "digits":
        return _digits(split, int(resolution))
    return _image_folder(Path(name_or_folder).expanduser(), split, int(resolution))


def check_resolution(space, resolution: int) -> None:
    """Refuse a resolution the space does not search (its supernet was not trained there)."""
    if resolution not in space.resolutions:
        raise DatasetError(f"resolution {resolution} is not in space {space.name!r} "
                           f"(allowed: {list(space.resolutions)})")


def check_fits(space, ds: Dataset) -> None:
    """Refuse a dataset whose images the space's stem cannot take (channel count)."""
    if ds.in_chans != space.in_chans:
        raise DatasetError(f"dataset {ds.dataset_id!r} has {ds.in_chans}-channel images but space {space.name!r} "
                           f"takes {space.in_chans}; use a space with in_chans={ds.in_chans} (--space FILE.json)")
