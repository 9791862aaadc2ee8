"""The embedded default: a small OFA supernet really trained on real images, shipped in the wheel.

The official ImageNet supernets cannot be bundled, and a zoo of untrained networks is useless,
so ofa2-zoo ships its own: an OFA MobileNetV3 supernet over the space ``ofa2_digits``, trained
with progressive shrinking on scikit-learn's handwritten digits (``ofa2 train-supernet
digits``), with a fitted accuracy predictor. Resolution is a searched dimension down to 4×4
pixels, and widths are narrow, so accuracy really varies across the space (the smallest
networks see a 4×4 thumbnail of an 8×8 digit).
"""

from __future__ import annotations

from pathlib import Path

from .errors import Ofa2Error
from .space import SearchSpace, register_space

DIGITS_SPACE = register_space(SearchSpace(
    name="ofa2_digits",
    stem_width=8, first_block_width=8,
    stage_widths=(16, 24, 40), stage_strides=(2, 1, 2),
    stage_acts=("relu", "h_swish", "h_swish"), stage_se=(False, True, True),
    final_expand_width=96, feature_mix_width=160,
    ks_choices=(3, 5), expand_choices=(2, 3, 4), depth_choices=(1, 2, 3),
    resolutions=(4, 6, 8, 12, 16),
    stem_stride=1, in_chans=1, num_classes=10, dropout=0.1,
    description="embedded default: OFA MobileNetV3-style supernet for 1-channel digit images, 4-16 px",
))

DATA_DIR = Path(__file__).resolve().parent / "data" / "embedded"
_EMBEDDED = {"ofa2_digits": {"weights": "ofa2_digits.safetensors", "predictor": "ofa2_digits_predictor",
                             "dataset": "digits"}}


def _entry(space_name: str) -> dict:
    if space_name not in _EMBEDDED:
        raise Ofa2Error(f"no embedded weights for space {space_name!r}; embedded: {', '.join(_EMBEDDED)}")
    return _EMBEDDED[space_name]


def embedded_weights_path(space_name: str) -> Path:
    """The shipped supernet weights (safetensors) of an embedded space."""
    path = DATA_DIR / _entry(space_name)["weights"]
    if not path.is_file():
        raise Ofa2Error(f"the embedded weights {path} are missing; rebuild them with "
                        "`ofa2 train-supernet digits --out ofa2_zoo/data/embedded`")
    return path


def embedded_predictor_path(space_name: str) -> Path:
    """Prefix of the shipped fitted predictor files (``.safetensors`` + ``.json``)."""
    return DATA_DIR / _entry(space_name)["predictor"]


def embedded_dataset(space_name: str) -> str:
    """The dataset the embedded supernet was trained on (for BN re-calibration and accuracy)."""
    return _entry(space_name)["dataset"]


def _predictor_factory(space_name: str):
    def load(assets=None, space: SearchSpace | None = None):
        """The shipped fitted predictor (``assets`` is not needed: it ships in the wheel)."""
        from .objectives.fitted import FittedPredictor

        return FittedPredictor.load(embedded_predictor_path(space_name), space)

    return load


def _register_predictors() -> None:
    """``load_accuracy_predictor("ofa2_digits")`` returns the shipped fitted predictor."""
    from .objectives.accuracy import register_accuracy_source

    for name in _EMBEDDED:
        register_accuracy_source(name, _predictor_factory(name))


_register_predictors()
