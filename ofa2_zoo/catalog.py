"""What ships inside ofa2-zoo and where outside data lives: one catalog at the bottom of the stack.

Every stage that needs a shipped file (an embedded supernet's weights, its fitted accuracy
predictor, its training report) or a dataset's location asks this module, which imports
nothing of the package but :mod:`ofa2_zoo.errors`. So ``supernet`` and ``objectives`` find the
embedded weights and predictors without importing the module that defines the embedded spaces,
and the stages keep importing only stages to their left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .constants import cache_dir  # ``$OFA2_CACHE``, else ~/.cache/ofa2_zoo (re-exported for the stages)
from .errors import DatasetError, Ofa2Error

DATA_DIR = Path(__file__).resolve().parent / "data"
EMBEDDED_DIR = DATA_DIR / "embedded"


def data_cache_dir() -> Path:
    """Where ``ofa2 data fetch`` puts datasets (``<cache>/datasets/<name>``)."""
    return cache_dir() / "datasets"


@dataclass(frozen=True)
class EmbeddedSupernet:
    """A supernet trained by this project and shipped in the wheel, with its fitted predictor."""

    space: str  # registered space name
    weights: str  # file name under EMBEDDED_DIR
    predictor: str  # prefix under EMBEDDED_DIR (``.safetensors`` + ``.json``)
    dataset: str  # dataset name it was trained on (BN re-calibration, measured accuracy)
    report: str  # training report (configuration and per-phase metrics)

    @property
    def weights_path(self) -> Path:
        return EMBEDDED_DIR / self.weights

    @property
    def predictor_prefix(self) -> Path:
        return EMBEDDED_DIR / self.predictor

    @property
    def report_path(self) -> Path:
        return EMBEDDED_DIR / self.report


EMBEDDED: dict[str, EmbeddedSupernet] = {
    "ofa2_digits": EmbeddedSupernet("ofa2_digits", "ofa2_digits.safetensors", "ofa2_digits_predictor", "digits",
                                    "training_report.json"),
    "ofa2_fmnist": EmbeddedSupernet("ofa2_fmnist", "ofa2_fmnist.safetensors", "ofa2_fmnist_predictor",
                                    "fashion-mnist", "ofa2_fmnist_training_report.json"),
}


def embedded(space_name: str) -> EmbeddedSupernet:
    """The catalog entry of an embedded supernet (a clear error for other spaces)."""
    if space_name not in EMBEDDED:
        raise Ofa2Error(f"no embedded weights for space {space_name!r}; embedded: {', '.join(EMBEDDED)}")
    return EMBEDDED[space_name]


def embedded_weights_path(space_name: str) -> Path:
    """The shipped supernet weights (safetensors) of an embedded space."""
    entry = embedded(space_name)
    if not entry.weights_path.is_file():
        raise Ofa2Error(f"the embedded weights {entry.weights_path} are missing; rebuild them with "
                        f"`ofa2 train-supernet {entry.dataset} --out {EMBEDDED_DIR}`")
    return entry.weights_path


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset read from files outside the package: where they are and how they are pinned."""

    name: str
    files: tuple[str, ...]  # file names without .gz
    sha256: dict[str, str]  # of the uncompressed bytes
    url: str  # base URL of the .gz downloads
    debian_package: str
    debian_folder: str
    classes: tuple[str, ...]
    val_per_class: int
    split_seed: int
    license: str


FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    files=("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    debian_package="dataset-fashion-mnist",
    debian_folder="/usr/share/datasets/fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"),
    val_per_class=600,
    split_seed=0,
    license="MIT",
)

DATASETS: dict[str, DatasetInfo] = {FASHION_MNIST.name: FASHION_MNIST}
# Names `ofa2 train-supernet` and the packaging data accept besides an image folder.
BUILTIN_DATASETS = ("fashion-mnist", "digits")


def check_dataset_folder(root: Path) -> None:
    """Refuse a dataset folder that does not exist, naming the built-in datasets (light: no torch)."""
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist (built-in datasets: {', '.join(BUILTIN_DATASETS)})")
