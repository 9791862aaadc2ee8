"""Datasets, progressive shrinking (determinism, resume), measured accuracy and fitted predictors."""

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ofa2_zoo import SearchSpace, load_supernet
from ofa2_zoo.errors import Ofa2Error
from ofa2_zoo.objectives.fitted import FittedPredictor
from ofa2_zoo.objectives.measured import MeasuredAccuracy
from ofa2_zoo.training.data import DatasetError, check_resolution, get_dataset
from ofa2_zoo.training.progressive import TrainConfig, train_supernet

TINY = SearchSpace(name="test_tiny_digits", stem_width=8, first_block_width=8, stage_widths=(8, 16),
                   stage_strides=(2, 2), stage_acts=("relu", "h_swish"), stage_se=(False, True),
                   final_expand_width=16, feature_mix_width=32, ks_choices=(3, 5), expand_choices=(1, 2),
                   depth_choices=(1, 2), resolutions=(4, 8), stem_stride=1, in_chans=1, num_classes=10,
                   dropout=0.0)


def test_digits_split_is_fixed_stratified_and_resized():
    tr, va = get_dataset("digits", "train", 8), get_dataset("digits", "val", 8)
    assert len(tr) == 1000 and len(va) == 797
    counts = np.bincount(tr.tensors[1].numpy(), minlength=10)
    assert counts.min() >= 95 and counts.max() <= 105
    again = get_dataset("digits", "val", 8)
    assert torch.equal(again.tensors[0], va.tensors[0])
    small = get_dataset("digits", "val", 4)
    assert small.tensors[0].shape == (797, 1, 4, 4) and small.in_chans == 1 and small.classes[3] == "3"
    assert abs(float(tr.tensors[0].mean())) < 0.1  # normalised


def _folder(root, classes=("a", "b"), n=3, mode="L", size=(10, 12)):
    for split in ("train", "val"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray((np.random.default_rng(i).random(size[::-1]) * 255).astype("uint8")).convert(mode) \
                    .save(d / f"{i}.png")
    return root


def test_image_folder_loads_with_the_eval_transform(tmp_path):
    ds = get_dataset(_folder(tmp_path / "data", mode="RGB"), "train", 8)
    assert ds.tensors[0].shape == (6, 3, 8, 8) and ds.classes == ["a", "b"] and ds.in_chans == 3
    assert ds.tensors[1].tolist() == [0, 0, 0, 1, 1, 1]


def test_image_folder_takes_image_files_whatever_the_case_of_their_suffix(tmp_path):
    """A camera's ``IMG_1.JPG`` and ``.PNG`` files are images too (the same pixels as the lower-case ones)."""
    root = _folder(tmp_path / "data", mode="RGB")
    upper = _folder(tmp_path / "upper", mode="RGB")
    for i, f in enumerate(sorted((upper / "train" / "a").iterdir())):
        f.rename(f.with_name(f"{f.stem}.{'PNG' if i % 2 else 'Png'}"))
    a, b = get_dataset(root, "train", 8), get_dataset(upper, "train", 8)
    assert b.tensors[1].tolist() == a.tensors[1].tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.equal(a.tensors[0], b.tensors[0])


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        get_dataset(tmp_path / "nope", "train", 8)
    (tmp_path / "nosplit").mkdir()
    with pytest.raises(DatasetError, match="has no 'train' split"):
        get_dataset(tmp_path / "nosplit", "train", 8)
    root = _folder(tmp_path / "empty")
    (root / "train" / "c").mkdir()
    with pytest.raises(DatasetError, match="class folder .*c is empty"):
        get_dataset(root, "train", 8)
    root = _folder(tmp_path / "corrupt")
    (root / "val" / "a" / "9.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read image .*9.png"):
        get_dataset(root, "val", 8)
    with pytest.raises(DatasetError, match="unknown split"):
        get_dataset("digits", "test", 8)
    with pytest.raises(DatasetError, match="resolution 5 is not in space"):
        check_resolution(TINY, 5)


def _cfg(**kw):
    return TrainConfig(dataset="digits", space=TINY, seed=3, batch_size=250, threads=1,
                       epochs={"largest": 2, "kernel": 1, "depth": 1, "expand": 1},
                       lr={"largest": 5e-3, "kernel": 2e-3, "depth": 2e-3, "expand": 2e-3}, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``train_supernet(_cfg())`` run once for the module: its folder and the trained supernet
    (tests that change the network's state use a deep copy)."""
    folder = tmp_path_factory.mktemp("trained")
    return folder, train_supernet(_cfg(), folder)


def test_training_is_deterministic_and_resumes_after_interruption(tmp_path, trained):
    full = trained[1]
    first = train_supernet(_cfg(), tmp_path / "cut", stop_after="kernel")
    # trained channels-last, handed back contiguous (what extraction and ONNX export expect)
    # (strides compared: for 1x1 and depthwise weights is_contiguous() holds in either layout)
    assert all(p.stride() == torch.empty(p.shape).stride() for net in (full, first) for p in net.parameters())
    assert sorted(p.stem for p in (tmp_path / "cut" / "checkpoints").glob("*.safetensors")) == ["kernel", "largest"]
    resumed = train_supernet(_cfg(), tmp_path / "cut")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), resumed.state_dict().values()))
    with pytest.raises(Ofa2Error, match="other settings"):
        train_supernet(dataclasses.replace(_cfg(), seed=4), tmp_path / "cut")


