"""The packaging stage: fronts → timm model folders with cards, ONNX and TensorRT exports.

``package_front(front_dir, out_dir, ...)`` (also ``ofa2 package``) writes a package folder
(see :mod:`ofa2_zoo.package.manifest` for its layout). Imported lazily: ``import ofa2_zoo``
only needs the small manifest reader for the model registry.
"""

from __future__ import annotations

import importlib

from .errors import PackageError, ParityError
from .manifest import PACKAGE_FORMAT, PackageManifest, read_manifest, timm_name

__all__ = ["package_front", "PackageResult", "PackageOptions", "PackageError", "ParityError", "PackageManifest",
           "read_manifest", "timm_name", "PACKAGE_FORMAT"]

_LAZY = {"package_front": ".package", "PackageResult": ".package", "PackageOptions": ".package"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
