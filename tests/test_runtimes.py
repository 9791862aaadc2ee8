"""Deployment runtimes (issue 25): which runtimes a profile names, the parity gate every export
passes, what package.json / config.json / the card record, and the real exports.

The real exports convert one member of the embedded digits zoo (offline) for each runtime and
load the file with the runtime's *own* Python API, not ofa2-zoo's, then compare with timm's model
on real validation images. Without a runtime's extra they are skipped with the reason, in CI
too: `.ci/run` does not install the litert/executorch/openvino extras yet (together about 1.4 GB,
and executorch's xdsl pins typing-extensions below what the rest of the dev extra resolves to).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import timm
import torch
import yaml
from huggingface_hub import ModelCard
from pydantic import ValidationError

import ofa2_zoo  # noqa: F401  (registers the embedded zoo's names)
from ofa2_zoo.cli.package import _runtimes_cell
from ofa2_zoo.errors import RegistryError
from ofa2_zoo.export import EXPORT_RECORD, export_model, read_export
from ofa2_zoo.package import PackageError, package_front, read_manifest
from ofa2_zoo.package.data import first_images, open_split
from ofa2_zoo.package.manifest import Member, RuntimeRecord
from ofa2_zoo.package.onnx_export import compare_logits
from ofa2_zoo.package.runtimes import RUNTIMES, RuntimeUnavailable, check_runtime, resolve_runtimes, torch_logits
from ofa2_zoo.package.verify import verify_package
from ofa2_zoo.profiles.schema import ProfileSpec

from _bad_input_helpers import refused
from _ci import missing, missing_runtime
from _package_helpers import PROFILE_YAML, digits, tiny_supernet, write_front, write_profile

DIGITS_MEMBER = "ofa2_digits_cpu_front_0"  # the embedded zoo's fastest digits member (offline)


def _needs(name: str) -> None:
    missing_runtime(name)  # a skip, or a failure in `.ci/run`'s runtimes environment


def _validation(name: str = DIGITS_MEMBER, n: int = 1000):
    """The member, its first ``n`` validation images (of the dataset it was packaged with) and
    PyTorch's logits of them."""
    model = timm.create_model(name, pretrained=True).eval()
    r = model.pretrained_cfg["input_size"][-1]
    images = first_images(open_split("fashion-mnist" if "fmnist" in name else "digits", "val", r), n)
    with torch.no_grad():
        return model, images, model(images).numpy()


def _agrees(logits: np.ndarray, reference: np.ndarray) -> None:
    assert logits.shape == reference.shape
    assert float(np.abs(logits - reference).max()) <= 1e-4
    assert (logits.argmax(1) == reference.argmax(1)).all()  # 100 % top-1 agreement


# ---------------------------------------------------------------------------- names and profiles
def test_runtime_names_resolve_in_a_fixed_order_with_onnxruntime_always_first():
    assert resolve_runtimes("openvino, litert") == ["onnxruntime", "litert", "openvino"]
    assert resolve_runtimes(["executorch", "onnxruntime"]) == ["onnxruntime", "executorch"]
    assert resolve_runtimes("") == ["onnxruntime"]
    with pytest.raises(PackageError, match=r"^unknown runtime 'tflite'; choose from onnxruntime, litert, "
                                           r"executorch, openvino$"):
        resolve_runtimes("litert,tflite")


def test_profile_runtimes_default_known_names_and_no_repeats():
    base = yaml.safe_load(PROFILE_YAML)
    assert ProfileSpec.model_validate(base).runtimes == ["onnxruntime"]
    spec = ProfileSpec.model_validate({**base, "runtimes": ["onnxruntime", "litert", "executorch", "openvino"]})
    assert spec.runtimes == list(RUNTIMES)  # the schema knows exactly the runtimes the package stage has
    with pytest.raises(ValidationError, match="runtimes must not repeat"):
        ProfileSpec.model_validate({**base, "runtimes": ["litert", "litert"]})
    with pytest.raises(ValidationError, match="runtimes.0"):
        ProfileSpec.model_validate({**base, "runtimes": ["tflite"]})
    with pytest.raises(ValidationError, match="at least 1"):
        ProfileSpec.model_validate({**base, "runtimes": []})


