"""ofa2-zoo: Pareto fronts of ready-trained Once-for-All sub-networks as timm models.

``import ofa2_zoo`` is cheap: it loads the error types and nothing else (no torch, no timm),
so the ``ofa2`` command starts instantly. The public names (``ArchSpec``, ``load_supernet``,
``search`` ...) are imported on first use (PEP 562).

The zoo's timm names (the generic architecture ``ofa2_subnet``, every front member listed in
the shipped zoo index, ``ofa2_<profile>_front_<k>``) are registered the moment timm is
imported: at once when timm is already imported, otherwise by a post-import hook on
``timm`` (:func:`._hooks.when_imported`). So ``import ofa2_zoo, timm`` followed by
``timm.create_model("ofa2_front_0", pretrained=True)`` works in either import order, and a
process that never imports timm never pays for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings

from ._hooks import when_imported
from .errors import ArchError, AssetError, CheckpointError, Ofa2Error, SpaceError

from ._version import __version__

# Public name -> module that defines it; imported on first attribute access.
_LAZY = {
    **dict.fromkeys(("count_macs", "count_params", "efficiency_model"), "ofa2_zoo.objectives.efficiency"),
    **dict.fromkeys(("ArchSpec", "SearchSpace", "get_space", "list_spaces", "register_space"), "ofa2_zoo.space"),
    **dict.fromkeys(("ElasticMobileNetV3", "create_subnet", "extract_subnet", "load_supernet", "recalibrate_bn", "save_supernet"),
                    "ofa2_zoo.supernet"),
    **dict.fromkeys(("load_profile", "HardwareProfile"), "ofa2_zoo.profiles"),
    "load_accuracy_predictor": "ofa2_zoo.objectives.accuracy",
    "search": "ofa2_zoo.search",
    "Front": "ofa2_zoo.front",
    "package_front": "ofa2_zoo.package",
    "publish": "ofa2_zoo.publish",
    "register_front": "ofa2_zoo.registry",
}

#: Public functions named like the stage that defines them (``ofa2_zoo.search(...)``,
#: ``ofa2_zoo.publish(...)``): the attribute stays the function when the import system binds the
#: loaded sub-package to this package (it does that for every submodule it loads).
_FUNCTION_NAMED_LIKE_ITS_STAGE = frozenset(n for n, module in _LAZY.items() if module == f"{__name__}.{n}")

__all__ = ["ArchError", "AssetError", "CheckpointError", "Ofa2Error", "SpaceError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, e.g. ofa2_zoo.embedded
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Facade(types.ModuleType):
    """This package's module type: keeps ``search`` and ``publish`` the functions (see
    :data:`_FUNCTION_NAMED_LIKE_ITS_STAGE`); the stages themselves are ``sys.modules`` entries."""

    def __setattr__(self, name: str, value) -> None:
        if (name in _FUNCTION_NAMED_LIKE_ITS_STAGE and isinstance(value, types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade


def _register_timm_names(timm_module) -> None:
    """Post-import hook of ``timm``: register ``ofa2_subnet`` and the zoo index's names.

    A failure warns instead of raising: a broken zoo must never make ``import timm`` fail.
    """
    try:
        # When an ofa2_zoo module's own import of timm fired this hook, that module is still
        # initialising; import_module then returns it as it is, and it finishes by itself.
        importlib.import_module("ofa2_zoo.supernet.subnet")  # ofa2_subnet
        importlib.import_module("ofa2_zoo.registry")  # the zoo index's names
    except Exception as exc:  # noqa: BLE001 - reported, and timm stays usable
        warnings.warn(f"ofa2-zoo could not register its timm model names: {type(exc).__name__}: {exc}",
                      RuntimeWarning, stacklevel=2)


when_imported("timm", _register_timm_names)
