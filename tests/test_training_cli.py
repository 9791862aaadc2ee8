"""``ofa2 train-supernet`` / ``ofa2 fit-predictor``: help, bad input (exit 2, one line), a tiny run
end to end, resuming by rerunning the same command."""

import json
import re
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ofa2_zoo._io import sha256_file
from ofa2_zoo.cli import main
from ofa2_zoo.objectives.fitted import FittedPredictor
from ofa2_zoo.space import SearchSpace

TINY = SearchSpace(name="test_cli_tiny", stem_width=8, first_block_width=8, stage_widths=(8, 16),
                   stage_strides=(2, 2), stage_acts=("relu", "h_swish"), stage_se=(False, True),
                   final_expand_width=16, feature_mix_width=32, ks_choices=(3, 5), expand_choices=(1, 2),
                   depth_choices=(1, 2), resolutions=(4, 8), stem_stride=1, in_chans=1, num_classes=10)


def run(capsys, *argv):
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", ["train-supernet", "fit-predictor"])
def test_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "--out" in out and "--seed" in out


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    rgb = tmp_path / "rgb"
    for split in ("train", "val"):
        (rgb / split / "a").mkdir(parents=True)
        Image.new("RGB", (9, 9), (200, 10, 10)).save(rgb / split / "a" / "0.png")
    (tmp_path / "bad_space.json").write_text("{nope")
    cases = [
        (["train-supernet", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], "does not exist"),
        (["train-supernet", "digits", "--out", str(tmp_path / "o"), "--resolutions", "5,8"],
         "resolution 5 is not in space 'ofa2_digits'"),
        (["train-supernet", "digits", "--out", str(tmp_path / "o"), "--resolutions", "x"], "comma-separated"),
        (["train-supernet", str(rgb), "--out", str(tmp_path / "o")], "3-channel images but space 'ofa2_digits'"),
        (["train-supernet", "digits", "--out", str(tmp_path / "o"), "--space", str(tmp_path / "bad_space.json")],
         "cannot read the space file"),
        (["fit-predictor", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "p")], "does not exist"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()  # nothing written for refused input


@pytest.mark.slow("trains a supernet through all four phases, reruns it (nothing is trained again), then "
                  "measures 22 sub-networks on real images for the predictor")
def test_tiny_training_and_fit_end_to_end_and_resume(tmp_path, capsys):
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(TINY.to_dict()))
    out = tmp_path / "run"
    argv = ["train-supernet", "digits", "--out", str(out), "--space", str(space_file), "--epochs-scale", "0.01",
            "--seed", "1"]
    start = time.perf_counter()
    code, stdout, err = run(capsys, *argv)
    elapsed = time.perf_counter() - start
    assert code == 0, err
    # not a terminal: one line per epoch, in the order trained (the log of a background run)
    epochs = re.findall(r"^(\w+): epoch (\d+) of (\d+) done, loss \d+\.\d{3} \(\d+ min \d\d s\)$", stdout, re.M)
    assert epochs == [(p, "1", "1") for p in ("largest", "kernel", "depth", "expand")], stdout
    weights = out / "test_cli_tiny.safetensors"
    report = json.loads((out / "training_report.json").read_text())
    assert sorted(report["phases"]) == ["depth", "expand", "kernel", "largest"]
    seconds = [p["seconds"] for p in report["phases"].values()]
    assert all(p["epochs"] == 1 for p in report["phases"].values())
    assert all(s > 0 for s in seconds) and sum(seconds) <= elapsed  # each phase timed, within the whole run
    first = load_file(weights)
    code, stdout, err = run(capsys, *argv)  # rerun: every phase is done, nothing is trained again
    assert code == 0, err
    assert " epoch " not in stdout and "wrote " in stdout
    again = load_file(weights)  # (not byte-identical: safetensors orders metadata keys at random)
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert json.loads((out / "training_report.json").read_text()) == report

    prefix = tmp_path / "pred"
    code, stdout, err = run(capsys, "fit-predictor", str(weights), "--out", str(prefix), "--n-train", "12",
                            "--n-test", "10", "--seed", "2")
    assert code == 0, err
    assert "Kendall" in stdout
    info = json.loads(prefix.with_suffix(".json").read_text())
    assert info["fit"]["n_train"] == 12 and info["fit"]["n_test"] == 10
    assert info["provenance"]["supernet_sha256"] == sha256_file(weights)
    assert info["space"]["name"] == "test_cli_tiny"
    data = json.loads(prefix.with_suffix(".measurements.json").read_text())
    assert len(data["top1"]) == 22 and all(0 <= a <= 100 for a in data["top1"])
    pred = FittedPredictor.load(prefix)
    assert pred.predict_genes(np.array(data["genes"])).shape == (22,)
    # refitting from the saved measurements measures nothing and gives the same predictor
    again = tmp_path / "again"
    code, _, err = run(capsys, "fit-predictor", str(weights), "--out", str(again), "--n-train", "12",
                       "--n-test", "10", "--seed", "2", "--measurements", str(prefix.with_suffix(".measurements.json")))
    assert code == 0, err
    assert json.loads(again.with_suffix(".json").read_text())["fit"] == info["fit"]


