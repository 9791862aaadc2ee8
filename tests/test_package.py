"""Packaging a front: layout, byte-identical re-packaging, the ONNX parity gate, timm loading,
cards, and clear errors for bad input. Runs on a tiny 1-channel space with real digit images."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil

import numpy as np
import onnx
import pytest
import timm
import torch
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file

import ofa2_zoo  # noqa: F401  (registers ofa2_subnet)
from ofa2_zoo import extract_subnet
from ofa2_zoo.errors import Ofa2Error
from ofa2_zoo.front import FrontError
from ofa2_zoo.package import PackageError, ParityError, package_front, read_manifest
from ofa2_zoo.package import package as package_module
from ofa2_zoo.package.onnx_export import check_parity, export_onnx_bytes, ort_session
from ofa2_zoo.profiles import ProfileError

from _package_helpers import PROFILE_ID, PROFILE_YAML, TINY, digits, tiny_supernet, write_front, write_profile

MEMBERS = 3
PROFILE_YAML_F16 = PROFILE_YAML.replace("  members: 3\n", "  members: 3\n  weights_dtype: float16\n")


def _package(tmp, out_name="pkg", **kw):
    profile = write_profile(tmp / "profiles")
    front = tmp / "front"
    if not (front / "front.json").exists():
        write_front(front, n=4)
    kw.setdefault("supernet", tiny_supernet())
    kw.setdefault("members", MEMBERS)
    return package_front(front, tmp / out_name, data=digits, profile=profile, **kw)


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("package")
    return _package(tmp)


def test_layout_manifest_and_config(packaged):
    pkg = packaged.path
    m = read_manifest(pkg)
    assert m.format == "ofa2-package/1" and m.profile == PROFILE_ID and m.front_folder == "front"
    assert [x.k for x in m.members] == [0, 1, 2]
    assert [x.name for x in m.members] == [f"ofa2_tiny_test_front_{k}" for k in range(3)]
    idx = [x.front_index for x in m.members]
    assert idx[0] == 0 and idx[-1] == 3 and idx == sorted(set(idx))  # both ends, in latency order
    for x in m.members:
        folder = pkg / x.folder
        assert x.folder == f"members/front_{x.k}"
        assert {"config.json", "model.safetensors", "README.md", "model.onnx"} <= set(x.files)
        for name, sha in x.files.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["architecture"] == "ofa2_subnet" and cfg["num_classes"] == 10
        assert cfg["model_args"]["arch"] == x.arch and cfg["model_args"]["space"]["name"] == TINY.name
        pc = cfg["pretrained_cfg"]
        assert pc["input_size"] == [1, x.arch["r"][0], x.arch["r"][0]]
        assert pc["mean"] == [0.3] and pc["std"] == [0.4] and pc["label_names"] == [str(i) for i in range(10)]
        assert x.parity.passed and x.parity.n_images == 397 and x.parity.top1_agreement == 1.0
        assert x.tensorrt is not None and not x.tensorrt.built and "trtexec --onnx=model.onnx" in x.tensorrt.command
    assert sorted(p.name for p in (pkg / "front").iterdir()) == ["README.md", "front.json", "front.png", "index.html",
                                                             "package.json"]
    assert (pkg / "front" / "package.json").read_bytes() == (pkg / "package.json").read_bytes()
    assert not [p for p in pkg.parent.iterdir() if p.name.startswith(".pkg.")]  # no temp folders left


def test_repackaging_is_byte_identical(packaged, tmp_path):
    # (runtime latencies are measurements, different each run: runtime_latency=False)
    again = _package(packaged.path.parent, out_name="pkg", runtime_latency=False)  # same front, supernet seed, out dir
    steps, threads = [], []
    before = torch.get_num_threads()
    caller_threads = 2 if before != 2 else 3  # a setting of the caller's that is not packaging's 1
    torch.set_num_threads(caller_threads)
    try:
        second = _package(packaged.path.parent, out_name="pkg-b", runtime_latency=False,
                          progress=lambda *a: steps.append(a) or threads.append(torch.get_num_threads()))
    finally:
        after = torch.get_num_threads()
        torch.set_num_threads(before)
    assert _digest(again.path) == _digest(second.path)
    shutil.rmtree(second.path)
    # every long step of every member is reported, with the members done so far
    per_member = ["extract", "BN re-calibration", "save", "evaluate", "ONNX export", "ONNX parity", "model card"]
    assert steps == [(f"member {k}: {s}", k, MEMBERS) for k in range(MEMBERS) for s in per_member] + \
        [("front folder", MEMBERS, MEMBERS), ("done", MEMBERS, MEMBERS)]
    # packaging runs on one torch thread (PackageOptions.threads) and gives the caller's setting back
    assert set(threads[:-1]) == {1} and threads[-1] == caller_threads == after


def test_measured_accuracy_is_what_timm_users_get(packaged):
    """The card's measured top-1 is the top-1 of the model timm loads from the folder."""
    m = read_manifest(packaged.path)
    for x in m.members:
        model = timm.create_model(f"local-dir:{packaged.path / x.folder}", pretrained=True).eval()
        val = digits("val", x.arch["r"][0])
        with torch.no_grad():
            pred = model(val.tensors[0]).argmax(1)
        top1 = 100.0 * float((pred == val.tensors[1]).float().mean())
        assert top1 == pytest.approx(x.measured["top1"], abs=1e-3)
        card = ModelCard.load(packaged.path / x.folder / "README.md")
        measured = [r for r in card.data.eval_results if "measured" in r.metric_name]
        assert len(measured) == 1 and measured[0].metric_value == pytest.approx(top1, abs=1e-3)
        assert measured[0].dataset_split == "val" and measured[0].dataset_type == "sklearn-digits"