def test_measured_accuracy_and_fitted_predictor_round_trip(tmp_path, trained):
    torch.manual_seed(0)
    net = copy.deepcopy(trained[1])
    m = MeasuredAccuracy(net, "digits", calib_images=500)
    archs = [TINY.largest(8), TINY.smallest(4)]
    acc = m.predict(archs)
    assert acc.shape == (2,) and ((0 <= acc) & (acc <= 100)).all()
    assert acc[0] > 20  # a few epochs already beat chance (10 %) on the largest network
    assert m.evaluate(archs[0]) == acc[0]  # deterministic
    genes = TINY.sample_genes(60, 0)
    y = 50 + 10 * genes[:, -1] + genes[:, :4].sum(1)
    pred = FittedPredictor.fit(TINY, genes[:40], y[:40], epochs=400)
    report = pred.score(genes[40:], y[40:], 0, 40)
    assert report.kendall_tau > 0.6
    pred.save(tmp_path / "p")
    again = FittedPredictor.load(tmp_path / "p")
    np.testing.assert_allclose(again.predict_genes(genes), pred.predict_genes(genes), rtol=1e-6)
    assert again.provenance.sha256 and again.provenance.source == "predicted"


@pytest.mark.slow("torchrun starts two processes that each import torch and train all four phases, "
                  "then the same training runs again in one process to compare the weights")
def test_two_process_ddp_matches_one_process(tmp_path):
    """torchrun with 2 CPU processes (gloo) and the same global batch gives the same weights
    (TINY has no dropout: dropout masks are drawn per process, see training/distributed.py)."""
    import shutil
    import subprocess
    import sys

    cfg = {"batch_size": 250, "threads": 1, "epochs": {"largest": 1, "kernel": 1, "depth": 1, "expand": 1},
           "lr": {"largest": 5e-3, "kernel": 2e-3, "depth": 2e-3, "expand": 2e-3}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    (tmp_path / "space.json").write_text(json.dumps(TINY.to_dict()))
    single = train_supernet(TrainConfig(dataset="digits", space=TINY, seed=3, **cfg), tmp_path / "one")
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "ofa2_zoo.training.distributed",
                           "digits", "--out", str(tmp_path / "two"), "--space", str(tmp_path / "space.json"),
                           "--seed", "3", "--config", str(tmp_path / "cfg.json")], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "two" / "test_tiny_digits.safetensors").is_file()  # rank 0 wrote the outputs
    two = load_supernet(TINY, weights=tmp_path / "two" / "checkpoints" / "expand.safetensors")
    diffs = torch.cat([(a - b).abs().flatten() for (k, a), b in zip(single.state_dict().items(),
                                                                     two.state_dict().values())
                       if a.dtype.is_floating_point and "running" not in k])
    # Gradients agree to float round-off (summation order differs), so almost every weight does.
    # AdamW divides each update by the gradient's running magnitude, which turns round-off-sized
    # differences of near-zero gradients (e.g. fresh BN biases) into lr-sized steps: a few
    # weights differ by up to a few learning rates; none by more than the sum of all steps' lr.
    # (Typical weights differ by ~4e-5 of their ~1e-1 scale: float32 round-off, amplified. One
    # process trains channels-last and DDP contiguous; that layout change alone, in one process,
    # gives a median of 3.9e-5 and 2.7 % of weights over 1e-3 after these steps.)
    assert float(diffs.median()) < 1e-4
    assert float((diffs > 1e-3).float().mean()) < 0.05
    assert float(diffs.max()) < 4 * 5e-3 + 12 * 2e-3


