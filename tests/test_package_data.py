"""The images packaging uses (``ofa2_zoo.package.data``): where a dataset's metadata is read from
(and which place wins), the data a card and ``pretrained_cfg`` describe, each (split, resolution)
opened once, the seeded calibration subset, the parity images and the measured top-1."""

from __future__ import annotations

import types

import numpy as np
import pytest
import timm.data
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from ofa2_zoo.package import PackageError
from ofa2_zoo.package.data import (DataInfo, TimmTransformed, cached_source, calibration_batches, calibration_subset,
                                   data_info, eval_split, first_images, loader, open_split, top1_accuracy)
from ofa2_zoo.training.data import ImageSource


class Images(Dataset):
    """``n`` 2-channel 4x4 images; image i is filled with i, label i % 3; metadata as given."""

    def __init__(self, n: int = 12, meta=None, metadata=None, **attrs):
        self.n = n
        if meta is not None:
            self.meta = meta
        if metadata is not None:
            self.metadata = metadata
        for k, v in attrs.items():
            setattr(self, k, v)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((2, 4, 4), float(i)), i % 3


NORM = {"mean": (0.5, 0.25), "std": (0.125, 2.0)}


# ---------------------------------------------------------------------------- data_info
def test_meta_wins_over_metadata_which_wins_over_attributes():
    ds = Images(meta={"name": "from-meta", **NORM}, metadata={"name": "from-metadata", "dataset_id": "id-metadata"},
                name="from-attr", dataset_id="id-attr", license="cc-by-4.0")
    info = data_info("src", ds)
    assert (info.name, info.dataset_id, info.license) == ("from-meta", "id-metadata", "cc-by-4.0")
    ds = Images(metadata={"name": "from-metadata", **NORM}, name="from-attr")
    assert data_info("src", ds).name == "from-metadata"
    ds = Images(mean=(0.5,), std=(0.125,), name="from-attr", in_chans=7)
    info = data_info("src", ds)
    assert (info.name, info.in_chans, info.mean, info.std) == ("from-attr", 7, (0.5,), (0.125,))


def test_a_dict_holder_without_the_key_falls_through_and_a_missing_key_is_none():
    ds = Images(meta={"mean": (0.5, 0.25)}, metadata=types.SimpleNamespace(std=(0.125, 2.0)), classes=["a", "b", "c"])
    info = data_info("src", ds)
    assert (info.mean, info.std, info.class_names) == ((0.5, 0.25), (0.125, 2.0), ("a", "b", "c"))
    assert info.license is None


def test_what_data_info_reads_and_its_defaults():
    ds = Images(meta={**NORM, "class_names": [0, 1, 2], "classes": ["x", "y", "z"], "interpolation": "bicubic",
                      "crop_pct": 0.875, "dataset_id": "ds-id"})
    info = data_info("source-name", ds)
    assert info == DataInfo(name="source-name", dataset_id="ds-id", in_chans=2, mean=(0.5, 0.25), std=(0.125, 2.0),
                            class_names=("0", "1", "2"), interpolation="bicubic", crop_pct=0.875, license=None)
    assert all(type(v) is float for v in info.mean + info.std)
    plain = data_info("source-name", Images(meta=dict(NORM)))
    assert (plain.in_chans, plain.class_names, plain.interpolation, plain.crop_pct) == (2, None, "bilinear", 1.0)
    assert (plain.name, plain.dataset_id) == ("source-name", "source-name")  # dataset_id falls back to the name
    assert data_info(lambda s, r: None, Images(meta=dict(NORM))).name == "Images"  # a callable: the class name


def test_the_channels_of_a_one_image_dataset_come_from_that_image():
    assert data_info("src", Images(n=1, meta=dict(NORM))).in_chans == 2


def test_the_dataset_id_given_wins_over_the_datasets_own():
    ds = Images(meta={**NORM, "dataset_id": "own-id", "name": "own-name"})
    assert data_info("src", ds, dataset_id="given-id").dataset_id == "given-id"
    assert data_info("src", ds).dataset_id == "own-id"


