"""A member's ``config.json`` (``ofa2_zoo.package.package``): every value read back and compared
with where it came from (the front, the space, the data's metadata, the profile, the license,
package.json), timm's view of it, and ``pretrained_cfg`` on its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch

from ofa2_zoo.front import Front
from ofa2_zoo.package import package_front, read_manifest
from ofa2_zoo.package.data import DataInfo
from ofa2_zoo.package.package import pretrained_cfg
from ofa2_zoo.profiles import load_profile
from ofa2_zoo.supernet.subnet import create_subnet

from _package_helpers import PROFILE_ID, TINY, digits, tiny_supernet, write_front, write_profile

CLASSES = tuple(f"class-{i}" for i in range(TINY.num_classes))
META = {"name": "digits-as-test", "dataset_id": "test-digits", "mean": (0.3,), "std": (0.4,), "in_chans": 1,
        "class_names": list(CLASSES), "interpolation": "bicubic", "crop_pct": 0.875}


class Described(torch.utils.data.TensorDataset):
    meta = META


def described(split: str, resolution: int) -> Described:
    """The digits (already normalised with mean 0.3 / std 0.4) with metadata that differs from every default."""
    d = digits(split, resolution)
    return Described(*d.tensors)


def _feature_side(r: int) -> int:
    """The side of the last feature map, from a forward pass of a real sub-network."""
    arch = TINY.genes_to_archs(TINY.sample_genes(1, 0))[0]
    model = create_subnet(arch, TINY).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.zeros(1, TINY.in_chans, r, r))
    assert feats.shape[-1] == feats.shape[-2]
    return int(feats.shape[-1])


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return load_profile(write_profile(tmp_path_factory.mktemp("profiles")))


@pytest.mark.parametrize("r", [12, 16])
def test_pretrained_cfg_holds_the_data_space_profile_and_license(profile, r):
    info = DataInfo(name="n", dataset_id="id", in_chans=1, mean=(0.25,), std=(0.5,), class_names=CLASSES,
                    interpolation="bicubic", crop_pct=0.875, license="cc0-1.0")
    side = _feature_side(r)
    assert pretrained_cfg(info, TINY, r, profile, "apache-2.0") == {
        "input_size": [1, r, r], "interpolation": "bicubic", "crop_pct": 0.875, "crop_mode": "center",
        "mean": [0.25], "std": [0.5], "num_classes": TINY.num_classes, "pool_size": [side, side],
        "first_conv": "conv_stem", "classifier": "classifier", "license": "apache-2.0", "fixed_input_size": False,
        "description": f"ofa2-zoo front member for hardware profile {PROFILE_ID}", "label_names": list(CLASSES)}


@pytest.mark.parametrize("names", [CLASSES[:-1], CLASSES + ("extra",), None])
def test_label_names_only_when_there_is_one_per_class(profile, names):
    info = DataInfo(name="n", dataset_id="id", in_chans=1, mean=(0.25,), std=(0.5,), class_names=names)
    cfg = pretrained_cfg(info, TINY, 12, profile, "mit")
    assert "label_names" not in cfg
    assert (cfg["interpolation"], cfg["crop_pct"]) == ("bilinear", 1.0)  # DataInfo's defaults


def test_first_conv_and_classifier_name_modules_of_the_network():
    model = create_subnet(TINY.genes_to_archs(TINY.sample_genes(1, 0))[0], TINY)
    assert isinstance(model.get_submodule("conv_stem"), torch.nn.Conv2d)
    assert isinstance(model.get_submodule("classifier"), torch.nn.Linear)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("config")
    profile = write_profile(tmp / "profiles")
    write_front(tmp / "front", n=3)
    pkg = package_front(tmp / "front", tmp / "pkg", supernet=tiny_supernet(), data=described, profile=profile,
                        members=1, license="CC-BY-4.0", runtime_latency=False).path
    return Path(pkg), Front.load(tmp / "front")


def test_config_json_read_back_is_what_it_was_made_from(packaged):
    pkg, front = packaged
    manifest = read_manifest(pkg)
    (member,) = manifest.members
    text = (pkg / member.folder / "config.json").read_text()
    cfg = json.loads(text)
    assert text == json.dumps(cfg, indent=2, sort_keys=True) + "\n"
    source = front.members[member.front_index]
    r = source.arch.r
    assert cfg["model_args"] == {"arch": source.arch.to_dict(), "space": TINY.to_dict()}
    assert cfg["model_args"]["arch"] == member.arch
    assert (cfg["architecture"], cfg["num_classes"], cfg["num_features"], cfg["global_pool"]) == (
        "ofa2_subnet", TINY.num_classes, TINY.feature_mix_width, "avg")
    pc = cfg["pretrained_cfg"]
    assert pc["input_size"] == [META["in_chans"], r, r] and pc["num_classes"] == TINY.num_classes
    assert (pc["mean"], pc["std"]) == (list(META["mean"]), list(META["std"]))
    assert (pc["interpolation"], pc["crop_pct"], pc["label_names"]) == ("bicubic", 0.875, list(CLASSES))
    assert pc["license"] == "cc-by-4.0" and PROFILE_ID in pc["description"]
    side = _feature_side(r)
    assert pc["pool_size"] == [side, side]
    # the runtimes' records are the ones package.json holds
    assert cfg["runtimes"] == {n: rec.model_dump(mode="json") for n, rec in member.runtimes.items()}
    assert list(cfg["runtimes"]) == ["onnxruntime"] and cfg["runtimes"]["onnxruntime"]["packaged"] is True
    assert cfg["runtimes"]["onnxruntime"]["parity"] == member.parity.model_dump(mode="json")
    assert set(cfg) == {"architecture", "num_classes", "num_features", "global_pool", "model_args", "pretrained_cfg",
                        "runtimes"}


def test_timm_reads_the_config_the_package_wrote(packaged):
    pkg, front = packaged
    (member,) = read_manifest(pkg).members
    cfg = json.loads((pkg / member.folder / "config.json").read_text())
    model = timm.create_model(f"local-dir:{pkg / member.folder}", pretrained=True)
    for key in ("input_size", "mean", "std", "interpolation", "crop_pct", "num_classes", "license", "label_names",
                "pool_size", "first_conv", "classifier"):
        got = model.pretrained_cfg[key]
        assert (list(got) if isinstance(got, tuple) else got) == cfg["pretrained_cfg"][key], key
    # num_features is informational for timm (it builds nothing from it): the width before the classifier,
    # timm's head_hidden_size, as the Hub configs of timm's own MobileNetV3s give it (1280 for the large one)
    assert model.head_hidden_size == cfg["num_features"] and model.num_classes == cfg["num_classes"]
    data = timm.data.resolve_data_config({}, model=model)
    assert data["crop_pct"] == 0.875 and data["interpolation"] == "bicubic"
