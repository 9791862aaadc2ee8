"""Fixtures for the packaging and registry tests: a tiny 1-channel space, a profile for it,
a front.json written by the test (contract 3), and real digit images (scikit-learn's digits).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ofa2_zoo import SearchSpace, load_supernet, register_space
from ofa2_zoo.front import Front, FrontMember
from ofa2_zoo.objectives.efficiency import efficiency_model

PROFILE_ID = "tiny-test"
TINY = register_space(SearchSpace(
    name="ofa2_test_tiny", stem_width=8, first_block_width=8, stage_widths=(16, 24), final_expand_width=32,
    feature_mix_width=48, stage_strides=(2, 2), stage_acts=("relu", "h_swish"), stage_se=(False, True),
    depth_choices=(1, 2), resolutions=(12, 16), in_chans=1, num_classes=10, dropout=0.0,
    description="tiny test space"))

PROFILE_YAML = f"""id: {PROFILE_ID}
device_class: cpu
description: test profile, onnxruntime CPU batch 1
supernet: {TINY.name}
resolutions: [12, 16]
objectives: [latency_ms, top1]
latency:
  source: measure
measurement:
  backend: onnxruntime
  batch_size: 1
  threads: 1
  warmup: 2
  repeats: 5
export: [onnx]
package:
  members: 3
hub:
  repo_prefix: ofa2-{PROFILE_ID}
"""


def write_profile(folder: Path, text: str = PROFILE_YAML) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PROFILE_ID}.yaml"
    path.write_text(text)
    return path


class DigitsSplit(TensorDataset):
    """scikit-learn's 8x8 digits (real images), resized to ``r``; 1,400 train / 397 val."""

    meta = {"name": "digits", "dataset_id": "sklearn-digits", "mean": (0.3,), "std": (0.4,), "in_chans": 1,
            "class_names": [str(i) for i in range(10)]}


def digits(split: str, resolution: int) -> DigitsSplit:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    x = (x - 0.3) / 0.4
    y = torch.tensor(d.target)
    sl = slice(0, 1400) if split == "train" else slice(1400, None)
    return DigitsSplit(x[sl], y[sl])


def tiny_supernet(seed: int = 0):
    torch.manual_seed(seed)
    return load_supernet(TINY)


#: which machine gave the made-up fronts' latencies (front.json's profile.latency_by; issue 26)
LATENCY_BY = "measured network by network on the machine that ran the search"


def write_front(folder: Path, n: int = 4, seed: int = 0, space: SearchSpace = TINY,
                profile_id: str = PROFILE_ID, top1_step: float = 10.0) -> Path:
    """A front.json of ``n`` distinct random archs with made-up, monotone objective values
    (top-1 from 50 % in steps of ``top1_step``: keep ``50 + (n - 1) * top1_step <= 100``)."""
    genes = np.unique(space.sample_genes(4 * n, seed), axis=0)[:n]
    archs = space.genes_to_archs(genes)
    em = efficiency_model(space)
    macs = em.macs_genes(genes) / 1e6
    order = np.argsort(macs, kind="stable")
    members = [FrontMember(archs[i], {"latency_ms": 0.1 + 0.05 * j, "top1": 50.0 + top1_step * j,
                                      "macs_m": float(macs[i]), "params_m": float(em.params_genes(genes[i:i + 1])[0] / 1e6)})
               for j, i in enumerate(order)]
    meta = {"latency_ms": {"unit": "ms", "source": "measured", "direction": "min"},
            "top1": {"unit": "%", "source": "predicted", "direction": "max"},
            "macs_m": {"unit": "M", "source": "analytic", "direction": "min"},
            "params_m": {"unit": "M", "source": "analytic", "direction": "min"}}
    front = Front(members=members, space=space, profile={"id": profile_id, "sha256": None, "lut_sha256": None,
                                                         "latency_by": LATENCY_BY, "latency_calibration": None},
                  supernet={"id": space.name, "sha256": None}, accuracy={"id": "test-predictor", "sha256": None,
                                                                         "source": "predicted"},
                  objective_meta=meta, hypervolume=0.5, reference_point={"latency_ms": 1.0, "top1": 0.0},
                  algorithm={"name": "nsga2", "objectives": ["latency_ms", "top1"]}, seed=seed, evaluations=100)
    folder.mkdir(parents=True, exist_ok=True)
    front.save(folder)
    return folder


def with_space(space: SearchSpace, **changes) -> SearchSpace:
    return dataclasses.replace(space, **changes)


def tiny_package(folder: Path, members: int = 2) -> Path:
    """A real package (``package_front``) of a 3-member tiny front with ``members`` members, in ``folder/pkg``."""
    from ofa2_zoo.package import package_front

    profile = write_profile(folder / "profiles")
    write_front(folder / "front", n=3)
    return package_front(folder / "front", folder / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                         members=members).path
