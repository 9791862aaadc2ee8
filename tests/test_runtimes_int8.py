"""``ofa2 package --int8`` (issue 25): each member's ``model.int8.onnx``, made by onnxruntime's own
static quantisation (QDQ, per-channel weights) calibrated on real training images, packaged only
when its top-1 on the evaluation images is at most 1 point below the fp32 ``model.onnx``'s, timed
with the other runtimes, and recorded in package.json, config.json and the card.

The quantisation is real (a tiny front packaged by the test helpers, onnxruntime.quantization);
the int8 files are loaded back with onnxruntime's own API and their top-1 recounted here. No
latency value is asserted (only that one was recorded).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from huggingface_hub import ModelCard
from pydantic import ValidationError

from ofa2_zoo.cli.package import _runtimes_cell
from ofa2_zoo.package import PackageError, package_front, read_manifest
from ofa2_zoo.package.data import first_images, loader, open_split
from ofa2_zoo.package.manifest import Int8Record, RuntimeRecord
from ofa2_zoo.package.runtimes import (INT8_MAX_DROP, RUNTIMES, check_int8, int8_gate, int8_runtimes, resolve_int8,
                                       runtime_rows)
from ofa2_zoo.package.runtimes.ort import INT8_FILE, load
from ofa2_zoo.package.verify import verify_package

from _bad_input_helpers import refused, run_cli
from _ci import missing, missing_runtime
from _package_helpers import digits, tiny_supernet, write_front, write_profile


def _packaged(tmp, **options):
    profile = write_profile(tmp / "profiles")
    write_front(tmp / "front", n=3)
    return package_front(tmp / "front", tmp / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                         members=2, **options)


def _digits_front():
    """The embedded digits zoo's front (its supernet and data are embedded: offline)."""
    from importlib.resources import files

    return files("ofa2_zoo") / "data" / "zoo" / "digits-cpu" / "front"


@pytest.fixture(scope="module")
def int8_package(tmp_path_factory):
    """Two members of the embedded digits front packaged with int8 files (real, trained networks:
    real quantisation, latency measured)."""
    return package_front(_digits_front(), tmp_path_factory.mktemp("int8") / "pkg", members=2, int8=True)


def _val(r):
    """The digits validation images and labels at resolution ``r`` (what packaging evaluates on)."""
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in loader(open_split("digits", "val", r), 256)])
    return np.concatenate(images), np.concatenate(labels)


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _correct(path, images, labels) -> int:
    logits = _session(path).run(None, {"input": images})[0]  # the runtime's own API, not ofa2-zoo's
    return int((logits.argmax(1) == labels).sum())


# ---------------------------------------------------------------------------- the gate
def test_the_gate_passes_exactly_one_point_below_fp32_and_refuses_just_past_it():
    assert INT8_MAX_DROP == 1.0
    assert int8_gate(900, 890, 1000)  # 10 of 1,000 images: exactly 1.00 point below
    assert not int8_gate(900, 889, 1000)  # 11 images: 1.1 points
    assert int8_gate(900, 950, 1000)  # better than fp32
    assert int8_gate(300, 297, 300)  # 3 of 300: exactly 1 point (0.01 * 300 is not exact in floating point)
    assert not int8_gate(300, 296, 300)
    assert int8_gate(50, 50, 397, max_drop=0.0) and not int8_gate(50, 49, 397, max_drop=0.0)


def _record(correct, correct_fp32, n=1000, **changes):
    rec = {"file": INT8_FILE, "files": [INT8_FILE], "bytes": 10, "top1": 100 * correct / n,
           "top1_fp32": 100 * correct_fp32 / n, "correct": correct, "correct_fp32": correct_fp32, "n_images": n,
           "split": "val", "max_drop": 1.0, "packaged": True}
    return {**rec, **changes}