def test_onnx_file_opset_dynamic_batch_and_agreement_on_every_image(packaged):
    m = read_manifest(packaged.path)
    for x in m.members:
        folder = packaged.path / x.folder
        proto = onnx.load(folder / "model.onnx")
        onnx.checker.check_model(proto, full_check=True)
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        val = digits("val", x.arch["r"][0]).tensors[0]
        model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        with torch.no_grad():
            torch_top1 = model(val).argmax(1).numpy()
        ort_top1 = ort_session(folder / "model.onnx").run(["logits"], {"input": val.numpy()})[0].argmax(1)
        assert (torch_top1 == ort_top1).all()


def test_timm_expectations_on_a_packaged_member(packaged):
    x = read_manifest(packaged.path).members[1]
    folder, r = packaged.path / x.folder, x.arch["r"][0]
    model = timm.create_model(f"local-dir:{folder}", pretrained=True)
    weights = load_file(folder / "model.safetensors")
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    out = model(torch.randn(4, 1, r, r))
    out.sum().backward()
    assert out.shape == (4, 10) and all(p.grad is not None for p in model.parameters())
    # The tiny space has 3 feature levels (timm's default asks for 5).
    feats = timm.create_model(f"local-dir:{folder}", pretrained=True, features_only=True, out_indices=(0, 1, 2))
    maps = feats(torch.randn(2, 1, r, r))
    assert [t.shape[1] for t in maps] == feats.feature_info.channels()
    head = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=3)
    assert head(torch.randn(2, 1, r, r)).shape == (2, 3)
    assert torch.equal(head.conv_stem.weight, weights["conv_stem.weight"])  # body kept, head new
    cfg = timm.data.resolve_data_config({}, model=model)
    assert tuple(cfg["input_size"]) == (1, r, r) and tuple(cfg["mean"]) == (0.3,) and tuple(cfg["std"]) == (0.4,)
    assert cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bilinear"
    transform = timm.data.create_transform(**cfg)
    img = Image.fromarray((np.arange(64, dtype=np.uint8).reshape(8, 8) * 4), mode="L")
    assert transform(img).shape == (1, r, r)


def test_cards_parse_with_hub_metadata(packaged):
    m = read_manifest(packaged.path)
    for x in m.members:
        card = ModelCard.load(packaged.path / x.folder / "README.md")
        d = card.data
        assert d.library_name == "timm" and d.pipeline_tag == "image-classification" and d.license == "mit"
        assert "ofa2-zoo" in d.tags and d.datasets == ["sklearn-digits"] and d.model_name == x.name
        predicted = [r for r in d.eval_results if "predicted" in r.metric_name]
        assert predicted[0].metric_value == pytest.approx(x.objectives["top1"])
        assert f'timm.create_model("{x.name}", pretrained=True)' in card.text
        assert "No TensorRT engine is included" in card.text and x.tensorrt.command in card.text
        assert m.front_version_id in card.text and "![front](front.png)" in card.text
    index = ModelCard.load(packaged.path / "front" / "README.md")
    assert index.data.library_name == "timm"
    assert all(f"`{x.name}`" in index.text for x in m.members)


