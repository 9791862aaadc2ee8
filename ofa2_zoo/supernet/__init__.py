"""The supernet stage: elastic network, checkpoint import, extraction, BN re-calibration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .._io import sha256_file
from ..assets import OFFICIAL_CHECKPOINTS, resolve_asset
from ..errors import CheckpointError
from ..space import SearchSpace, resolve_space
from .calibrate import recalibrate_bn
from .checkpoint import _normal_key, load_state_into, read_official_checkpoint, read_supernet_file, save_supernet
from .elastic import ElasticMobileNetV3
from .extract import extract_subnet
from .subnet import create_subnet

__all__ = ["ElasticMobileNetV3", "extract_subnet", "load_supernet", "save_supernet", "recalibrate_bn", "create_subnet",
           "official_checkpoint_name"]


def official_checkpoint_name(space: SearchSpace) -> str:
    if space.name not in OFFICIAL_CHECKPOINTS:
        raise CheckpointError(f"there are no official weights for space {space.name!r} "
                              f"(official: {', '.join(OFFICIAL_CHECKPOINTS)})")
    return OFFICIAL_CHECKPOINTS[space.name]


def load_supernet(name: str | SearchSpace | Mapping[str, Any] | None = None,
                  weights: str | os.PathLike | None = None, *, assets: str | os.PathLike | None = None,
                  num_classes: int | None = None) -> ElasticMobileNetV3:
    """Build a supernet and load its weights.

    ``name``: a registered space (``ofa_mbv3_w1.0``, ``ofa_mbv3_w1.2``, ``ofa2_digits`` ...), a
    space dict or object. ``weights``: ``None`` for OFA's random initialisation; ``"official"``
    for OFA's ImageNet checkpoint (downloaded with its sha256 checked, or found in ``assets``);
    ``"embedded"`` for the weights shipped with ofa2-zoo; or a path to an official torch file or
    to one of our safetensors files. The result carries ``weights_id`` and ``weights_sha256``
    for provenance.
    """
    space = resolve_space(name)
    path: Path | None = None
    if weights is None:
        net = ElasticMobileNetV3(space, num_classes=num_classes)
        net.weights_id, net.weights_sha256 = "random-init", None
        return net
    if weights == "official":
        path = resolve_asset(official_checkpoint_name(space), assets)
    elif weights == "embedded":
        from ..catalog import embedded_weights_path

        path = embedded_weights_path(space.name)
    else:
        path = Path(weights).expanduser()
    if path.suffix == ".safetensors":
        state, file_space, meta = read_supernet_file(path)
        if file_space is not None and _shape_defining(file_space) != _shape_defining(space):
            raise CheckpointError(f"{path} holds a supernet of space {file_space.name!r}, not {space.name!r}")
        if num_classes is None and "num_classes" in meta:
            num_classes = int(meta["num_classes"])
    else:
        state = read_official_checkpoint(path)
    classifier = [v for k, v in state.items() if _normal_key(k) == "classifier.linear.weight"]
    if num_classes is None and classifier:
        num_classes = int(classifier[0].shape[0])
    net = ElasticMobileNetV3(space, num_classes=num_classes)
    load_state_into(net, state, source=str(path))
    net.weights_id = path.name
    net.weights_sha256 = sha256_file(path)
    return net


def _shape_defining(space: SearchSpace) -> dict[str, Any]:
    """The fields that decide tensor shapes (not name, resolutions or description)."""
    d = space.to_dict()
    for k in ("name", "resolutions", "description", "num_classes", "dropout"):
        d.pop(k)
    return d