@pytest.mark.parametrize(("preset", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_train_supernet_lets_idle_threads_sleep_unless_told_otherwise_and_data_wins(tmp_path, capsys, monkeypatch,
                                                                                    preset, expected):
    """The command sets OMP_WAIT_POLICY=PASSIVE before torch's OpenMP starts (a user's value wins),
    and --data becomes $OFA2_DATA (over the environment's) for the run and its child processes;
    it trains the dataset's preset (space, epochs) scaled by --epochs-scale."""
    import os

    from ofa2_zoo.training import progressive

    if preset is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", preset)
    monkeypatch.setenv("OFA2_DATA", str(tmp_path / "from-env"))
    seen = {}

    def fake_train(cfg, out, progress=None):
        seen.update(policy=os.environ.get("OMP_WAIT_POLICY"), data=os.environ.get("OFA2_DATA"), cfg=cfg)
        raise SystemExit(0)

    monkeypatch.setattr(progressive, "train_supernet", fake_train)
    monkeypatch.setattr("ofa2_zoo.training.data.get_dataset",
                        lambda *a, **k: type("D", (), {"in_chans": 1, "dataset_id": "x"})())
    code, _, err = run(capsys, "train-supernet", "fashion-mnist", "--out", str(tmp_path / "o"), "--data",
                       str(tmp_path / "mine"), "--epochs-scale", "0.5")
    assert code == 0, err
    assert seen["policy"] == expected and seen["data"] == str(tmp_path / "mine")
    assert seen["cfg"].space == "ofa2_fmnist" and seen["cfg"].flip and seen["cfg"].batch_size == 256
    assert seen["cfg"].epochs == {"largest": 30, "kernel": 2, "depth": 2, "expand": 6}


@pytest.mark.parametrize("quiet", [False, True])
def test_a_log_gets_one_line_per_finished_epoch_and_quiet_none(tmp_path, capsys, monkeypatch, quiet):
    """Not a terminal (capsys): a line when a step ends an epoch (3 steps per epoch here), none
    between; --quiet prints none at all."""
    from ofa2_zoo.training import progressive

    def fake_train(cfg, out, progress=None):
        total = 3 * cfg.epochs["largest"]
        for step in range(1, total + 1):
            progress("largest", step, total, loss=1.0 / step)
        raise SystemExit(0)

    monkeypatch.setattr(progressive, "train_supernet", fake_train)
    argv = ["train-supernet", "digits", "--out", str(tmp_path / "o"), "--epochs-scale", "0.1"] + (["-q"] if quiet else [])
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    lines = [line for line in stdout.splitlines() if " epoch " in line]
    if quiet:
        assert lines == []
    else:  # the digits preset's 30 largest-network epochs, times 0.1
        assert [line.split(" (")[0] for line in lines] == [
            f"largest: epoch {e} of 3 done, loss {1 / (3 * e):.3f}" for e in range(1, 4)]