def test_a_record_claiming_a_packaged_int8_file_past_the_gate_is_refused_on_reading():
    Int8Record.model_validate(_record(890, 900))  # exactly at the gate
    with pytest.raises(ValidationError, match=r"int8: top-1 88.9 % is more than 1 point\(s\) below fp32's 90.0 %"):
        Int8Record.model_validate(_record(889, 900))
    with pytest.raises(ValidationError, match="more images right than the 1000 evaluated"):
        Int8Record.model_validate(_record(1001, 900, top1=100.0))
    with pytest.raises(ValidationError, match=r"int8: top1 89.1 % is not 890 of 1000 images"):
        Int8Record.model_validate(_record(890, 900, top1=89.1))  # a top-1 edited without its count
    with pytest.raises(ValidationError, match=r"int8: top1_fp32 None % is not 900 of 1000 images"):
        Int8Record.model_validate(_record(890, 900, top1_fp32=None))
    with pytest.raises(ValidationError, match="not packaged has no files and says why"):
        Int8Record.model_validate(_record(800, 900, packaged=False))
    Int8Record.model_validate(_record(800, 900, packaged=False, files=[], file=None, reason="gate"))
    parity = {"n_images": 5, "max_abs_diff": 0.0, "tolerance": 1e-6, "top1_agreement": 1.0, "top1_mismatches": 0,
              "unexplained_mismatches": 0, "passed": True}
    failed_fp32 = {"runtime": "onnxruntime", "packaged": False, "reason": "parity", "parity": parity}
    with pytest.raises(ValidationError, match="an int8 file needs its fp32 export packaged"):
        RuntimeRecord.model_validate({**failed_fp32, "int8": _record(890, 900)})
    # without --int8 the key is absent, not null (packages made before it keep their bytes)
    assert "int8" not in RuntimeRecord.model_validate(failed_fp32).model_dump(mode="json")


# ---------------------------------------------------------------------------- choosing runtimes
def test_int8_names_a_selected_runtime_that_has_int8_else_one_line_errors(tmp_path, monkeypatch):
    assert resolve_int8(True, ["onnxruntime", "litert", "openvino"]) == ["onnxruntime", "litert", "openvino"]
    assert resolve_int8(True, ["onnxruntime", "executorch"]) == ["onnxruntime", "executorch"]
    assert resolve_int8("openvino,executorch", ["onnxruntime", "executorch", "openvino"]) == ["executorch", "openvino"]
    assert int8_runtimes() == ["onnxruntime", "litert", "executorch", "openvino"]
    assert resolve_int8(False, ["onnxruntime"]) == [] and resolve_int8(None, ["onnxruntime"]) == []
    assert resolve_int8("litert", ["onnxruntime", "litert"]) == ["litert"]
    assert resolve_int8("litert,onnxruntime", ["onnxruntime", "litert"]) == ["onnxruntime", "litert"]
    monkeypatch.setitem(RUNTIMES, "openvino", dataclasses.replace(RUNTIMES["openvino"], int8_files=()))
    with pytest.raises(PackageError, match=r"^int8 is not available for runtime openvino in ofa2-zoo yet; runtimes "
                                           r"with int8: onnxruntime, litert, executorch$"):
        resolve_int8("openvino", ["onnxruntime", "openvino"])
    with pytest.raises(PackageError, match=r"^unknown runtime 'tflite'"):
        resolve_int8(["tflite"], ["onnxruntime"])
    with pytest.raises(PackageError, match=r"^int8 for runtime litert needs that runtime selected "
                                           r"\(runtimes: onnxruntime\)$"):
        resolve_int8("litert", ["onnxruntime"])
    # package_front refuses before any work: nothing is written
    profile = write_profile(tmp_path / "profiles")
    write_front(tmp_path / "front", n=3)
    for option, message in (("litert", "int8 for runtime litert needs that runtime selected"),
                            ("executorch", "int8 for runtime executorch needs that runtime selected"),
                            ("openvino", "int8 is not available for runtime openvino")):  # (its int8 removed above)
        with pytest.raises(PackageError, match=f"^{message}"):
            package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits,
                          profile=profile, members=1, int8=option)
    with pytest.raises(PackageError, match=r"^int8_calib_images must be at least 1, got 0$"):
        package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                      members=1, int8=True, int8_calib_images=0)
    with pytest.raises(PackageError, match=r"^int8_max_drop must be between 0 and 100 points, got -0.5$"):
        package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                      members=1, int8=True, int8_max_drop=-0.5)
    assert not (tmp_path / "pkg").exists()


def test_the_cli_refuses_a_bad_int8_calibration_count(capsys, tmp_path):
    write_front(tmp_path / "front", n=3)
    refused(capsys, "package", tmp_path / "front", "--out", tmp_path / "pkg", "--int8", "--int8-calib-images", "0",
            match=r"int8-calib-images", watch=(tmp_path,))