def _wrong_graph_for_member(k_bad: int):
    """An exporter that silently produces a wrong graph (a shifted logit) for one member."""
    calls = {"n": 0}

    def export(model, shape, *a, **kw):
        k = calls["n"]
        calls["n"] += 1
        if k != k_bad:
            return export_onnx_bytes(model, shape, *a, **kw)
        clone = copy.deepcopy(model)
        with torch.no_grad():
            clone.classifier.bias[3] += 5.0
        return export_onnx_bytes(clone, shape, *a, **kw)

    return export


def test_parity_failure_stops_packaging_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(package_module, "export_onnx_bytes", _wrong_graph_for_member(1))
    with pytest.raises(ParityError, match=r"member 1 .*nothing was written"):
        _package(tmp_path)
    assert not (tmp_path / "pkg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front", "profiles"]  # no temp folder either


def test_parity_failure_keeps_the_previous_package(packaged, tmp_path, monkeypatch):
    old = tmp_path / "pkg"
    shutil.copytree(packaged.path, old)
    shutil.copytree(packaged.path.parent / "front", tmp_path / "front")
    before = _digest(old)
    monkeypatch.setattr(package_module, "export_onnx_bytes", _wrong_graph_for_member(0))
    with pytest.raises(ParityError):
        _package(tmp_path)
    assert _digest(old) == before


def test_parity_check_catches_a_wrong_graph_and_accepts_the_right_one():
    net = tiny_supernet()
    model = extract_subnet(net, TINY.sample(1, 3)[0]).eval()
    r = model.pretrained_cfg["input_size"][-1]
    images = digits("val", r).tensors[0][:64]
    good = check_parity(model, export_onnx_bytes(model, (1, 1, r, r)), images)
    assert good.passed and good.max_abs_diff <= good.tolerance and good.top1_agreement == 1.0
    other = extract_subnet(tiny_supernet(seed=1), model.ofa2_arch).eval()  # same graph, other weights
    bad = check_parity(model, export_onnx_bytes(other, (1, 1, r, r)), images)
    assert not bad.passed and bad.max_abs_diff > bad.tolerance


def test_corrupt_front_json_is_a_clear_error(tmp_path):
    write_front(tmp_path / "front")
    (tmp_path / "front" / "front.json").write_text('{"format": "ofa2-front/1", "members": [')
    with pytest.raises(FrontError, match="not valid JSON"):
        _package(tmp_path)
    data = json.loads(json.dumps({"format": "ofa2-front/1"}))
    (tmp_path / "front" / "front.json").write_text(json.dumps(data))
    with pytest.raises(FrontError, match="field"):
        _package(tmp_path)
    assert not (tmp_path / "pkg").exists()


def test_unknown_arch_in_front_is_a_clear_error(tmp_path):
    write_front(tmp_path / "front")
    path = tmp_path / "front" / "front.json"
    data = json.loads(path.read_text())
    data["members"][1]["arch"]["ks"][0] = 4
    path.write_text(json.dumps(data))
    with pytest.raises(FrontError, match=r"members.1.arch.: .*kernel size"):
        _package(tmp_path)


def test_unknown_profile_is_a_clear_error(tmp_path, monkeypatch):
    write_front(tmp_path / "front", profile_id="no-such-profile")
    monkeypatch.setenv("OFA2_PROFILES", str(tmp_path / "profiles"))
    with pytest.raises(ProfileError, match="unknown hardware profile 'no-such-profile'"):
        package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits)


def test_bad_inputs_are_clear_errors(tmp_path):
    write_front(tmp_path / "front")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "keep.txt").write_text("mine")
    with pytest.raises(PackageError, match="not an ofa2 package; refusing"):
        _package(tmp_path, out_name="junk")
    assert (tmp_path / "junk" / "keep.txt").read_text() == "mine"
    with pytest.raises(PackageError, match="does not match the front's space"):
        from ofa2_zoo import load_supernet

        _package(tmp_path, supernet=load_supernet("ofa_mbv3_w1.0"))
    with pytest.raises(PackageError, match="unknown TensorRT precision"):
        _package(tmp_path, tensorrt="int4")
    with pytest.raises(PackageError, match="bad packaging option"):
        _package(tmp_path, calib_imgs=10)
    net = tiny_supernet()
    net.weights_sha256 = "f" * 64
    front = json.loads((tmp_path / "front" / "front.json").read_text())
    front["supernet"]["sha256"] = "0" * 64
    (tmp_path / "front" / "front.json").write_text(json.dumps(front))
    with pytest.raises(PackageError, match="package with the weights the search used"):
        _package(tmp_path, supernet=net)
    assert issubclass(PackageError, Ofa2Error)
    assert not (tmp_path / "pkg").exists()


