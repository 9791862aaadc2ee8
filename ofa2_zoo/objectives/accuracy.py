"""Accuracy objectives: OFA's accuracy predictor and a registry of accuracy sources.

OFA's predictor (``acc_predictor.pth``) is an MLP ``128 → 400 → 400 → 400 → 1`` over a
one-hot encoding: kernel size per block (20 × {3,5,7}), expand ratio per block
(20 × {3,4,6}), both all-zero for skipped blocks, and the resolution in 8 slots
``(r - 112) // 16``. It outputs ImageNet top-1 as a fraction; we report %.

The encoding is built for a whole gene matrix with array indexing (no loop over archs), and
the MLP runs in numpy on fixed blocks of rows (:mod:`.mlp`): every arch's prediction is
bit-identical whatever batch it arrives in (caches, executors and chunking never change a
result). The official file is a torch pickle read with ``weights_only=True`` once per machine;
a safetensors copy in the cache, keyed by its sha256, serves every later process without torch.

Other accuracy sources (a fitted predictor shipped with a supernet, measured accuracy) plug
in through :func:`register_accuracy_source`: a factory called as
``factory(assets=..., space=...)`` that returns an :class:`~.base.AccuracySource`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .._io import atomic_path, sha256_file
from ..assets import resolve_asset
from ..catalog import EMBEDDED, cache_dir, embedded
from ..errors import CheckpointError, Ofa2Error
from ..space import SearchSpace, get_space
from .base import AccuracySource, Provenance
from .mlp import BlockMLP, as_float32
from .sources import AccuracySourceError, AccuracySourceInfo, accuracy_source_info, declare_accuracy_source

AccuracyFactory = Callable[..., AccuracySource]
_FACTORIES: dict[str, AccuracyFactory] = {}


def register_accuracy_source(name: str, factory: AccuracyFactory, *, space: str | None = None,
                             assets: tuple[str, ...] = ()) -> None:
    """Make ``load_accuracy_predictor(name, assets=..., space=...)`` call ``factory``.

    ``factory(assets=None, space=None)`` returns an :class:`AccuracySource`; ``space`` is the
    (possibly resolution-restricted) space the caller searches, ``None`` for the source's own.
    Registering a name again replaces the earlier factory. ``space`` (the registered space the
    source scores) and ``assets`` (official files it reads) are declared in :mod:`.sources`, so
    a profile naming this source is checked when it loads; already declared facts are kept.
    """
    if not callable(factory):
        raise TypeError("factory must be callable")
    _FACTORIES[name] = factory
    try:
        known = accuracy_source_info(name)
    except AccuracySourceError:
        known = None
    if space is not None or known is None:
        declare_accuracy_source(AccuracySourceInfo(name, space, tuple(assets)))


def list_accuracy_sources() -> list[str]:
    return sorted(_FACTORIES)


def load_accuracy_predictor(name: str, assets: str | os.PathLike | None = None, **kwargs) -> AccuracySource:
    """An accuracy source by name: ``ofa_mbv3_w1.2`` (OFA's predictor), ``ofa2_digits`` ...

    ``assets`` is a folder with the official files (see :func:`ofa2_zoo.assets.resolve_asset`);
    keyword arguments (``space=``) go to the source's factory.
    """
    if name not in _FACTORIES:
        raise AccuracySourceError(f"no accuracy predictor for {name!r}; known: {', '.join(list_accuracy_sources())}")
    return _FACTORIES[name](assets=assets, **kwargs)


#: Format tag of the converted copies of OFA's predictor in the cache.
CONVERTED_FORMAT = "ofa2-converted-acc-predictor/1"


def converted_predictor_path(sha256: str) -> Path:
    """Where the safetensors copy of an ``acc_predictor.pth`` with this sha256 is cached."""
    return cache_dir() / "converted" / f"acc_predictor-{sha256}.safetensors"


@lru_cache(maxsize=4)
def _ofa_predictor_state(path: str, sha256: str) -> dict[str, np.ndarray]:
    """The float32 state dict of OFA's ``acc_predictor.pth`` (``path``, whose sha256 is given).

    Read once per process (memoised on path and sha256), and once per machine with torch: the
    first read (``torch.load(weights_only=True)``) leaves a safetensors copy in the cache
    (:func:`converted_predictor_path`, keyed by the file's sha256), which later processes read
    with safetensors' numpy API, without importing torch. A cache copy that cannot be read or
    names another source file is converted again; a cache that cannot be written is skipped.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import save_file

    cached = converted_predictor_path(sha256)
    if cached.is_file():
        try:
            with safe_open(str(cached), framework="numpy") as f:
                if (f.metadata() or {}) == {"format": CONVERTED_FORMAT, "source_sha256": sha256}:
                    return {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError):
            pass  # a damaged copy: convert again below
    import torch  # only for the first read of the official file

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"a {type(state).__name__}, not a state dict")
    arrays = {str(k): as_float32(v) for k, v in state.items()}
    try:
        with atomic_path(cached) as tmp:
            save_file(arrays, str(tmp), metadata={"format": CONVERTED_FORMAT, "source_sha256": sha256})
    except (OSError, Ofa2Error):
        pass  # a read-only cache: the next process converts again
    return arrays


class OFAAccuracyPredictor(AccuracySource):
    """OFA's ImageNet top-1 predictor for the ``ofa_mbv3_w1.2`` space (or a resolution subset)."""

    N_RES_SLOTS = 8
    LAYERS = [128, 400, 400, 400, 1]
    RES_BASE, RES_STEP = 112, 16

    def __init__(self, path: str | os.PathLike, space: SearchSpace | None = None):
        self.space = space or get_space("ofa_mbv3_w1.2")
        s = self.space
        if (s.n_blocks, s.ks_choices, s.expand_choices, s.depth_choices) != (20, (3, 5, 7), (3, 4, 6), (2, 3, 4)):
            raise AccuracySourceError(f"OFA's predictor does not cover space {s.name!r} "
                                      "(it needs 20 blocks, kernels {3,5,7}, expands {3,4,6}, depths {2,3,4})")
        slots = (np.asarray(s.resolutions) - self.RES_BASE) // self.RES_STEP
        if slots.min() < 0 or slots.max() >= self.N_RES_SLOTS:
            raise AccuracySourceError(f"OFA's predictor covers resolutions 112..239; space {s.name!r} allows "
                                      f"{min(s.resolutions)}..{max(s.resolutions)}")
        self._res_slot = 120 + slots  # feature column per resolution index
        try:
            sha = sha256_file(path)
            self.mlp = BlockMLP.from_state_dict(_ofa_predictor_state(str(Path(path).resolve()), sha))
            if self.mlp.sizes != self.LAYERS:
                raise ValueError(f"layer sizes {self.mlp.sizes}, expected {self.LAYERS}")
        except Exception as exc:  # corrupt file, pickled code, wrong keys: all refused the same way
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path}: not OFA's accuracy predictor state dict: {msg}") from None
        self.provenance = Provenance("ofa-acc-predictor-mbv3-w1.2", sha, "predicted")

    def encode(self, genes: np.ndarray) -> np.ndarray:
        """The ``(N, 128)`` float32 one-hot features of an ``(N, 46)`` gene matrix."""
        v = self.space.decode(genes)
        n, nb = v["ks_idx"].shape
        feats = np.zeros((n, 128), dtype=np.float32)
        rows, base = np.arange(n)[:, None], np.arange(nb) * 3
        # each (arch, block) owns its own 3 columns, so writing the active flag (0 for a skipped
        # block) sets exactly the one-hot bits, without compacting index arrays first
        on = v["active"].astype(np.float32)
        feats[rows, base + v["ks_idx"]] = on
        feats[rows, 60 + base + v["e_idx"]] = on
        feats[np.arange(n), self._res_slot[v["r_idx"]]] = 1
        return feats

    def predict_genes(self, genes: np.ndarray) -> np.ndarray:
        if len(genes) == 0:
            return np.zeros(0)
        return self.mlp(self.encode(genes))[:, 0].astype(np.float64) * 100.0


def _ofa_predictor(assets: str | os.PathLike | None = None, space: SearchSpace | None = None) -> OFAAccuracyPredictor:
    return OFAAccuracyPredictor(resolve_asset("acc_predictor.pth", assets), space)


register_accuracy_source("ofa_mbv3_w1.2", _ofa_predictor)
register_accuracy_source("ofa_mbv3_d234_e346_k357_w1.2", _ofa_predictor)


def _embedded_predictor(space_name: str) -> AccuracyFactory:
    def load(assets: str | os.PathLike | None = None, space: SearchSpace | None = None) -> AccuracySource:
        """The shipped fitted predictor (``assets`` is not needed: it ships in the wheel)."""
        from .fitted import FittedPredictor

        return FittedPredictor.load(embedded(space_name).predictor_prefix, space)

    return load


# The fitted predictors of the supernets shipped in the wheel (``ofa2_digits``, ``ofa2_fmnist``).
for _name in EMBEDDED:
    register_accuracy_source(_name, _embedded_predictor(_name))