@pytest.fixture
def litert_missing(monkeypatch):
    """LiteRT as if its extra were not installed (its modules cannot be found)."""
    monkeypatch.setitem(RUNTIMES, "litert", dataclasses.replace(RUNTIMES["litert"],
                                                                requires=("ofa2_no_such_module",)))


def test_a_missing_runtime_is_one_line_naming_the_extra_and_nothing_is_written(litert_missing, tmp_path, capsys):
    message = "runtime litert is not installed (no module ofa2_no_such_module): pip install 'ofa2-zoo[litert]'"
    with pytest.raises(RuntimeUnavailable) as exc:
        RUNTIMES["litert"].require()
    assert str(exc.value) == message
    profile = write_profile(tmp_path / "profiles")
    write_front(tmp_path / "front", n=3)
    with pytest.raises(RuntimeUnavailable,
                       match=r"^runtime litert is not installed: pip install 'ofa2-zoo\[litert\]'$"):
        package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                      members=1, runtimes="litert")
    with pytest.raises(RuntimeUnavailable, match=r"^runtime litert is not installed \(no module"):
        export_model(DIGITS_MEMBER, "litert", tmp_path / "out")
    refused(capsys, "export", DIGITS_MEMBER, "--runtime", "litert", "--out", tmp_path / "out",
            match=r"^error: runtime litert is not installed .*pip install 'ofa2-zoo\[litert\]'$", watch=(tmp_path,))
    assert not (tmp_path / "pkg").exists() and not (tmp_path / "out").exists()


def test_export_refuses_unknown_names_and_runtimes_in_one_line(tmp_path, capsys):
    refused(capsys, "export", "ofa2_digits_cpu_front_99", "--runtime", "onnxruntime", "--out", tmp_path / "o",
            match=r"^error: unknown ofa2 model 'ofa2_digits_cpu_front_99'", watch=(tmp_path,))
    refused(capsys, "export", DIGITS_MEMBER, "--runtime", "tflite", "--out", tmp_path / "o",
            match=r"^error: unknown runtime 'tflite'; choose from", watch=(tmp_path,))
    with pytest.raises(PackageError, match=r"^images must be at least 1, got 0$"):
        export_model(DIGITS_MEMBER, "onnxruntime", tmp_path / "o", images=0)


def test_export_checks_names_without_the_registry_until_the_registry_is_loaded(monkeypatch):
    """Before timm loads, a name is checked against what `import ofa2_zoo` registers; once the
    registry is loaded, a name registered in this process (register_front) is the registry's call."""
    import sys

    from ofa2_zoo import export, registry

    name = "ofa2_testonly_front_0"
    entry = next(iter(registry._VERSIONS[DIGITS_MEMBER].values()))
    monkeypatch.setitem(registry._VERSIONS, name, {"local": entry})
    export._check_name(name)  # registered in this process: not refused before the registry decides
    assert registry.resolve_name(name) is entry
    monkeypatch.delitem(sys.modules, "ofa2_zoo.registry")
    with pytest.raises(RegistryError, match=rf"^unknown ofa2 model '{name}'"):
        export._check_name(name)
    export._check_name(DIGITS_MEMBER)  # a name of the zoo itself passes
    with pytest.raises(RegistryError, match=rf"^{DIGITS_MEMBER} has no version 'v7'; known: "):
        export._check_name(f"{DIGITS_MEMBER}.v7")