def test_tensorrt_requested_without_tensorrt_says_why_and_how(tmp_path):
    if package_module.tensorrt.unavailable_reason() is None:
        pytest.skip("TensorRT and a GPU are present here; the engine test below covers them")
    res = _package(tmp_path, tensorrt="fp16", members=1)  # what each member's card says: one member shows it
    x = res.manifest.members[0]
    assert not x.tensorrt.built
    why = package_module.tensorrt.unavailable_reason()
    assert why in ("the tensorrt Python package is not installed (pip install 'ofa2-zoo[tensorrt]')",
                   "no CUDA GPU is visible on this machine")
    assert x.tensorrt.reason == f"it could not be built where this package was made: {why}"
    assert not any(name.endswith(".engine") for name in x.files)
    card = (res.path / x.folder / "README.md").read_text()
    assert "could not be built where this package was made" in card and "--fp16" in card


def test_the_trtexec_command_is_the_engine_the_builder_would_make():
    """The fp16 command written into cards: the member's shapes from batch 1 to the largest, and
    the builder's own 1 GiB workspace (trtexec reads ``M`` as MiB)."""
    cmd = package_module.tensorrt.build_command((1, 24, 24), "fp16", 4, 32)
    assert cmd == ("trtexec --onnx=model.onnx --saveEngine=model.fp16.engine --fp16 --minShapes=input:1x1x24x24 "
                   "--optShapes=input:4x1x24x24 --maxShapes=input:32x1x24x24 --memPoolSize=workspace:1024M")
    assert package_module.tensorrt.WORKSPACE_BYTES == 1024 * 2 ** 20


@pytest.mark.skipif(package_module.tensorrt.unavailable_reason() is not None,
                    reason=f"TensorRT engine build: {package_module.tensorrt.unavailable_reason()}")
def test_tensorrt_engine_is_built_and_measured(tmp_path):
    res = _package(tmp_path, tensorrt="fp16")
    x = res.manifest.members[0]
    assert x.tensorrt.built and x.tensorrt.engine in x.files
    settings = json.loads((res.path / x.folder / f"{x.tensorrt.engine}.json").read_text())
    assert settings["precision"] == "fp16" and 1e-3 < settings["latency_ms"] < 1e3  # ms: not s, not µs


def test_cli_package_help_and_one_line_errors(tmp_path):
    from typer.testing import CliRunner

    from ofa2_zoo.cli import build_app

    runner = CliRunner()
    res = runner.invoke(build_app(), ["package", "--help"])
    assert res.exit_code == 0 and "--out" in res.output and "--tensorrt" in res.output
    write_front(tmp_path / "front")
    (tmp_path / "front" / "front.json").write_text("{not json")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "ofa2_zoo", "package", str(tmp_path / "front"), "--out",
                           str(tmp_path / "pkg")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(package_module.tensorrt.unavailable_reason() is None, reason="TensorRT is available here")
