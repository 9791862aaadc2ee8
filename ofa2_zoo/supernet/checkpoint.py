"""Reading and writing supernet weights.

Two formats:

- the official OFA checkpoints (``ofa_mbv3_d234_e346_k357_w1.0`` / ``_w1.2``): a torch file
  holding a dict with the weights under ``state_dict``. Loaded with
  ``torch.load(weights_only=True)``, so a pickle that would run code is refused. Both key
  spellings are accepted (``mobile_inverted_conv`` and ``conv``; ``.bn.bn.``/``.conv.conv.``/
  ``.linear.linear.`` nested or not).
- our own safetensors file: the supernet's ``state_dict`` plus metadata naming the format and
  carrying the full search-space definition, so a file cannot be loaded into the wrong space.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .._io import atomic_path, canonical_json
from ..errors import CheckpointError
from ..space import SearchSpace
from .elastic import ElasticMobileNetV3

FORMAT = "ofa2-supernet/1"
_NESTED = re.compile(r"\.(bn|conv|linear)\.\1\.")


def _normal_key(key: str) -> str:
    """Spelling-independent form of a state-dict key."""
    key = key.replace(".mobile_inverted_conv.", ".conv.")
    while True:
        new = _NESTED.sub(r".\1.", key)
        if new == key:
            return key
        key = new


def read_official_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of an official OFA checkpoint file, read without running code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: refused to load: the file holds objects other than tensors and plain "
                              f"containers, which could run code ({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # noqa: BLE001 - garbage makes the unpickler fail in any way (IndexError, KeyError, ...)
        raise CheckpointError(f"{path}: not a readable torch checkpoint (truncated or corrupt?): "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (or a dict with one under 'state_dict')")
    return dict(state)


def load_state_into(net: ElasticMobileNetV3, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy ``state`` (any accepted spelling) into ``net``; the first problem is an error."""
    ours = net.state_dict()
    by_normal = {_normal_key(k): k for k in ours}
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        target = key if key in ours else by_normal.get(_normal_key(key))
        if target is None:
            raise CheckpointError(f"{source}: unexpected key {key!r} (not part of a {net.space.name} supernet)")
        if tuple(value.shape) != tuple(ours[target].shape):
            raise CheckpointError(f"{source}: shape mismatch for {key!r}: file has {tuple(value.shape)}, "
                                  f"{net.space.name} expects {tuple(ours[target].shape)}")
        mapped[target] = value
    missing = [k for k in ours if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(f"{source}: missing key {missing[0]!r}"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    with torch.no_grad():
        for k, v in mapped.items():
            ours[k].copy_(v)


def save_supernet(net: ElasticMobileNetV3, path: str | os.PathLike, extra_metadata: Mapping[str, str] | None = None,
                  dtype: torch.dtype | None = None) -> None:
    """Write ``net``'s weights as safetensors (atomically), with its space in the metadata.

    ``dtype`` (e.g. ``torch.float16``) stores the floating-point tensors in that type (rounded to
    nearest); loading casts them back to the network's float32.
    """
    meta = {"format": FORMAT, "space": canonical_json(net.space.to_dict()),
            "num_classes": str(net.num_classes), **(extra_metadata or {})}
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().contiguous().cpu()
             for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)


def read_supernet_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], SearchSpace | None, dict[str, str]]:
    """Weights, search space (if recorded) and metadata of a supernet safetensors file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {exc}") from None
    space = None
    if "space" in meta:
        try:
            space = SearchSpace.from_dict(json.loads(meta["space"]))
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: invalid search space in metadata: {exc}") from None
    return state, space, meta