# ---------------------------------------------------------------------------- the parity gate
def test_parity_gate_boundary():
    t = np.array([[1.0, 0.0, -1.0]] * 4, dtype=np.float64)
    tol = 1e-6 + 1e-4 * 1.0

    def moved(by):  # the middle logit (exactly 0) moved by ``by``: the difference is exactly ``by``
        o = t.copy()
        o[:, 1] = by
        return o

    assert compare_logits(t, moved(tol), atol=1e-6, rtol=1e-4).passed  # exactly at the tolerance
    assert not compare_logits(t, moved(tol * 1.01), atol=1e-6, rtol=1e-4).passed  # just past it
    flipped = t.copy()
    flipped[0] = [0.0, 1.0, -1.0]  # a clear top-1 change (margin 1 > 2 * tol = 0.2)
    report = compare_logits(t, flipped, atol=0.1, rtol=0.0)
    assert not report.passed and report.unexplained_mismatches == 1 and report.top1_agreement == 0.75


def test_an_export_that_fails_the_gate_is_removed_and_says_why(tmp_path):
    """onnxruntime for real, compared with logits that are not the model's: the file is not kept."""
    model, images, logits = _validation()
    export = check_runtime("onnxruntime", model, tmp_path, images[:50], reference=logits[:50] + 0.5, atol=1e-6,
                           rtol=1e-4)
    assert not export.packaged and not (tmp_path / "model.onnx").exists()
    assert export.reason.startswith("onnxruntime parity check failed: max |logit diff| 0.5")
    rec = RuntimeRecord.model_validate(export.to_dict())  # what package.json would record
    assert not rec.packaged and rec.files == [] and rec.file is None and rec.parity.passed is False
    good = check_runtime("onnxruntime", model, tmp_path, images[:50], atol=1e-6, rtol=1e-4)
    assert good.packaged and good.files == ["model.onnx"] and (tmp_path / "model.onnx").stat().st_size == good.bytes


def test_read_export_refuses_what_is_not_a_consistent_export_record(tmp_path):
    (tmp_path / EXPORT_RECORD).write_text("[1]")
    with pytest.raises(PackageError, match=r"is not an ofa2 export record \(format 'ofa2-export/1'\)$"):
        read_export(tmp_path)
    (tmp_path / EXPORT_RECORD).write_text('{"format": "ofa2-export/1", "runtime": "litert", "packaged": true, '
                                          '"file": "model.tflite", "files": ["model.tflite"]}')
    with pytest.raises(PackageError, match=r"a packaged export needs its file among its files and a passed parity"):
        read_export(tmp_path)
    (tmp_path / EXPORT_RECORD).write_text("{")
    with pytest.raises(PackageError, match=r"is not a readable export record"):
        read_export(tmp_path)


def test_runtime_records_must_be_consistent():
    parity = {"n_images": 5, "max_abs_diff": 0.0, "tolerance": 1e-6, "top1_agreement": 1.0, "top1_mismatches": 0,
              "unexplained_mismatches": 0, "passed": True}
    ok = {"runtime": "litert", "file": "model.tflite", "files": ["model.tflite"], "bytes": 10, "parity": parity,
          "packaged": True}
    RuntimeRecord.model_validate(ok)
    for bad in ({**ok, "parity": {**parity, "passed": False}}, {**ok, "files": []}, {**ok, "reason": "x"},
                {**ok, "packaged": False, "reason": "failed"}, {**ok, "packaged": False, "files": [], "file": None}):
        with pytest.raises(ValidationError, match="runtime litert"):
            RuntimeRecord.model_validate(bad)
    member = {"k": 0, "name": "ofa2_x_front_0", "folder": "members/front_0", "front_index": 0, "arch": {"r": [4]},
              "objectives": {}, "files": {"model.tflite": "0" * 64}, "parity": parity}
    Member.model_validate({**member, "runtimes": {"litert": ok}})
    with pytest.raises(ValidationError, match="not among the member's files"):
        Member.model_validate({**member, "files": {"config.json": "0" * 64}, "runtimes": {"litert": ok}})
    with pytest.raises(ValidationError, match="records runtime 'litert'"):
        Member.model_validate({**member, "runtimes": {"openvino": ok}})