def test_metadata_is_read_through_nested_subsets():
    ds = Images(meta={**NORM, "name": "inner"})
    wrapped = Subset(Subset(ds, [5, 6, 7]), [1, 2])
    info = data_info("src", wrapped)
    assert info.name == "inner" and info.in_chans == 2


@pytest.mark.parametrize("missing", ["mean", "std"])
def test_data_without_its_normalisation_is_refused(missing):
    meta = {k: v for k, v in NORM.items() if k != missing}
    with pytest.raises(PackageError) as exc:
        data_info("my-data", Images(meta=meta))
    assert str(exc.value) == ("data 'my-data' does not say its normalisation (mean/std): the packaged pretrained_cfg "
                              "needs them so that timm users preprocess images the same way")


@pytest.mark.parametrize("norm, why", [
    ({"mean": (0.5, float("nan")), "std": (0.1, 0.1)}, "mean [0.5, nan] / std [0.1, 0.1] must be finite numbers, "
                                                       "the std positive"),
    ({"mean": (0.5, float("inf")), "std": (0.1, 0.1)}, "mean [0.5, inf] / std [0.1, 0.1] must be finite numbers, "
                                                       "the std positive"),
    ({"mean": (0.5, 0.5), "std": (0.1, 0.0)}, "mean [0.5, 0.5] / std [0.1, 0.0] must be finite numbers, the std "
                                              "positive"),
    ({"mean": (0.5, 0.5), "std": (-0.1, 0.1)}, "mean [0.5, 0.5] / std [-0.1, 0.1] must be finite numbers, the std "
                                               "positive"),
    ({"mean": (0.5, 0.5), "std": (0.1, float("nan"))}, "mean [0.5, 0.5] / std [0.1, nan] must be finite numbers, "
                                                       "the std positive"),
    ({"mean": (), "std": (0.1,)}, "mean [] / std [0.1] must be finite numbers, the std positive"),
    ({"mean": (0.5,), "std": ()}, "mean [0.5] / std [] must be finite numbers, the std positive"),
    ({"mean": (0.5, 0.5), "std": (0.1,)}, "mean [0.5, 0.5] / std [0.1] need one value per channel (2) or one for all"),
    ({"mean": (0.5,) * 3, "std": (0.1,) * 3}, "mean [0.5, 0.5, 0.5] / std [0.1, 0.1, 0.1] need one value per channel "
                                              "(2) or one for all"),
    ({**NORM, "crop_pct": 0.0}, "crop_pct 0.0 is not in (0, 1]"),
    ({**NORM, "crop_pct": 1.0001}, "crop_pct 1.0001 is not in (0, 1]"),
    ({**NORM, "crop_pct": -0.5}, "crop_pct -0.5 is not in (0, 1]"),
    ({**NORM, "crop_pct": float("nan")}, "crop_pct nan is not in (0, 1]"),
])
def test_normalisation_and_crop_that_config_json_cannot_hold_are_refused(norm, why):
    with pytest.raises(PackageError) as exc:
        data_info("my-data", Images(meta=norm))
    assert str(exc.value) == f"data 'my-data': {why}"


def test_normalisation_and_crop_at_their_boundaries_are_kept():
    info = data_info("d", Images(meta={"mean": (-3.0,), "std": (1e-12,), "crop_pct": 1.0}))
    assert (info.mean, info.std, info.crop_pct) == ((-3.0,), (1e-12,), 1.0)
    assert data_info("d", Images(meta={**NORM, "crop_pct": 1e-6})).crop_pct == 1e-6
    assert data_info("d", Images(meta={**NORM, "crop_pct": None})).crop_pct == 1.0  # not given: no crop


