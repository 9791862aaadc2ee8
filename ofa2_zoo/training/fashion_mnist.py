"""Fashion-MNIST (Zalando, MIT): 70,000 real 28×28 grey clothing images in 10 classes.

Where the four IDX files are read from, first hit wins (:func:`data_folder`):

1. ``--data DIR`` (the ``folder`` argument),
2. ``$OFA2_DATA``,
3. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``),
4. the ofa2 cache (``$OFA2_CACHE/datasets/fashion-mnist``), where ``ofa2 data fetch
   fashion-mnist`` downloads them.

Files may be gzipped (``*.gz``, as distributed) or not. Each is pinned by the sha256 of its
*uncompressed* bytes, so Debian's re-compressed copies and the upstream downloads verify the
same way. A missing or corrupt file is one :class:`DatasetError` line that names the fixes.

Splits (fixed, documented in ``docs/training.md``):

- ``val``: 6,000 of the 60,000 official training images, 600 per class, drawn with a seeded
  permutation (seed 0). The search, the fitted predictor and every other choice use it;
- ``train``: the other 54,000 training images (supernet training, BN re-calibration);
- ``test``: the official 10,000 test images, used only for the numbers in the model cards.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import constants
from ..progress import ProgressFn
from ..catalog import FASHION_MNIST as INFO
from ..catalog import data_cache_dir
from ..errors import DatasetError

SPLITS = ("train", "val", "test")


def _fixes() -> str:
    return (f"fix: `apt-get install {INFO.debian_package}`, `ofa2 data fetch {INFO.name}`, or --data DIR "
            "(or $OFA2_DATA) naming a folder with the four IDX files")


def _candidates(folder: str | os.PathLike | None) -> list[tuple[str, Path]]:
    out = []
    if folder is not None:
        out.append(("--data", Path(folder).expanduser()))
    if constants.data_dir() is not None:
        out.append(("$OFA2_DATA", constants.data_dir()))
    out.append(("Debian's folder", Path(INFO.debian_folder)))
    out.append(("the ofa2 cache", data_cache_dir() / INFO.name))
    return out


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def data_folder(folder: str | os.PathLike | None = None) -> Path:
    """The folder the files are read from (see the module docstring for the order).

    A folder given explicitly (``folder`` or ``$OFA2_DATA``) must hold all four files: it is
    never silently passed over for a later one.
    """
    for where, path in _candidates(folder):
        present = [_file_in(path, stem) is not None for stem in INFO.files]
        if all(present):
            return path
        if where in ("--data", "$OFA2_DATA"):
            missing = [stem for stem, ok in zip(INFO.files, present) if not ok]
            raise DatasetError(f"{where} folder {path} lacks {', '.join(missing)} (or .gz); {_fixes()}")
    raise DatasetError(f"{INFO.name} is not installed (looked in {', '.join(str(p) for _, p in _candidates(None))}); "
                       f"{_fixes()}")


def _read_gz_part(part: Path, expected_sha256: str) -> np.ndarray:
    """A downloaded ``.gz.part`` file, checked like the file it becomes."""
    return read_idx(part, expected_sha256, gzipped=True)


def read_idx(path: Path, expected_sha256: str | None = None, gzipped: bool | None = None) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array; checked against its pinned uncompressed sha256."""
    gzipped = path.suffix == ".gz" if gzipped is None else gzipped
    try:
        raw = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path} cannot be read ({exc}); {_fixes()}") from None
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise DatasetError(f"{path} is corrupt (sha256 of its contents {actual[:16]}..., pinned "
                               f"{expected_sha256[:16]}...); {_fixes()}")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes; {_fixes()}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise DatasetError(f"{path} holds {len(raw) - header} bytes of data, its header says {dims}; {_fixes()}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=2)
def _arrays(folder: str) -> dict[str, np.ndarray]:
    root = Path(folder)
    out = {}
    for stem, key in zip(INFO.files, ("train_x", "train_y", "test_x", "test_y")):
        out[key] = read_idx(_file_in(root, stem), INFO.sha256[stem])
    return out


def val_indices(labels: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the validation images: ``INFO.val_per_class`` per class, seeded."""
    rng = np.random.default_rng(INFO.split_seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:INFO.val_per_class] for c in range(len(INFO.classes))]
    return np.sort(np.concatenate(picked))


def load_split(split: str, folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 28, 28), labels int64 (N,))`` of ``train``, ``val`` or ``test``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r} of {INFO.name}; use one of {SPLITS}")
    arrays = _arrays(str(data_folder(folder)))
    if split == "test":
        return arrays["test_x"], arrays["test_y"].astype(np.int64)
    x, y = arrays["train_x"], arrays["train_y"].astype(np.int64)
    val = val_indices(y)
    if split == "val":
        return x[val], y[val]
    keep = np.ones(len(y), dtype=bool)
    keep[val] = False
    return x[keep], y[keep]


def file_state(folder: Path, stem: str) -> str:
    """``present`` (verified), ``missing`` or ``corrupt`` for one of the four files in ``folder``."""
    path = _file_in(folder, stem)
    if path is None:
        return "missing"
    try:
        read_idx(path, INFO.sha256[stem])
    except DatasetError:
        return "corrupt"
    return "present"


def fetch(folder: str | os.PathLike | None = None, progress: ProgressFn | None = None, limits=None) -> Path:
    """Download the missing or corrupt files into ``folder`` (default: the ofa2 cache).

    Each ``<file>.gz`` is downloaded to ``<file>.gz.part`` (an interrupted download resumes from
    it), checked against its pinned sha256 (of the uncompressed bytes) and only then renamed into
    place: a failure leaves no file that :func:`data_folder` would read. ``progress(file, done,
    total)`` is called as bytes arrive. ``limits`` (:class:`ofa2_zoo.assets.DownloadLimits`,
    default: started now from the environment) bounds the time of all the files together; each
    file is capped at :data:`ofa2_zoo.assets.MAX_UNPINNED_BYTES` and refused when it or its
    ``.part`` is a symbolic link or a folder.
    """
    import http.client
    import urllib.error

    from .._io import check_out_dir
    from ..assets import DownloadError, DownloadLimits, refuse_unsafe_paths, fetch_url

    root = Path(folder).expanduser() if folder is not None else data_cache_dir() / INFO.name
    check_out_dir(root, "--data")
    root.mkdir(parents=True, exist_ok=True)
    limits = limits if limits is not None else DownloadLimits.start()
    for stem in INFO.files:
        if file_state(root, stem) == "present":
            continue
        target = root / f"{stem}.gz"
        part = root / f"{stem}.gz.part"
        url = INFO.url + target.name
        try:
            refuse_unsafe_paths(root, target, part)
            fetch_url(url, part, None, progress, limits, step=stem)
        except DownloadError as exc:
            raise DatasetError(str(exc)) from None
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            raise DatasetError(f"could not download {url} ({exc}); run `ofa2 data fetch {INFO.name}` again to "
                               f"resume, or `apt-get install {INFO.debian_package}`") from None
        try:
            _read_gz_part(part, INFO.sha256[stem])
        except DatasetError:
            part.unlink(missing_ok=True)
            raise DatasetError(f"the download of {url} does not match its pinned sha256 and was deleted "
                               "(a wrong mirror?)") from None
        os.replace(part, target)
    _arrays.cache_clear()
    return root