def test_interrupted_mid_phase_resumes_to_the_same_weights(tmp_path, trained):
    """A crash inside a phase (here: Ctrl-C after a few steps) loses only that phase's steps."""
    full = trained[1]

    def interrupt(phase, step, total, loss):
        if phase == "depth" and step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(_cfg(), tmp_path / "cut", progress=interrupt)
    state = json.loads((tmp_path / "cut" / "checkpoints" / "state.json").read_text())
    assert state["done"] == ["largest", "kernel"]
    seen = []
    resumed = train_supernet(_cfg(), tmp_path / "cut", progress=lambda ph, *a, **values: seen.append(ph))
    assert sorted(set(seen)) == ["depth", "expand"]  # finished phases are not trained again
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_interrupted_mid_epoch_resumes_from_the_last_epoch_to_the_same_weights(tmp_path):
    """Epoch granularity: a crash in a phase's second epoch keeps its first (weights, optimiser
    and schedule), and the resumed run ends with exactly the uninterrupted run's weights."""
    cfg = dataclasses.replace(_cfg(), epochs={"largest": 1, "kernel": 1, "depth": 3, "expand": 1})
    full = train_supernet(cfg, tmp_path / "full")
    steps_per_epoch = 4  # 1,000 images in batches of 250

    def interrupt(phase, step, total, loss):
        if phase == "depth" and step == steps_per_epoch + 2:  # inside the second epoch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(cfg, tmp_path / "cut", progress=interrupt)
    ckpt = tmp_path / "cut" / "checkpoints"
    state = json.loads((ckpt / "state.json").read_text())
    assert state["done"] == ["largest", "kernel"] and state["running"]["phase"] == "depth"
    assert state["running"]["epoch"] == 1 and (ckpt / "running.safetensors").is_file()
    seen = []
    resumed = train_supernet(cfg, tmp_path / "cut", progress=lambda ph, step, total, loss: seen.append((ph, step)))
    assert seen[0] == ("depth", steps_per_epoch + 1)  # the first epoch is not trained again
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert not (ckpt / "running.safetensors").exists() and not (ckpt / "optimizer.pt").exists()
    # stop_after_epoch stops inside a phase and leaves a resumable state
    train_supernet(cfg, tmp_path / "stop", stop_after_epoch=1)
    state = json.loads((tmp_path / "stop" / "checkpoints" / "state.json").read_text())
    assert state["done"] == ["largest", "kernel"] and state["running"]["epoch"] == 1


def test_report_scores_the_largest_and_smallest_network_after_each_phase(trained):
    from ofa2_zoo.training.progressive import evaluate_extremes

    folder, net = trained[0], copy.deepcopy(trained[1])
    report = json.loads((folder / "checkpoints" / "state.json").read_text())["report"]
    assert sorted(report["phases"]) == ["depth", "expand", "kernel", "largest"]
    for phase in report["phases"].values():
        assert 0 <= phase["smallest_top1"] <= 100 and 0 <= phase["largest_top1"] <= 100
    train = {r: get_dataset("digits", "train", r) for r in TINY.resolutions}
    again = evaluate_extremes(net, "digits", train)
    assert again == {k: report["phases"]["expand"][k] for k in ("largest_top1", "smallest_top1")}
    # the same measurement as the measured-accuracy objective (2,000 calibration images at most)
    m = MeasuredAccuracy(net, "digits", calib_images=2000)
    assert again["largest_top1"] == round(m.evaluate(TINY.largest()), 2)
    assert again["smallest_top1"] == round(m.evaluate(TINY.smallest()), 2)