# ---------------------------------------------------------------------------- packaging
@pytest.fixture(scope="module")
def packaged_openvino(tmp_path_factory):
    """A tiny front packaged for onnxruntime and OpenVINO (the cheapest conversion) with latency."""
    _needs("openvino")
    tmp = tmp_path_factory.mktemp("runtimes")
    profile = write_profile(tmp / "profiles", PROFILE_YAML.replace("export: [onnx]\n",
                                                                   "export: [onnx]\nruntimes: [litert]\n"))
    write_front(tmp / "front", n=3)
    # --runtimes overrides the profile's [litert] (which may not even be installed here)
    return package_front(tmp / "front", tmp / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                         members=2, runtimes=["openvino"])


def test_package_records_each_runtime_in_package_json_config_json_and_the_card(packaged_openvino):
    pkg = packaged_openvino.path
    manifest = verify_package(pkg)  # the new files are listed, checksummed and contained
    assert manifest.data["runtimes"] == ["onnxruntime", "openvino"]
    for m in manifest.members:
        folder = pkg / m.folder
        assert list(m.runtimes) == ["onnxruntime", "openvino"]
        ov_rec, ort_rec = m.runtimes["openvino"], m.runtimes["onnxruntime"]
        assert ov_rec.packaged and ov_rec.files == ["openvino_model.xml", "openvino_model.bin"]
        assert ov_rec.bytes == sum((folder / f).stat().st_size for f in ov_rec.files)
        assert ov_rec.parity.passed and ov_rec.parity.n_images == 397 and ov_rec.parity.top1_agreement == 1.0
        assert ov_rec.versions["openvino"] and ort_rec.versions["onnxruntime"]
        assert ort_rec.parity == m.parity  # the ONNX file's own parity check
        for rec in (ov_rec, ort_rec):
            assert rec.latency.median_ms > 0 and rec.latency.batch == 1 and rec.latency.threads == 1
        # config.json records the same facts as package.json
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["runtimes"] == {n: r.model_dump(mode="json") for n, r in m.runtimes.items()}
        card = ModelCard.load(folder / "README.md").text
        assert "## Runtimes" in card and "openvino_model.xml" in card and '"INFERENCE_PRECISION_HINT": "f32"' in card
        row = next(line for line in card.splitlines() if line.startswith("| OpenVINO |"))
        assert f"{ov_rec.latency.median_ms:.3f} ms" in row and f"{ov_rec.parity.max_abs_diff:.1e}" in row
        assert "model.tflite" not in card  # the profile's litert was overridden
        # the `ofa2 package` summary table's cell
        assert _runtimes_cell(m) == (f"onnxruntime {ort_rec.latency.median_ms:.3f}, "
                                     f"openvino {ov_rec.latency.median_ms:.3f}")


def test_packaged_openvino_ir_loads_with_openvino_and_matches_timm(packaged_openvino):
    import openvino as ov

    pkg = packaged_openvino.path
    for m in read_manifest(pkg).members:
        folder = pkg / m.folder
        images = digits("val", m.arch["r"][0]).tensors[0]
        model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        compiled = ov.Core().compile_model(str(folder / "openvino_model.xml"), "CPU",
                                           {"INFERENCE_PRECISION_HINT": "f32"})
        _agrees(compiled(images.numpy())[0], torch_logits(model, images))


# ---------------------------------------------------------------------------- real exports, own APIs
FMNIST_MEMBER = "ofa2_fmnist_cpu_front_4"  # the shipped Fashion-MNIST front's most accurate member


def _export(runtime, tmp_path, name=DIGITS_MEMBER, images=1000):
    _needs(runtime)
    model, x, reference = _validation(name, images)
    result = export_model(name, runtime, tmp_path / "out", images=images)
    record = read_export(result.path)
    assert record == json.loads((result.path / EXPORT_RECORD).read_text()) == result.record
    assert record["name"] == name and record["tag"] == "embedded" and record["runtime"] == runtime
    assert record["parity"]["passed"] and record["parity"]["n_images"] == len(x)
    assert record["bytes"] == sum((result.path / f).stat().st_size for f in record["files"])
    assert sorted(p.name for p in result.path.iterdir()) == sorted(record["files"] + [EXPORT_RECORD])
    assert record["latency"]["median_ms"] > 0 and record["latency"]["batch"] == 1
    return result, x.numpy(), reference