def test_engine_builder_without_tensorrt_says_why(packaged):
    import subprocess
    import sys

    folder = packaged.path / "members" / "front_0"
    proc = subprocess.run([sys.executable, "-m", "ofa2_zoo.package.tensorrt", str(folder), "--precision", "fp16"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot build a TensorRT engine" in proc.stderr
    assert not list(folder.glob("*.engine"))
    cmd = package_module.tensorrt.build_command((1, 16, 16), "int8", 1, 32, "digits")
    assert cmd.startswith("python -m ofa2_zoo.package.tensorrt . --precision int8 --data digits")


def test_float16_weights_are_what_the_card_measured(tmp_path, packaged):
    """``package.weights_dtype: float16`` stores float16 tensors; timm loads them into the float32
    model unchanged, and the card's top-1 and the ONNX parity are of those rounded weights."""
    profile = write_profile(tmp_path / "profiles", PROFILE_YAML_F16)
    write_front(tmp_path / "front", n=4)
    result = package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits,
                           profile=profile, members=2)
    for x in read_manifest(result.path).members:
        folder = result.path / x.folder
        stored = load_file(folder / "model.safetensors")
        floats = {k: v for k, v in stored.items() if v.is_floating_point()}
        assert floats and all(v.dtype == torch.float16 for v in floats.values())
        model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        state = model.state_dict()
        for k, v in floats.items():
            assert state[k].dtype == torch.float32 and torch.equal(state[k], v.float()), k
        val = digits("val", x.arch["r"][0])
        with torch.no_grad():
            top1 = 100.0 * float((model(val.tensors[0]).argmax(1) == val.tensors[1]).float().mean())
        assert top1 == pytest.approx(x.measured["top1"], abs=1e-3)
        assert "(stored as float16 in `model.safetensors`, computed in float32;" in (folder / "README.md").read_text()
    float32 = packaged.path  # the same front packaged with the default dtype (float32)
    assert "stored as float16" not in (float32 / "members" / "front_0" / "README.md").read_text()
    assert load_file(float32 / "members" / "front_0" / "model.safetensors")["conv_stem.weight"].dtype == torch.float32


def test_cards_of_a_dataset_with_a_test_split_are_measured_on_it():
    from ofa2_zoo.package.data import eval_split

    assert eval_split("fashion-mnist") == "test"
    assert eval_split("digits") == "val" and eval_split("/some/image/folder") == "val" and eval_split(digits) == "val"


def test_front_card_states_the_images_the_members_were_measured_and_calibrated_on(packaged):
    """The front card's note agrees with the member cards (the split's real size, not the option)."""
    manifest = read_manifest(packaged.path)
    m = manifest.members[0].measured
    card = (packaged.path / manifest.front_folder / "README.md").read_text()
    assert m["calibration_images"] < package_module.PackageOptions().calib_images  # fewer than asked for
    assert (f"Measured top-1: {m['top1_images']} images of the {m['top1_dataset']} `val` split, after BN "
            f"re-calibration on {m['calibration_images']} training images.") in card
    member_card = (packaged.path / manifest.members[0].folder / "README.md").read_text()
    assert f"| BN re-calibration | {m['calibration_images']} images of the " in member_card  # not the option's 2000
    assert f"re-estimated on {m['calibration_images']} training images" in member_card


def test_front_card_table_rows_are_each_members_own_numbers(packaged):
    """Every row of the front card's table, cell by cell, against the member's record in package.json:
    measured top-1 and the search's top-1 in their own columns (they differ), latency, MACs, params, input."""
    manifest = read_manifest(packaged.path)
    card = (packaged.path / manifest.front_folder / "README.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in card.splitlines()
            if line.startswith("| ") and "`" in line and line.count("|") == 9]
    assert len(rows) == len(manifest.members)
    for row, m in zip(rows, manifest.members):
        expected = [str(m.k), f"`{m.name}`", f"{m.measured['top1']:.2f}", f"{m.objectives['top1']:.2f}",
                    f"{m.objectives['latency_ms']:.3f}", f"{m.objectives['macs_m']:.2f}",
                    f"{m.objectives['params_m']:.3f}", f"1×{m.arch['r'][0]}²"]
        assert row == expected
    assert any(f"{m.measured['top1']:.2f}" != f"{m.objectives['top1']:.2f}" for m in manifest.members)


def test_explorer_members_load_the_version_the_page_shows(packaged):
    """Once published as v2, each packaged member's name and snippet on the page are ``name.v2`` from its own
    Hub repo at v2 (not the untagged name, which loads whatever version is the default)."""
    from ofa2_zoo.explorer import timm_snippet
    from ofa2_zoo.package.plots import packaged_members

    manifest = read_manifest(packaged.path)
    repos = {m.k: f"owner/repo-{m.k}" for m in manifest.members}
    published = packaged_members(manifest, tag="v2", repo_ids=repos)
    local = packaged_members(manifest)
    assert [p.k for p in published] == [m.k for m in manifest.members]
    for p, l, m in zip(published, local, manifest.members):
        assert (p.front_index, p.name, p.hub_repo) == (m.front_index, f"{m.name}.v2", f"owner/repo-{m.k}@v2")
        assert p.snippet == timm_snippet(f"{m.name}.v2", f"owner/repo-{m.k}@v2")
        assert f'"{m.name}.v2"' in p.snippet and f'"{m.name}"' not in p.snippet
        assert (l.name, l.hub_repo, l.snippet) == (m.name, None, timm_snippet(m.name, None))


def test_cards_and_explorer_say_which_machine_gave_the_latencies(packaged):
    """front.json's profile.latency_by reaches the member cards, the front card and the explorer."""
    from _package_helpers import LATENCY_BY
    from ofa2_zoo.explorer import read_data

    manifest = read_manifest(packaged.path)
    member = (packaged.path / manifest.members[0].folder / "README.md").read_text()
    assert f"(measured, profile {manifest.profile}: {LATENCY_BY})" in member
    front_card = (packaged.path / manifest.front_folder / "README.md").read_text()
    assert f"latency measured ({LATENCY_BY})." in front_card
    page = (packaged.path / manifest.front_folder / "index.html").read_text()
    assert read_data(page)["latency_by"] == LATENCY_BY