def test_augmentation_shifts_scaled_to_the_resolution_and_flips_half():
    from ofa2_zoo.training.progressive import _augment

    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4).repeat(100, 1, 1, 1)
    cfg = dataclasses.replace(_cfg(), shift=1, flip=True)
    out = _augment(x, cfg, 8, torch.Generator().manual_seed(0))  # 1 px at 8 -> 0 px at 4: flips only
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) | flipped).all()
    assert 70 < int(flipped.sum()) < 130  # about half of 200
    cfg = dataclasses.replace(cfg, flip=False)
    out = _augment(x, cfg, 4, torch.Generator().manual_seed(0))  # 1 px at 4: shifted
    assert not torch.equal(out, x) and out.shape == x.shape


def test_presets_are_the_documented_settings():
    cfg = TrainConfig.for_dataset("fashion-mnist", seed=5)
    assert (cfg.space, cfg.dataset, cfg.seed, cfg.batch_size, cfg.flip) == ("ofa2_fmnist", "fashion-mnist", 5, 256, True)
    assert cfg.epochs == {"largest": 60, "kernel": 3, "depth": 3, "expand": 12}
    assert TrainConfig.for_dataset("digits") == TrainConfig()
    assert TrainConfig.for_dataset("/some/folder").space == "ofa2_digits"
    # a setting the preset also gives: the caller's wins; the preset's others stay
    mine = TrainConfig.for_dataset("fashion-mnist", batch_size=64, label_smoothing=0.0)
    assert (mine.batch_size, mine.label_smoothing, mine.flip, mine.space) == (64, 0.0, True, "ofa2_fmnist")