# ---------------------------------------------------------------------------- splits
def test_each_split_and_resolution_is_opened_once_and_only_its_own():
    calls = []

    def source(split, resolution):
        calls.append((split, resolution))
        return Images(n=resolution, meta=dict(NORM))

    cached = cached_source(source)
    a = cached("train", 12)
    assert cached("train", 12) is a and calls == [("train", 12)]
    b = cached("val", 12)  # only the split differs
    c = cached("train", 16)  # only the resolution differs
    assert b is not a and c is not a and len(c) == 16
    assert calls == [("train", 12), ("val", 12), ("train", 16)]
    assert cached("val", 12) is b and cached("train", 16) is c and len(calls) == 3


def test_a_cached_source_keeps_the_name_of_what_it_opens():
    def source(split, resolution):
        return Images()

    source.name = "callable-data"
    assert cached_source(source).name == "callable-data"
    assert cached_source("digits").name == "digits"
    assert cached_source(lambda s, r: Images()).name is None


def test_an_empty_split_is_refused():
    with pytest.raises(PackageError) as exc:
        open_split(lambda split, r: Images(n=0), "val", 8)
    assert str(exc.value).startswith("the val split of <function ") and str(exc.value).endswith("> is empty")
    assert len(open_split(lambda split, r: Images(n=1), "val", 8)) == 1


def test_eval_split_is_the_official_test_split_of_a_catalog_dataset():
    assert eval_split("fashion-mnist") == "test"
    assert eval_split("digits") == "val"  # no test split of its own
    assert eval_split("/some/image/folder") == "val"
    assert eval_split(lambda s, r: None) == "val"


def test_a_named_dataset_is_its_split_through_timms_own_transform():
    ds = open_split("digits", "val", 12)
    assert isinstance(ds, TimmTransformed) and ds.name == "digits"
    from ofa2_zoo.training.data import source_images

    src = source_images("digits", "val")
    assert len(ds) == len(src)
    assert (ds.dataset_id, ds.in_chans, ds.mean, ds.std) == (src.dataset_id, 1, src.mean, src.std)
    assert ds.interpolation == "bilinear" and ds.crop_pct == 1.0
    x, y = ds[5]
    assert x.shape == (1, 12, 12) and y == src.labels[5]
    # the transform the package's pretrained_cfg describes, built by timm from those values
    t = timm.data.create_transform(input_size=(1, 12, 12), interpolation="bilinear", crop_pct=1.0,
                                   crop_mode="center", mean=src.mean, std=src.std)
    assert torch.equal(x, t(src.image(5)))


def test_timm_transformed_uses_the_sources_crop_interpolation_and_normalisation():
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)) for _ in range(3)]
    src = ImageSource("my-id", ("a", "b"), 3, (0.4, 0.5, 0.6), (0.2, 0.3, 0.25), "bicubic", 0.75, (1, 0, 1),
                      images.__getitem__)
    ds = TimmTransformed(src, 16, "my-folder")
    assert (ds.name, ds.dataset_id, ds.classes, ds.in_chans) == ("my-folder", "my-id", ["a", "b"], 3)
    assert (ds.mean, ds.std, ds.interpolation, ds.crop_pct) == (src.mean, src.std, "bicubic", 0.75)
    # what data_info (and so the member's pretrained_cfg) reads from it
    assert data_info("my-folder", ds) == DataInfo(name="my-folder", dataset_id="my-id", in_chans=3, mean=src.mean,
                                                  std=src.std, class_names=("a", "b"), interpolation="bicubic",
                                                  crop_pct=0.75)
    t = timm.data.create_transform(input_size=(3, 16, 16), interpolation="bicubic", crop_pct=0.75, crop_mode="center",
                                   mean=src.mean, std=src.std)
    for i in range(3):
        x, y = ds[i]
        assert torch.equal(x, t(images[i])) and y == src.labels[i]
    other = timm.data.create_transform(input_size=(3, 16, 16), interpolation="bilinear", crop_pct=1.0,
                                       crop_mode="center", mean=src.mean, std=src.std)
    assert not torch.equal(ds[0][0], other(images[0]))  # the source's settings matter here


