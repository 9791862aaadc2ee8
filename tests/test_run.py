"""`ofa2 run` end to end on the embedded default (small budget): front + package, offline."""

import json
import os
import subprocess
import sys

import pytest
import timm
import torch

from ofa2_zoo.cli import main
from ofa2_zoo.catalog import EMBEDDED_DIR, embedded_weights_path
from ofa2_zoo.explorer import read_data
from ofa2_zoo.front import Front
from ofa2_zoo.training.data import get_dataset

pytestmark = pytest.mark.skipif(not EMBEDDED_DIR.joinpath("ofa2_digits.safetensors").is_file(),
                                reason="the embedded weights are not built in this checkout")


def test_ofa2_run_writes_front_and_package(digits_run, tmp_path, capsys):
    """conftest's ``digits_run``: ``ofa2 run --population 12 --generations 4 --members 2`` in a new process."""
    run_out = digits_run.out
    out = digits_run.stdout
    assert "package:" in out and "front:" in out
    front = Front.load(run_out / "front")
    assert front.profile_id == "digits-cpu" and len(front.members) >= 3
    assert front.supernet["sha256"] and front.accuracy["source"] == "predicted"
    lat = front.values("latency_ms")
    assert (lat[1:] >= lat[:-1]).all()
    manifest = json.loads((run_out / "package" / "package.json").read_text())
    assert len(manifest["members"]) == 2
    # the explorer page beside front.png in both folders, with the packaged members named
    page = (run_out / "front" / "index.html").read_bytes()
    assert page == (run_out / "package" / "front" / "index.html").read_bytes()
    data = read_data(page.decode())
    assert len(data["members"]) == len(front.members) and data["version"] == front.version_id
    assert {m["index"]: m["packaged"]["name"] for m in data["members"] if m["packaged"]} == {
        m["front_index"]: m["name"] for m in manifest["members"]}
    # a packaged member's snippet, pasted into a new process, loads it (the run recorded the package)
    first = next(m for m in data["members"] if m["packaged"])
    code = first["packaged"]["snippet"] + "\nprint('input', list(model.pretrained_cfg['input_size']))"
    env = {**os.environ, "OFA2_USER_INDEX": str(digits_run.index)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"input [1, {first['resolution']}, {first['resolution']}]" in done.stdout
    # `ofa2 front html` on the run's front folder finds the package beside it: the same page
    with pytest.raises(SystemExit) as exc:
        main(["front", "html", str(run_out / "front"), "--out", str(tmp_path / "again.html")])
    assert exc.value.code == 0 and (tmp_path / "again.html").read_bytes() == page
    # the packaged members load through timm and score on the digits validation split
    member = manifest["members"][0]
    model = timm.create_model(f"local-dir:{run_out / 'package' / member['folder']}", pretrained=True).eval()
    r = member["arch"]["r"][0]
    x, y = get_dataset("digits", "val", r).tensors
    with torch.no_grad():
        acc = 100.0 * float((model(x).argmax(1) == y).float().mean())
    assert acc > 50
    assert embedded_weights_path("ofa2_digits").stat().st_size < 5_000_000


def test_ofa2_run_on_fashion_mnist_names_the_missing_images_before_any_work(tmp_path, monkeypatch, capsys):
    from ofa2_zoo import run as run_module

    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("OFA2_DATA", str(tmp_path / "empty"))
    # run_pipeline imports it when it needs it (after every check)
    monkeypatch.setattr("ofa2_zoo.supernet.load_supernet", lambda *a, **k: pytest.fail("loaded the supernet"))
    monkeypatch.setattr(run_module, "search", lambda *a, **k: pytest.fail("searched"))
    with pytest.raises(SystemExit) as exc:
        main(["run", "--profile", "fmnist-cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: $OFA2_DATA folder {tmp_path / 'empty'} lacks train-images-idx3-ubyte, ")
    assert "`apt-get install dataset-fashion-mnist`, `ofa2 data fetch fashion-mnist`, or --data DIR" in err
    assert not (tmp_path / "out").exists()


def test_ofa2_run_on_fashion_mnist_end_to_end(tmp_path, monkeypatch, capsys):
    """`ofa2 run --profile fmnist-cpu` (small budget): the shipped supernet and predictor, cards on
    the official test split, float16 weights that timm loads, ONNX with its parity check."""
    from ofa2_zoo.errors import DatasetError
    from ofa2_zoo.package import read_manifest
    from ofa2_zoo.training.fashion_mnist import data_folder

    from _ci import missing

    try:
        data_folder()
    except DatasetError as exc:
        missing(f"Fashion-MNIST is not installed: {exc}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OFA2_USER_INDEX", str(tmp_path / "user_index.json"))
    with pytest.raises(SystemExit) as exc:
        main(["run", "--profile", "fmnist-cpu", "--out", str(tmp_path), "--population", "12", "--generations", "4",
              "--members", "2"])
    assert exc.value.code == 0, capsys.readouterr().err
    front = Front.load(tmp_path / "front")
    from ofa2_zoo._io import sha256_file

    assert front.profile_id == "fmnist-cpu" and front.supernet["sha256"] == sha256_file(
        embedded_weights_path("ofa2_fmnist"))
    members = read_manifest(tmp_path / "package").members
    assert len(members) == 2
    for m in members:
        assert (m.measured["top1_dataset"], m.measured["top1_split"], m.measured["top1_images"]) == (
            "fashion-mnist", "test", 10000)
        assert m.measured["top1"] > 70 and m.parity.passed and "model.onnx" in m.files
        folder = tmp_path / "package" / m.folder
        model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        assert list(model.pretrained_cfg["input_size"]) == [1, m.arch["r"][0], m.arch["r"][0]]
        card = (folder / "README.md").read_text()
        assert "stored as float16" in card and "`test` split" in card


@pytest.mark.parametrize("given, arrives", [(None, "digits"), ("/data/my-digits", "/data/my-digits")])
def test_run_packages_with_the_dataset_given_else_the_embedded_supernets_own(tmp_path, monkeypatch, given, arrives):
    """Both present and different: the caller's dataset wins over the embedded supernet's."""
    import ofa2_zoo.package as package_module
    from ofa2_zoo.run import run_pipeline

    class Stop(Exception):
        pass

    seen = []

    def record(front_dir, out, **kw):
        seen.append(kw["data"])
        raise Stop

    monkeypatch.setattr(package_module, "package_front", record)
    with pytest.raises(Stop):
        run_pipeline(tmp_path / "out", profile="digits-cpu", data=given, population=8, generations=2)
    assert seen == [arrives]
