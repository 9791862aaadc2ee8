"""The original OFA implementation (PyPI package ``ofa``) as a test oracle.

Every test that compares with it gets the oracle through :func:`require_oracle`: where ``ofa``
is missing the test is skipped with one message, except in CI (``CI=true``), where it fails
(:func:`_ci.missing`).
"""

import importlib

import torch

from _ci import missing

ORACLE_MISSING = "the `ofa` package (test oracle) is not installed: pip install -e '.[dev]'"


def require_oracle(module: str = "ofa"):
    """Import ``module`` from the ``ofa`` package; skip (locally) or fail (in CI) without it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    missing(ORACLE_MISSING)  # outside the except block: one message, no chained ImportError


ofa_networks = require_oracle("ofa.imagenet_classification.elastic_nn.networks")


def ofa_supernet(width: float, num_classes: int = 1000):
    return ofa_networks.OFAMobileNetV3(n_classes=num_classes, dropout_rate=0, width_mult=width,
                                       ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])


@torch.no_grad()
def randomise(net: torch.nn.Module, seed: int = 0) -> None:
    """Random values for every float tensor, BN statistics and kernel-transform matrices
    included, so that no part of the computation can hide behind an identity init."""
    g = torch.Generator().manual_seed(seed)
    for name, t in net.state_dict().items():
        if not t.dtype.is_floating_point:
            continue
        if name.endswith("running_var"):
            t.copy_(torch.rand(t.shape, generator=g) + 0.5)
        elif name.endswith("_matrix"):
            t.copy_(torch.eye(t.shape[0]) + 0.2 * torch.randn(t.shape, generator=g))
        else:
            t.copy_(torch.randn(t.shape, generator=g) * 0.2)


def set_ofa_active(net, arch) -> None:
    net.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))


def ofa_tutorial_module(name: str):
    """Load ``ofa/tutorial/<name>.py`` by path: the package's __init__ imports `gdown` and
    downloads, which tests must not need."""
    import importlib.util
    from pathlib import Path

    ofa = require_oracle("ofa")
    path = Path(ofa.__file__).parent / "tutorial" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_ofa_tutorial_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