# ---------------------------------------------------------------------------- subsets and batches
def test_the_calibration_subset_is_seeded_and_capped():
    ds = Images(n=50)
    a = calibration_subset(ds, 20, seed=3)
    assert list(a.indices) == list(calibration_subset(ds, 20, seed=3).indices)
    assert list(a.indices) == torch.randperm(50, generator=torch.Generator().manual_seed(3))[:20].tolist()
    assert list(calibration_subset(ds, 20, seed=4).indices) != list(a.indices)
    assert len(set(a.indices)) == 20 and a.dataset is ds
    assert sorted(calibration_subset(ds, 50, seed=3).indices) == list(range(50))  # exactly all of them
    assert sorted(calibration_subset(ds, 51, seed=3).indices) == list(range(50))  # asked for more: all of them


def test_batches_come_in_a_fixed_order_of_the_size_asked_for():
    ds = Images(n=11)
    batches = list(loader(ds, 4))
    assert [len(x) for x, _ in batches] == [4, 4, 3]
    assert torch.cat([x[:, 0, 0, 0] for x, _ in batches]).tolist() == [float(i) for i in range(11)]
    assert [len(x) for x, _ in loader(ds, 4)] == [4, 4, 3]


def test_calibration_batches_are_the_training_splits_seeded_subset():
    asked = []

    def source(split, resolution):
        asked.append((split, resolution))
        return Images(n=30)

    batches = list(calibration_batches(source, 16, 10, batch_size=4, seed=2))
    assert asked == [("train", 16)]
    assert [len(b) for b in batches] == [4, 4, 2]
    want = torch.randperm(30, generator=torch.Generator().manual_seed(2))[:10].tolist()
    assert torch.cat([b[:, 0, 0, 0] for b in batches]).tolist() == [float(i) for i in want]


def test_calibration_batches_default_to_200_images_and_seed_0():
    def source(split, resolution):
        return Images(n=201)

    default = list(calibration_batches(source, 16, 201))
    assert [len(b) for b in default] == [200, 1]  # OFA's batch of 200
    assert torch.cat([b[:, 0, 0, 0] for b in default]).tolist() == [
        float(i) for i in torch.randperm(201, generator=torch.Generator().manual_seed(0)).tolist()]


def test_first_images_are_the_first_n_in_order():
    ds = Images(n=10)
    x = first_images(ds, 7, batch_size=3)
    assert x.shape == (7, 2, 4, 4) and x[:, 0, 0, 0].tolist() == [float(i) for i in range(7)]
    assert first_images(ds, 10)[:, 0, 0, 0].tolist() == [float(i) for i in range(10)]
    assert first_images(ds, 11).shape[0] == 10  # more than there are: all of them


# ---------------------------------------------------------------------------- top-1
class PickChannelMean(nn.Module):
    """Predicts class ``int(mean of the image) % 3``, except in training mode (class 0)."""

    def forward(self, x):
        pred = x.mean(dim=(1, 2, 3)).long() % 3
        if self.training:
            pred = torch.zeros_like(pred)
        return nn.functional.one_hot(pred, 3).float()


def test_top1_is_the_share_of_right_predictions_in_eval_mode():
    x = torch.arange(10, dtype=torch.float64)[:, None, None, None].expand(10, 1, 2, 2).clone()
    labels = torch.tensor([i % 3 for i in range(7)] + [(i + 1) % 3 for i in range(7, 10)])  # 7 right, 3 wrong
    model = PickChannelMean().train()
    top1, n = top1_accuracy(model, TensorDataset(x, labels), batch_size=4)
    assert (top1, n) == (70.0, 10) and not model.training
    x1 = x[:1]
    assert top1_accuracy(PickChannelMean(), TensorDataset(x1, torch.tensor([0]))) == (100.0, 1)
    assert top1_accuracy(PickChannelMean(), TensorDataset(x1, torch.tensor([1]))) == (0.0, 1)
    # labels as a plain list, the way an image folder keeps them
    assert top1_accuracy(PickChannelMean(), [(x[i], int(labels[i])) for i in range(10)], batch_size=3) == (70.0, 10)