# ---------------------------------------------------------------------------- packaged int8 files
def test_each_member_gets_a_real_int8_file_recorded_in_package_json_config_json_and_the_card(int8_package):
    pkg = int8_package.path
    manifest = verify_package(pkg)  # the int8 file is listed, checksummed and contained
    assert manifest.data["int8"] == {"runtimes": ["onnxruntime"], "calibration_images": 2000, "max_drop": 1.0}
    for m in manifest.members:
        folder = pkg / m.folder
        rec = m.runtimes["onnxruntime"]
        q = rec.int8
        assert q.packaged and q.reason is None and q.files == [INT8_FILE] and q.file == INT8_FILE
        assert INT8_FILE in m.files and q.bytes == (folder / INT8_FILE).stat().st_size
        # real static QDQ quantisation with per-channel weights, not a copy of the fp32 graph
        graph = onnx.load(folder / INT8_FILE).graph
        ops = {n.op_type for n in graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        per_channel = [n for n in graph.node if n.op_type == "DequantizeLinear"
                       and any(a.name == "axis" for a in n.attribute)]
        assert per_channel
        assert q.calibration["images"] == 1000 and q.calibration["split"] == "train"  # all digits training images
        assert q.calibration["format"] == "QDQ" and q.calibration["per_channel"] is True
        # top-1 recounted with onnxruntime's own API on the evaluation images (digits' val split)
        r = m.arch["r"][0]
        images, labels = _val(r)
        assert q.n_images == len(images) == m.measured["top1_images"] and q.split == "val"
        assert q.correct == _correct(folder / INT8_FILE, images, labels)
        assert q.correct_fp32 == _correct(folder / "model.onnx", images, labels)
        assert q.top1 == round(100 * q.correct / q.n_images, 4)
        assert q.top1_fp32 == round(100 * q.correct_fp32 / q.n_images, 4)
        assert 100 * (q.correct_fp32 - q.correct) <= q.n_images  # the gate it passed
        assert abs(q.top1_fp32 - m.measured["top1"]) <= 100 * 2 / q.n_images  # onnxruntime fp32 ≈ PyTorch
        assert q.latency.median_ms > 0 and q.latency.batch == 1 and q.latency.threads == 1
        assert rec.latency.machine == q.latency.machine  # timed in the same interleaved rounds
        # config.json records the same facts as package.json
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["runtimes"]["onnxruntime"]["int8"] == q.model_dump(mode="json")
        assert cfg["runtimes"] == {n: r.model_dump(mode="json") for n, r in m.runtimes.items()}
        card = ModelCard.load(folder / "README.md").text
        row = next(line for line in card.splitlines() if line.startswith("| onnxruntime int8 |"))
        assert f"`{INT8_FILE}`" in row and f"top-1 {q.top1:.2f} % vs fp32 {q.top1_fp32:.2f} %" in row
        assert f"{q.latency.median_ms:.3f} ms" in row
        ratio = q.latency.median_ms / rec.latency.median_ms
        assert f"{ratio:.2f}× fp32's" in row
        slower = "slower than the fp32 file" in card
        assert slower == (q.latency.median_ms > rec.latency.median_ms)  # never an unmeasured speed-up
        assert _runtimes_cell(m) == (f"onnxruntime {rec.latency.median_ms:.3f}, "
                                     f"onnxruntime int8 {q.latency.median_ms:.3f}")


def test_without_int8_no_int8_file_or_key_is_written(tmp_path):
    result = _packaged(tmp_path, runtime_latency=False)
    text = (result.path / "package.json").read_text()
    assert '"int8"' not in text
    for m in result.manifest.members:
        assert not (result.path / m.folder / INT8_FILE).exists() and m.runtimes["onnxruntime"].int8 is None
        assert "### int8" not in (result.path / m.folder / "README.md").read_text()


# ---------------------------------------------------------------------------- refusals
def _member_folder(pkg, tmp_path):
    """A packaged member's folder without its int8 file (copied: the test writes into it), and the
    digits training images, validation images and labels at its resolution."""
    import shutil

    m = verify_package(pkg).members[0]
    folder = tmp_path / "member"
    shutil.copytree(pkg / m.folder, folder)
    (folder / INT8_FILE).unlink()
    r = m.arch["r"][0]
    train = first_images(open_split("digits", "train", r), 1000).numpy()
    return (folder, train, *_val(r))


def test_an_int8_file_past_the_gate_is_removed_and_says_why(int8_package, tmp_path):
    """Real quantisation calibrated on blank images (every activation range collapses to zero):
    its top-1 falls far below fp32's on images labelled with fp32's own answers."""
    folder, train, images, truth = _member_folder(int8_package.path, tmp_path)
    fp32 = load(folder)
    labels = fp32(images).argmax(1)  # fp32 is right on every image: any int8 disagreement costs top-1
    blank = [np.zeros_like(train[:64])]
    before = sorted(p.name for p in folder.iterdir())
    q = check_int8("onnxruntime", None, folder, fp32, blank, images, labels, split="val")
    n = len(images)
    assert not q.packaged and q.files == [] and q.correct_fp32 == n and 100 * (n - q.correct) > n
    assert q.reason == (f"onnxruntime int8 top-1 {100 * q.correct / n:.2f} % is more than 1 point(s) below "
                        f"fp32's 100.00 % on {n} val images")
    assert sorted(p.name for p in folder.iterdir()) == before  # no int8 file left behind
    rec = Int8Record.model_validate(q.to_dict())  # what package.json would record
    assert not rec.packaged and rec.file is None and rec.bytes == 0 and rec.correct == q.correct
    # the card says why instead of listing a file
    record = {"runtime": "onnxruntime", "file": "model.onnx", "files": ["model.onnx"], "bytes": 1, "packaged": True,
              "parity": {"n_images": 5, "max_abs_diff": 0.0, "tolerance": 1e-6, "top1_agreement": 1.0,
                         "top1_mismatches": 0, "unexplained_mismatches": 0, "passed": True},
              "latency": None, "versions": {}, "reason": None, "int8": q.to_dict()}
    row = runtime_rows({"onnxruntime": record})[1]
    assert row["label"] == "onnxruntime int8" and not row["packaged"] and row["reason"] == q.reason
    # calibrated on real training images, and scored against the real labels, it passes
    batches = [train[i:i + 64] for i in range(0, len(train), 64)]
    good = check_int8("onnxruntime", None, folder, fp32, batches, images, truth, split="val")
    assert good.packaged and (folder / INT8_FILE).stat().st_size == good.bytes


def test_a_failed_quantisation_leaves_no_file_and_says_why(int8_package, tmp_path):
    folder, train, images, labels = _member_folder(int8_package.path, tmp_path)
    fp32 = load(folder)
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    before = sorted(p.name for p in folder.iterdir())
    q = check_int8("onnxruntime", None, folder, fp32, [train[:64]], images, labels, split="val")
    assert not q.packaged and q.correct is None and q.correct_fp32 is None
    assert q.reason.startswith("onnxruntime int8 quantisation failed: ")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not Int8Record.model_validate(q.to_dict()).packaged


def test_package_int8_cli_prints_each_members_int8_top1(capsys, tmp_path):
    """The embedded digits front, one member, by the CLI."""
    rc, out, err = run_cli(capsys, "package", _digits_front(), "--out", tmp_path / "pkg", "--members", "1", "--int8",
                           "--int8-calib-images", "1000", "--no-runtime-latency", "--quiet", "--no-record")
    assert rc in (0, None), err
    manifest = verify_package(tmp_path / "pkg")
    q = manifest.members[0].runtimes["onnxruntime"].int8
    assert manifest.data["int8"]["calibration_images"] == 1000 and q.calibration["images"] == 1000
    assert q.packaged and q.latency is None and q.split == "val"
    assert f"member 0: onnxruntime int8: top-1 {q.top1:.2f} % (fp32 {q.top1_fp32:.2f} %)" in " ".join(out.split())


def test_the_int8_file_is_the_same_bytes_for_the_same_inputs(int8_package, tmp_path):
    """Re-packaging without latency gives identical bytes: quantisation adds no timestamps or paths."""
    import shutil

    from ofa2_zoo.package.runtimes import ort as ort_runtime

    m = read_manifest(int8_package.path).members[0]
    train = first_images(open_split("digits", "train", m.arch["r"][0]), 256).numpy()
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(int8_package.path / m.folder / "model.onnx", tmp_path / name / "model.onnx")
        assert ort_runtime.export_int8(None, tmp_path / name, [train[:128], train[128:]]) == [INT8_FILE]
        made.append((tmp_path / name / INT8_FILE).read_bytes())
    assert made[0] == made[1]


# ---------------------------------------------------------------------------- one runtime's int8 file
def _packaged_int8(tmp_path, runtime: str, calib_images: int, file: str, front=None):
    """Package one member for ``runtime`` with its int8 file only; the member, its folder and the
    int8 record, checked to be packaged, listed, named ``file`` and calibrated on ``calib_images``."""
    pkg = package_front(front or _digits_front(), tmp_path / "pkg", members=1, runtimes=runtime, int8=runtime,
                        int8_calib_images=calib_images, runtime_latency=False).path
    m = verify_package(pkg).members[0]
    q = m.runtimes[runtime].int8
    assert q.packaged, q.reason
    assert q.files[0] == file and set(q.files) <= set(m.files) and q.calibration["images"] == calib_images
    assert m.runtimes["onnxruntime"].int8 is None  # int8=<runtime> names that runtime only
    return m, pkg / m.folder, q


# ---------------------------------------------------------------------------- LiteRT (its extra)
@pytest.mark.slow("litert-torch converts the member twice (fp32 and PT2E int8) and ai-edge-litert classifies 1,000 images with each: 15-45 s")
def test_litert_int8_file_runs_in_ai_edge_litert_with_the_recorded_top1(tmp_path):
    """The LiteRT int8 file (litert-torch's PT2E quantiser), loaded with ai-edge-litert's own
    interpreter: fully integer (int8 input and output with the file's scale and zero point), its
    top-1 recounted here is the recorded one. Skipped without the litert extra."""
    missing_runtime("litert")  # a skip, or a failure in `.ci/run`'s runtimes environment
    from ai_edge_litert.interpreter import Interpreter

    m, folder, q = _packaged_int8(tmp_path, "litert", 1000, "model.int8.tflite")
    assert q.files == ["model.int8.tflite"] and q.calibration["per_channel"] is True
    images, labels = _val(m.arch["r"][0])
    interpreter = Interpreter(model_path=str(folder / "model.int8.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.int8 and list(inp["shape"]) == [1, *images.shape[1:]]
    (s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
    predictions = []
    for image in images:
        interpreter.set_tensor(inp["index"], np.clip(np.round(image[None] / s_in) + z_in, -128, 127).astype(np.int8))
        interpreter.invoke()
        predictions.append(((interpreter.get_tensor(out["index"]).astype(np.float32) - z_out) * s_out).argmax())
    assert q.correct == int((np.array(predictions) == labels).sum())
    fp32 = Interpreter(model_path=str(folder / "model.tflite"))
    fp32.allocate_tensors()
    fin, fout = fp32.get_input_details()[0]["index"], fp32.get_output_details()[0]["index"]
    correct = 0
    for image, label in zip(images, labels):
        fp32.set_tensor(fin, image[None])
        fp32.invoke()
        correct += int(fp32.get_tensor(fout).argmax() == label)
    assert q.correct_fp32 == correct and 100 * (q.correct_fp32 - q.correct) <= q.n_images
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["runtimes"]["litert"]["int8"] == q.model_dump(mode="json")
    # the card's snippet for the int8 file runs as printed, from the member folder
    card = (folder / "README.md").read_text()
    code = card.split("The file is fully integer", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(code, "card", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert namespace["logits"].shape == (1, 10) and namespace["logits"].dtype == np.float32


# ---------------------------------------------------------------------------- ExecuTorch (its extra)
@pytest.mark.slow("ExecuTorch exports and lowers the member twice (fp32 and PT2E int8) and classifies 1,000 "
                  "images with each: 30-110 s")
def test_executorch_int8_file_runs_in_executorch_runtime_with_the_recorded_top1(tmp_path):
    """The ExecuTorch int8 file (XNNPACKQuantizer, PT2E), run with executorch.runtime's own API:
    float input and output, its top-1 recounted here is the recorded one, and the card says
    how it was made. Skipped without the executorch extra."""
    import torch

    missing_runtime("executorch")  # a skip, or a failure in `.ci/run`'s runtimes environment
    from executorch.runtime import Runtime

    m, folder, q = _packaged_int8(tmp_path, "executorch", 500, "model.int8.pte")
    assert q.files == ["model.int8.pte"] and q.calibration["tool"].startswith("executorch XNNPACKQuantizer")
    images, labels = _val(m.arch["r"][0])

    def correct(file: str) -> int:
        method = Runtime.get().load_program(str(folder / file)).load_method("forward")
        return sum(int(method.execute([torch.from_numpy(image[None])])[0].numpy().argmax() == label)
                   for image, label in zip(images, labels))

    assert q.correct == correct("model.int8.pte") and q.correct_fp32 == correct("model.pte")
    assert 100 * (q.correct_fp32 - q.correct) <= q.n_images
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["runtimes"]["executorch"]["int8"] == q.model_dump(mode="json")
    card = " ".join((folder / "README.md").read_text().split())
    assert "`model.int8.pte`: ExecuTorch int8, quantised after packaging (ExecuTorch's XNNPACK quantiser" in card
    assert "onnxruntime's static QDQ" not in card


# ---------------------------------------------------------------------------- OpenVINO (its extra)
@pytest.mark.slow("packages a Fashion-MNIST member, NNCF collects statistics image by image over 1,000 images, and both IRs classify the 10,000 test images: 25-40 s")
def test_openvino_int8_ir_runs_in_openvino_with_the_recorded_top1(tmp_path):
    """The OpenVINO int8 IR (NNCF) of the Fashion-MNIST front's fastest member, compiled with
    OpenVINO's own API: its top-1 and the fp32 IR's, recounted here on the test split, are the
    recorded ones, the stem convolution stayed fp32, and the card says how it was made. Skipped
    without the openvino extra."""
    from importlib.resources import files

    from ofa2_zoo.errors import DatasetError
    from ofa2_zoo.training.fashion_mnist import data_folder

    missing_runtime("openvino")  # a skip, or a failure in `.ci/run`'s runtimes environment
    try:
        data_folder()
    except DatasetError as exc:
        missing(f"Fashion-MNIST is not installed: {exc}")
    import openvino as ov

    front = files("ofa2_zoo") / "data" / "zoo" / "fmnist-cpu" / "front"
    m, folder, q = _packaged_int8(tmp_path, "openvino", 1000, "openvino_model.int8.xml", front)
    assert q.files == ["openvino_model.int8.xml", "openvino_model.int8.bin"] and q.split == "test"
    assert q.calibration["tool"] == "nncf.quantize (OpenVINO IR)"
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in loader(open_split("fashion-mnist", "test",
                                                                                  m.arch["r"][0]), 1000)])
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert q.n_images == len(labels) == 10_000
    # the settings and batches packaging counted with (int8 kernels differ by batch and threads, and a
    # near-tie can flip between them)
    settings = {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": 1}
    counts = {}
    for f in ("openvino_model.xml", "openvino_model.int8.xml"):
        compiled = ov.Core().compile_model(str(folder / f), "CPU", settings)
        counts[f] = sum(int((compiled(images[i:i + 256])[0].argmax(1) == labels[i:i + 256]).sum())
                        for i in range(0, len(images), 256))
    assert q.correct_fp32 == counts["openvino_model.xml"]
    # OpenVINO's int8 CPU kernels did not repeat bit for bit between two compilations of the same IR
    # here (1 image of 10,000 flipped, a near-tie), so the recount may differ by a couple of images;
    # a recording slip (fp32's count, another split) differs by far more
    assert abs(q.correct - counts["openvino_model.int8.xml"]) <= 2
    assert 100 * (q.correct_fp32 - q.correct) <= q.n_images and q.correct != q.correct_fp32
    card = " ".join((folder / "README.md").read_text().split())
    assert "`openvino_model.int8.xml` (with its `.bin`): OpenVINO int8, quantised after packaging (NNCF" in card
    # the stem convolution reads the pixels and its own float weights; every later convolution reads
    # quantised activations and int8 weights (dequantised by a Multiply)
    from ofa2_zoo.package.runtimes.openvino import stem_convolution

    ir8 = ov.Core().read_model(str(folder / "openvino_model.int8.xml"))
    convs = [op for op in ir8.get_ordered_ops() if op.get_type_name() in ("Convolution", "GroupConvolution")]
    feeds = [[i.get_source_output().get_node().get_type_name() for i in op.inputs()] for op in convs]
    assert feeds[0] == ["Parameter", "Constant"] and len(feeds) > 5
    assert all(f == ["FakeQuantize", "Multiply"] for f in feeds[1:]), feeds
    assert stem_convolution(ov.Core().read_model(str(folder / "openvino_model.xml"))) == [
        convs[0].get_friendly_name()]
    assert q.calibration["fp32_layers"] == "the stem convolution"
    assert "calibrated on training images; the stem convolution stays fp32)" in card