def test_unreadable_training_state_is_a_clear_error(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text("{not json")
    with pytest.raises(Ofa2Error, match="not a readable training state"):
        train_supernet(_cfg(), tmp_path / "run")


def test_image_folder_training_sizes_the_classifier_and_checks_channels(tmp_path):
    root = _folder(tmp_path / "grey", classes=("a", "b", "c"), n=4)
    cfg = dataclasses.replace(_cfg(), dataset=str(root), batch_size=6)
    net = train_supernet(cfg, tmp_path / "run")
    assert net.num_classes == 3 and net(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    m = MeasuredAccuracy(net, str(root), calib_images=12)
    assert 0 <= m.evaluate(TINY.largest(8)) <= 100
    rgb = _folder(tmp_path / "rgb", mode="RGB")
    with pytest.raises(DatasetError, match="3-channel images but space 'test_tiny_digits' takes 1"):
        train_supernet(dataclasses.replace(_cfg(), dataset=str(rgb)), tmp_path / "rgb_run")
    with pytest.raises(DatasetError, match="has 2 classes but the supernet predicts 3"):
        MeasuredAccuracy(net, str(_folder(tmp_path / "two"))).evaluate(TINY.largest(8))


@pytest.mark.parametrize(("change", "message"), [
    ({"batch_size": 0}, "batch_size: Input should be greater than or equal to 1"),
    ({"epochs": {"largest": 1, "kernel": 1}}, "epochs needs every phase; missing: depth, expand"),
    ({"lr": {"largest": 1e-3, "kernel": 0, "depth": 1e-3, "expand": 1e-3}}, "lr.kernel: Input should be greater than 0"),
    ({"label_smoothing": 1.0}, "label_smoothing: Input should be less than 1"),
    ({"threads": "2"}, "threads: Input should be a valid integer"),
])
def test_bad_training_settings_are_refused_before_anything_runs(tmp_path, change, message):
    with pytest.raises(Ofa2Error, match=message):
        train_supernet(dataclasses.replace(_cfg(), **change), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_distributed_entry_refuses_a_bad_config_file(tmp_path):
    import subprocess
    import sys

    (tmp_path / "cfg.json").write_text(json.dumps({"no_such_setting": 1}))
    proc = subprocess.run([sys.executable, "-m", "ofa2_zoo.training.distributed", "digits", "--out", str(tmp_path / "o"),
                           "--config", str(tmp_path / "cfg.json")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no_such_setting" in proc.stderr and "Traceback" not in proc.stderr


def test_measuring_in_worker_processes_gives_the_same_results(tmp_path):
    from ofa2_zoo.objectives.fitting import measure_random

    torch.manual_seed(0)
    net = load_supernet(TINY, num_classes=10)
    one = measure_random(net, "digits", 10, seed=4)
    seen = []
    two = measure_random(net, "digits", 10, seed=4, workers=2, progress=lambda step, i, n: seen.append((i, n)))
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert seen[-1] == (10, 10) and [i for i, _ in seen] == sorted(i for i, _ in seen)
    with pytest.raises(Ofa2Error, match="workers must be at least 1, got 0"):
        measure_random(net, "digits", 10, seed=4, workers=0)


@pytest.mark.parametrize("size", [(20, 20), (23, 31), (40, 25), (9, 9)])
@pytest.mark.parametrize("resolution", [8, 16, 24])
def test_image_folder_pixels_are_timms_eval_transform_at_crop_pct_0875(tmp_path, size, resolution):
    """Training on an image folder sees exactly what the card's timm way sees (resize the shorter
    side to floor(r / 0.875), centre crop), before normalisation."""
    from PIL import Image
    from timm.data import create_transform

    root = _folder(tmp_path / "data", mode="RGB", n=2, size=size)
    ds = get_dataset(root, "train", resolution)  # normalised with its own mean/std: undone below
    mean = torch.tensor(ds.mean)[None, :, None, None]
    std = torch.tensor(ds.std)[None, :, None, None]
    ours = ds.tensors[0] * std + mean
    transform = create_transform(input_size=(3, resolution, resolution), crop_pct=0.875, interpolation="bilinear",
                                 mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    files = sorted((root / "train").rglob("*.png"))
    theirs = torch.stack([transform(Image.open(f).convert("RGB")) for f in files])
    assert ours.shape == theirs.shape
    assert float((ours - theirs).abs().max()) <= 1e-4


def test_each_phase_samples_only_the_dimensions_it_trains():
    """kernel: depth and expand stay largest; depth: expand stays largest, depths vary; expand:
    every dimension varies (OFA's progressive shrinking)."""
    from ofa2_zoo.space import get_space
    from ofa2_zoo.training.progressive import _sample

    space = get_space("ofa2_fmnist")
    rng = np.random.default_rng(0)
    r = space.resolutions[-1]
    nb, ns = space.n_blocks, space.n_stages
    upper = space.gene_upper_bounds

    def genes(phase):
        return space.archs_to_genes([_sample(space, phase, rng, r) for _ in range(200)])

    kernel, depth, expand = genes("kernel"), genes("depth"), genes("expand")
    depths, expands = slice(2 * nb, 2 * nb + ns), slice(nb, 2 * nb)
    assert (kernel[:, depths] == upper[depths]).all() and (kernel[:, expands] == upper[expands]).all()
    # a skipped block's expand gene is canonically 0: compare the blocks each network uses
    for row in depth:
        active = np.concatenate([[j <= d for j in range(nb // ns)] for d in row[depths]])  # gene d: d + 1 blocks
        assert (row[expands][active] == upper[expands][active]).all()
    assert (depth[:, depths] < upper[depths]).any(axis=0).all()  # every stage drew a smaller depth
    assert (expand[:, expands] < upper[expands]).any() and (expand[:, depths] < upper[depths]).any()
    assert (kernel[:, -1] == space.resolutions.index(r)).all()


def test_the_fit_is_scored_on_the_held_out_networks_only():
    """Refitting from saved measurements: the report is the predictor's agreement with the last
    ``n_test`` networks, which it was not fitted on, recomputed here by hand."""
    from types import SimpleNamespace

    from scipy.stats import kendalltau

    from ofa2_zoo.objectives.fitting import fit_from_measurements
    from ofa2_zoo.space import DIGITS_SPACE

    genes = DIGITS_SPACE.sample_genes(40, np.random.default_rng(3))
    top1 = 80 + genes.sum(axis=1) * 0.3 + np.random.default_rng(4).normal(0, 0.5, len(genes))
    net = SimpleNamespace(space=DIGITS_SPACE, weights_sha256="x")
    pred, report, data = fit_from_measurements(net, "digits", seed=1, measurements={
        "genes": genes.tolist(), "top1": top1.tolist(), "n_train": 30})
    held_out = pred.predict_genes(genes[30:])
    err = held_out - top1[30:]
    assert (report.n_train, report.n_test, report.seed) == (30, 10, 1)
    assert report.kendall_tau == pytest.approx(kendalltau(held_out, top1[30:])[0])
    assert report.rmse == pytest.approx(float(np.sqrt((err ** 2).mean())))
    assert report.mae == pytest.approx(float(np.abs(err).mean()))
    assert pred.meta["fit"] == report.__dict__ and data["n_train"] == 30