def _own_api(runtime: str, path, images: np.ndarray) -> np.ndarray:
    """Logits of ``images`` from the exported file at ``path``, run with the runtime's own Python
    API (nothing of ofa2-zoo), one image at a time where the file takes batch 1."""
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        assert list(inp["shape"]) == [1, *images.shape[1:]]
        rows = []
        for image in images:
            interpreter.set_tensor(inp["index"], image[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out["index"]).copy())
        return np.concatenate(rows)
    if runtime == "executorch":
        from executorch.runtime import Runtime

        method = Runtime.get().load_program(str(path)).load_method("forward")
        return np.concatenate([method.execute([torch.from_numpy(image[None])])[0].numpy() for image in images])
    if runtime == "openvino":
        import openvino as ov

        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return compiled(images)[0]
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": images})[0]


def test_litert_export_runs_in_ai_edge_litert_like_torch(tmp_path):
    result, images, reference = _export("litert", tmp_path)
    _agrees(_own_api("litert", result.file, images), reference)


def test_executorch_export_runs_in_executorch_runtime_like_torch(tmp_path):
    result, images, reference = _export("executorch", tmp_path)
    _agrees(_own_api("executorch", result.file, images), reference)


def test_openvino_export_runs_in_openvino_like_torch(tmp_path):
    result, images, reference = _export("openvino", tmp_path)
    _agrees(_own_api("openvino", result.file, images), reference)
    assert hashlib.sha256((result.path / "openvino_model.bin").read_bytes()).hexdigest()  # weights beside the IR


@pytest.mark.parametrize("runtime", ["onnxruntime", "litert", "executorch", "openvino"])
def test_the_fashion_mnist_front_exports_for_every_runtime(runtime, tmp_path):
    """The shipped Fashion-MNIST member (24x24 px, 212 k parameters), exported for each runtime and
    run with that runtime's own API on 300 validation images: within 1e-4 of PyTorch, the same
    top-1 on every image."""
    from ofa2_zoo.errors import DatasetError
    from ofa2_zoo.training.fashion_mnist import data_folder

    _needs(runtime)
    try:
        data_folder()
    except DatasetError as exc:
        missing(f"Fashion-MNIST is not installed: {exc}")
    result, images, reference = _export(runtime, tmp_path, FMNIST_MEMBER, images=300)
    assert images.shape[1:] == (1, 24, 24)
    _agrees(_own_api(runtime, result.file, images), reference)


def test_onnxruntime_export_command_writes_the_checked_file(tmp_path, capsys):
    from _bad_input_helpers import run_cli

    rc, out, _ = run_cli(capsys, "export", DIGITS_MEMBER, "--runtime", "onnxruntime", "--out", tmp_path / "o",
                         "--no-latency", "--quiet")
    assert rc in (0, None)
    assert "model.onnx" in out.replace("\n", "")  # the console folds long paths at its width
    assert "top-1 agreement 100.00 %" in " ".join(out.split())
    record = read_export(tmp_path / "o")
    assert record["latency"] is None and record["files"] == ["model.onnx"]
    # the record's input is the member's (C, H, W), read back from its own timm config
    import timm

    assert record["input_size"] == list(timm.create_model(DIGITS_MEMBER).pretrained_cfg["input_size"])
    assert record["name"] == DIGITS_MEMBER and record["split"] == "val"
    _, images, reference = _validation()
    _agrees(_own_api("onnxruntime", tmp_path / "o" / "model.onnx", images.numpy()), reference)


def test_export_refuses_a_non_empty_folder_that_is_not_an_export_and_leaves_it(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(PackageError, match="non-empty folder that is not an ofa2 export"):
        export_model("ofa2_digits_cpu_front_0", "onnxruntime", mine, images=4, latency=False)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
