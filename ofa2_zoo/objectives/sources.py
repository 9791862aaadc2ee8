"""Which accuracy sources exist, which search space each one scores, which official files it reads.

This is the light half of the accuracy registry (no torch): a hardware profile names its
accuracy source (``accuracy: ofa_mbv3_w1.2``) and loading the profile checks the pairing
(space, source) here, and ``ofa2 profile list`` / ``ofa2 assets list`` say what a profile
needs, without loading any model. :mod:`.accuracy` holds the factories that build the sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AccuracySourceError


@dataclass(frozen=True)
class AccuracySourceInfo:
    """What is known about an accuracy source before it is loaded."""

    name: str
    space: str | None  # the registered space it scores (None: not declared, checked when loaded)
    assets: tuple[str, ...] = ()  # official files it reads (names in ofa2_zoo.assets.OFFICIAL_FILES)
    description: str = ""


_INFO: dict[str, AccuracySourceInfo] = {}
_ALIASES: dict[str, str] = {}


def declare_accuracy_source(info: AccuracySourceInfo, *aliases: str) -> AccuracySourceInfo:
    """Record ``info`` (and alias names for it); declaring a name again replaces it."""
    _INFO[info.name] = info
    for alias in aliases:
        _ALIASES[alias] = info.name
    return info


def accuracy_source_info(name: str) -> AccuracySourceInfo:
    """The declared facts of the source ``name`` (an alias resolves to its source)."""
    key = _ALIASES.get(name, name)
    if key not in _INFO:
        raise AccuracySourceError(f"unknown accuracy source {name!r}; known: {', '.join(declared_sources())}")
    return _INFO[key]


def declared_sources() -> list[str]:
    return sorted(_INFO)


def sources_for_space(space: str) -> list[str]:
    """Names of the declared sources that score ``space``."""
    return sorted(n for n, info in _INFO.items() if info.space == space)


declare_accuracy_source(AccuracySourceInfo(
    "ofa_mbv3_w1.2", "ofa_mbv3_w1.2", ("acc_predictor.pth",),
    "OFA's ImageNet top-1 predictor (MLP over kernel/expand/resolution one-hots)"), "ofa_mbv3_d234_e346_k357_w1.2")
declare_accuracy_source(AccuracySourceInfo(
    "ofa2_digits", "ofa2_digits", (), "predictor fitted on measured accuracies of the embedded digits supernet "
                                      "(ships in the wheel)"))
declare_accuracy_source(AccuracySourceInfo(
    "ofa2_fmnist", "ofa2_fmnist", (), "predictor fitted on measured validation accuracies of the Fashion-MNIST "
                                      "supernet (ships in the wheel)"))
