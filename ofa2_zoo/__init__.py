"""ofa2-zoo: Pareto fronts of ready-trained Once-for-All sub-networks as timm models.

``import ofa2_zoo`` registers the generic timm architecture ``ofa2_subnet``, the embedded
default search space and every front listed in the shipped zoo index
(``ofa2_<profile>_front_<k>``), so ``timm.create_model`` finds them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .errors import ArchError, AssetError, CheckpointError, Ofa2Error, SpaceError  # noqa: E402
from .objectives.efficiency import count_macs, count_params, efficiency_model  # noqa: E402
from .space import ArchSpec, SearchSpace, get_space, list_spaces, register_space  # noqa: E402
from .supernet import ElasticMobileNetV3, create_subnet, load_supernet, recalibrate_bn, save_supernet  # noqa: E402

# Public names that live in later pipeline stages; imported on first use.
_LAZY = {
    "load_profile": "ofa2_zoo.profiles",
    "HardwareProfile": "ofa2_zoo.profiles",
    "load_accuracy_predictor": "ofa2_zoo.objectives.accuracy",
    "search": "ofa2_zoo.search",
    "Front": "ofa2_zoo.front",
    "package_front": "ofa2_zoo.package",
    "publish": "ofa2_zoo.publish",
    "register_front": "ofa2_zoo.registry",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ofa2_zoo' has no attribute {name!r}")


def _import_if_present(module: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise


# Side effects timm users rely on: the embedded space and the zoo's model names.
_import_if_present("ofa2_zoo.embedded")
_import_if_present("ofa2_zoo.objectives.fitted")  # registers the embedded accuracy predictor
_import_if_present("ofa2_zoo.registry")
