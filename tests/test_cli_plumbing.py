"""Option plumbing of the ``ofa2`` commands: each option's value reaches the right parameter of
the Python API, exactly, and an option left out arrives as the API's own default.

Each command runs through the console script's entry point (``ofa2_zoo.cli.main``) with the API
function it calls replaced by a :class:`Recorder`, which binds every call to the real function's
signature: a keyword the API does not have fails the test, and the recorded arguments include
the defaults the CLI left to the API. The "every option" tests give each option a value that is
valid, not its default, and distinct from every other option's (a swap of two is caught); the
"no option" tests compare with ``inspect.signature(api).parameters[name].default`` wherever the
CLI's help says it uses the API's default, and with the CLI's documented default where it
deliberately differs (said where it does).

Already covered elsewhere (not repeated here): ``ofa2 publish``'s --retries, --timeout,
--version, --no-index, --dry-run and --namespace (``test_cli_bounds.py::
test_publish_hands_its_options_to_the_publisher``); ``train-supernet``'s --data and
--epochs-scale with a dataset's preset (``test_training_cli.py``); ``arch show --space``
(``test_cli_arch.py::test_show_valid_arch``). Commands whose only options are a folder (``assets
path``, ``data path|fetch``, ``profile list|show|measure``, ``zoo add|forget``) or that hand
nothing to the API (``zoo list``, ``front diff``, ``arch spaces``) are left out.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from _bad_input_helpers import run_cli


class Recorder:
    """A recording fake of an API function: each call is bound to ``real``'s signature (defaults
    applied, ``**kwargs`` flattened) and recorded; returns ``result(**arguments)`` when ``result``
    is callable, else ``result``."""

    def __init__(self, real, result=None):
        self.signature = inspect.signature(real)
        self.result = result
        self.calls: list[dict] = []

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)  # a keyword the API lacks raises TypeError here
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name, p in self.signature.parameters.items():
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
        self.calls.append(arguments)
        return self.result(**arguments) if callable(self.result) else self.result

    @property
    def only(self) -> dict:
        assert len(self.calls) == 1, f"expected one call, got {len(self.calls)}"
        return self.calls[0]


def fake(monkeypatch, module: str, name: str, result=None) -> Recorder:
    """Replace ``module.name`` (where the command looks it up) by a :class:`Recorder`."""
    mod = importlib.import_module(module)
    recorder = Recorder(getattr(mod, name), result)
    monkeypatch.setattr(mod, name, recorder)
    return recorder


def assert_arrived(arguments: dict, expected: dict) -> None:
    """Each expected value arrived at its parameter, equal and of the same type."""
    wrong = {k: (arguments.get(k, "<missing>"), v) for k, v in expected.items()
             if arguments.get(k, "<missing>") != v or type(arguments.get(k)) is not type(v)}
    assert not wrong, "parameter: (arrived, expected): " + repr(wrong)


def api_defaults(func, *names) -> dict:
    params = inspect.signature(func).parameters
    return {n: params[n].default for n in names}


def ok(capsys, *args) -> str:
    """Run ``ofa2 ARGS``, assert it succeeded, return its stdout."""
    code, out, err = run_cli(capsys, *args)
    assert code in (0, None), err
    return out


@pytest.fixture(scope="module")
def fronts(tmp_path_factory):
    """Two real digits-cpu fronts (different versions) of a tiny search, saved."""
    search = importlib.import_module("ofa2_zoo.search").search
    root = tmp_path_factory.mktemp("fronts")
    return [search("digits-cpu", population=8, generations=2, seed=s).save(root / f"f{s}").parent for s in (0, 1)]


@pytest.fixture
def machine_check(monkeypatch) -> Recorder:
    """The profile check the search/run/package commands run first, recorded (off in the tests anyway)."""
    return fake(monkeypatch, "ofa2_zoo.cli.profile", "check_this_machine")


# ---------------------------------------------------------------------------------- ofa2 search
def _front_result(fronts):
    from ofa2_zoo.front import Front

    return lambda **_: Front.load(fronts[0])


def test_search_hands_every_option_to_search(tmp_path, capsys, monkeypatch, fronts, machine_check):
    api = fake(monkeypatch, "ofa2_zoo.search", "search", _front_result(fronts))
    out, assets, cache = tmp_path / "out", tmp_path / "assets", tmp_path / "cache"
    ok(capsys, "search", "--profile", "fmnist-cpu", "--supernet", "ofa2_fmnist", "--algorithm", "nsga2",
       "--population", 7, "--generations", 3, "--seed", 11, "--assets", assets, "--out", out,
       "--objective", "top1", "--objective", "macs_m", "--executor", "process", "--workers", 2,
       "--cache", cache, "--engine", "pymoo", "--no-plot", "--quiet")
    assert_arrived(api.only, {"profile": "fmnist-cpu", "supernet": "ofa2_fmnist", "algorithm": "nsga2",
                              "population": 7, "generations": 3, "seed": 11, "assets": assets,
                              "objectives": ["top1", "macs_m"], "executor": "process", "workers": 2,
                              "cache": cache, "engine": "pymoo"})
    assert_arrived(machine_check.only, {"profile": "fmnist-cpu", "assets": assets})
    assert (out / "front.json").is_file() and not (out / "front.png").exists()  # --out, --no-plot


# ---------------------------------------------------------------------------------- ofa2 run
def _run_result(fronts, tmp_path):
    from ofa2_zoo.front import Front

    front = Front.load(fronts[0])
    return SimpleNamespace(front=front, front_dir=fronts[0], package_dir=tmp_path / "pkg", seconds={"search": 0.1})


def _fake_run(monkeypatch, fronts, tmp_path):
    """run_pipeline and the manifest it wrote (one member of the real front) faked; returns the
    (run_pipeline, load_profile, record_in_local_zoo) recorders."""
    result = _run_result(fronts, tmp_path)
    m = result.front.members[0]
    manifest = SimpleNamespace(members=[SimpleNamespace(name="ofa2_digits_cpu_front_0", arch=m.arch.to_dict(),
                                                        objectives=m.objectives, measured={"top1": 90.0})])
    fake(monkeypatch, "ofa2_zoo.package.manifest", "read_manifest", manifest)
    return (fake(monkeypatch, "ofa2_zoo.run", "run_pipeline", result),
            fake(monkeypatch, "ofa2_zoo.profiles", "load_profile"),
            fake(monkeypatch, "ofa2_zoo.cli.run", "record_in_local_zoo"))


def test_run_hands_every_option_to_run_pipeline(tmp_path, capsys, monkeypatch, fronts, machine_check):
    api, load, record = _fake_run(monkeypatch, fronts, tmp_path)
    out, assets = tmp_path / "o", tmp_path / "assets"
    ok(capsys, "run", "--out", out, "--profile", "fmnist-cpu", "--algorithm", "nsga2", "--population", 7,
       "--generations", 3, "--seed", 11, "--members", 2, "--assets", assets, "--no-record", "--quiet")
    assert_arrived(api.only, {"out_dir": out, "profile": "fmnist-cpu", "algorithm": "nsga2", "population": 7,
                              "generations": 3, "seed": 11, "members": 2, "assets": assets})
    assert_arrived(load.only, {"name": "fmnist-cpu", "assets": assets})
    assert_arrived(machine_check.only, {"profile": "fmnist-cpu", "assets": assets})
    assert_arrived(record.only, {"package_dir": tmp_path / "pkg", "record": False})


# ---------------------------------------------------------------------------------- ofa2 package
def _fake_package(monkeypatch, out):
    row = SimpleNamespace(name="ofa2_tiny_test_front_0", k=0, arch={"r": [12]}, measured={"top1": 90.0},
                          parity=SimpleNamespace(max_abs_diff=1e-7, top1_agreement=1.0), runtimes={}, tensorrt=None)
    result = SimpleNamespace(path=out, timings=[SimpleNamespace(total=1.0)], manifest=SimpleNamespace(
        members=[row], profile="tiny-test", front_version_id="0" * 64, front_folder="front"))
    return (fake(monkeypatch, "ofa2_zoo.package", "package_front", result),
            fake(monkeypatch, "ofa2_zoo.cli.package", "record_in_local_zoo"))


def test_package_hands_every_option_to_package_front(tmp_path, capsys, monkeypatch, fronts, machine_check):
    front_dir = fronts[0]
    out, assets = tmp_path / "pkg", tmp_path / "assets"
    api, record = _fake_package(monkeypatch, out)
    ok(capsys, "package", front_dir, "--out", out, "--weights", "my.safetensors", "--data", "my-images",
       "--members", 3, "--calib-images", 17, "--calib-batch", 5, "--parity-images", 23, "--eval-images", 29,
       "--measure-latency", "--tensorrt", "fp16,int8", "--runtimes", "onnxruntime,openvino",
       "--no-runtime-latency", "--int8", "--int8-calib-images", 31, "--license", "apache-2.0", "--seed", 37,
       "--profile", "tiny.yaml", "--assets", assets, "--threads", 4, "--no-record", "--quiet")
    assert_arrived(api.only, {"front_dir": front_dir, "out_dir": out, "weights": "my.safetensors",
                              "data": "my-images", "members": 3, "calib_images": 17, "calib_batch": 5,
                              "parity_images": 23, "eval_images": 29, "measure_latency": True,
                              "tensorrt": ["fp16", "int8"], "runtimes": "onnxruntime,openvino",
                              "runtime_latency": False, "int8": True, "int8_calib_images": 31,
                              "license": "apache-2.0", "seed": 37, "profile": "tiny.yaml", "assets": assets,
                              "threads": 4})
    assert_arrived(machine_check.only, {"profile": "tiny.yaml", "assets": assets})  # --profile wins over the front's
    assert_arrived(record.only, {"package_dir": out, "record": False})


# ---------------------------------------------------------------------------------- ofa2 export
def _export_result(**kw):
    return SimpleNamespace(file=Path("model.tflite"), record={
        "bytes": 100, "parity": {"max_abs_diff": 1e-7, "top1_agreement": 1.0, "n_images": 13}})


def test_export_hands_every_option_to_export_model(tmp_path, capsys, monkeypatch):
    api = fake(monkeypatch, "ofa2_zoo.export", "export_model", _export_result)
    ok(capsys, "export", "ofa2_front_2.v3", "--runtime", "onnxruntime", "--out", tmp_path / "o", "--data",
       "my-images", "--images", 13, "--no-latency", "--quiet")
    assert_arrived(api.only, {"name": "ofa2_front_2.v3", "runtime": "onnxruntime", "out": tmp_path / "o",
                              "data": "my-images", "images": 13, "latency": False})


# ---------------------------------------------------------------------------------- publish / pull
def _publish_result(**kw):
    return SimpleNamespace(status="dry run", profile="digits-cpu", version="v3", repos=[])


def test_publish_hands_the_package_and_index_to_publish(tmp_path, capsys, monkeypatch):
    """The options test_cli_bounds.py does not check: the package folder and --index."""
    api = fake(monkeypatch, "ofa2_zoo.publish", "publish", _publish_result)
    ok(capsys, "publish", tmp_path / "pkg", "--namespace", "org", "--index", tmp_path / "index.json", "--quiet")
    assert_arrived(api.only, {"package_dir": tmp_path / "pkg", "namespace": "org",
                              "index_path": tmp_path / "index.json"})


def _pull_result(**kw):
    return SimpleNamespace(target=SimpleNamespace(name="ofa2_front_0", repo_id="org/r", revision="v2"),
                           commit="abc", files=["model.safetensors"], path=Path("/nowhere"))


def test_pull_hands_every_option_to_pull(tmp_path, capsys, monkeypatch):
    api = fake(monkeypatch, "ofa2_zoo.publish", "pull", _pull_result)
    ok(capsys, "pull", "ofa2_front_0.v2", "--index", tmp_path / "index.json", "--local-dir", tmp_path / "here")
    assert_arrived(api.only, {"name": "ofa2_front_0.v2", "index_path": tmp_path / "index.json",
                              "local_dir": tmp_path / "here"})


# ---------------------------------------------------------------------------------- ofa2 profile
AGREEMENT = SimpleNamespace(within_10pct=0.5, mape=3.0, kendall_tau=0.9, bias=0.1)


@pytest.fixture
def profile_obj(monkeypatch) -> tuple[Recorder, SimpleNamespace]:
    """load_profile faked: the profile object the commands must hand on to the API."""
    p = SimpleNamespace(id="fake-profile", table=SimpleNamespace(meta={}))
    return fake(monkeypatch, "ofa2_zoo.profiles", "load_profile", p), p


def test_profile_build_lut_hands_every_option_to_build_lut(tmp_path, capsys, monkeypatch, profile_obj):
    load, p = profile_obj
    table = tmp_path / "lut.json"
    table.write_text("{}")
    api = fake(monkeypatch, "ofa2_zoo.profiles.build", "build_lut", table)
    ok(capsys, "profile", "build-lut", "cpu-torch", "--out", table, "--calibrate", 7, "--fresh", "--seed", 5,
       "--chunk", 3, "--quiet")
    assert api.only["profile"] is p and load.only["name"] == "cpu-torch"
    assert_arrived(api.only, {"out": table, "resume": False, "calibration_archs": 7, "seed": 5, "chunk": 3})


def test_profile_validate_hands_every_option_on(tmp_path, capsys, monkeypatch, profile_obj):
    load, p = profile_obj
    report = SimpleNamespace(raw=AGREEMENT, calibrated=AGREEMENT, extremes=None, calibration={"scale": 1.5},
                             speed_vs_calibration=None, to_dict=lambda: {"n": 7})
    stored = tmp_path / "table.json"
    stored.write_text("{}")
    api = fake(monkeypatch, "ofa2_zoo.profiles.validate", "validate_profile", report)
    plot = fake(monkeypatch, "ofa2_zoo.profiles.validate", "plot_validation", lambda **kw: kw["path"])
    store = fake(monkeypatch, "ofa2_zoo.profiles.validate", "store_calibration", stored)
    assets = tmp_path / "assets"
    ok(capsys, "profile", "validate", "cpu-torch", "-n", 7, "--seed", 5, "--calibrate", 3, "--save-calibration",
       "--plot", tmp_path / "v.png", "--json", tmp_path / "v.json", "--assets", assets, "--quiet")
    assert_arrived(load.only, {"name": "cpu-torch", "assets": assets})
    assert api.only["profile"] is p
    assert_arrived(api.only, {"n": 7, "seed": 5, "calibrate": 3})
    assert plot.only["report"] is report and plot.only["path"] == tmp_path / "v.png"
    assert json.loads((tmp_path / "v.json").read_text()) == {"n": 7}
    assert store.only["profile"] is p and store.only["calibration"] == {"scale": 1.5}


def _calibration_result(**kw):
    return SimpleNamespace(rows=[("table sum", AGREEMENT)], check_networks=kw["check"], fingerprint="f00",
                           path=Path("calibration.json"), warning=None)


def test_profile_calibrate_hands_every_option_to_calibrate_machine(tmp_path, capsys, monkeypatch, profile_obj):
    load, p = profile_obj
    api = fake(monkeypatch, "ofa2_zoo.profiles.calibration", "calibrate_machine", _calibration_result)
    ok(capsys, "profile", "calibrate", "cpu-torch", "-n", 9, "--check", 3, "--seed", 5, "--assets",
       tmp_path / "assets", "--quiet")
    assert_arrived(load.only, {"name": "cpu-torch", "assets": tmp_path / "assets"})
    assert api.only["profile"] is p
    assert_arrived(api.only, {"n": 9, "check": 3, "seed": 5})


def test_profile_canary_write_force_reach_stamp_table(tmp_path, capsys, monkeypatch, profile_obj):
    load, p = profile_obj
    table = tmp_path / "lut.json"
    table.write_text("{}")
    stamp = fake(monkeypatch, "ofa2_zoo.profiles.calibration", "stamp_table", (table, {"total_ms": 1.0}))
    check = fake(monkeypatch, "ofa2_zoo.profiles.calibration", "check_machine")
    ok(capsys, "profile", "canary", "cpu-torch", "--write", "--force", "--assets", tmp_path / "assets")
    assert_arrived(load.only, {"name": "cpu-torch", "assets": tmp_path / "assets"})
    assert stamp.only["profile"] is p and stamp.only["force"] is True
    assert check.calls == []  # --write stores the canary; it does not compare


# ---------------------------------------------------------------------------------- train-supernet / fit-predictor
@pytest.fixture
def training(monkeypatch, tmp_path):
    """train_supernet, write_outputs and the dataset faked; the environment the command sets restored."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("OFA2_DATA", str(tmp_path / "env-data"))
    net = object()
    return SimpleNamespace(
        net=net,
        data=fake(monkeypatch, "ofa2_zoo.training.data", "get_dataset",
                  SimpleNamespace(in_chans=1, dataset_id="x")),
        train=fake(monkeypatch, "ofa2_zoo.training.progressive", "train_supernet", net),
        write=fake(monkeypatch, "ofa2_zoo.training.progressive", "write_outputs", tmp_path / "w.safetensors"))


def test_train_supernet_hands_every_option_to_the_config(tmp_path, capsys, monkeypatch, training):
    import os

    from ofa2_zoo.space import get_space

    out = tmp_path / "run"
    ok(capsys, "train-supernet", "fashion-mnist", "--out", out, "--space", "ofa2_digits", "--resolutions", "8,12",
       "--seed", 7, "--epochs-scale", "0.5", "--data", tmp_path / "data", "--quiet")
    cfg = training.train.only["cfg"]
    assert training.train.only["out_dir"] == out
    assert cfg.dataset == "fashion-mnist" and cfg.seed == 7
    # --space and --resolutions: the named space, restricted to those resolutions
    assert cfg.space.to_dict() == get_space("ofa2_digits").restrict(resolutions=[8, 12]).to_dict()
    assert cfg.epochs == {"largest": 30, "kernel": 2, "depth": 2, "expand": 6}  # fashion-mnist's preset x 0.5
    assert_arrived(training.data.only, {"name_or_folder": "fashion-mnist", "split": "train", "resolution": 8})
    assert training.write.only["net"] is training.net and training.write.only["cfg"] is cfg
    assert training.write.only["out_dir"] == out and os.environ["OFA2_DATA"] == str(tmp_path / "data")


def _fit_result(saved):
    pred = SimpleNamespace(save=lambda prefix: saved.append(prefix))
    report = SimpleNamespace(n_test=11, kendall_tau=0.8, rmse=1.0, mae=0.5)
    return pred, report, {"top1": [50.0]}


def test_fit_predictor_hands_every_option_to_the_fit(tmp_path, capsys, monkeypatch):
    from ofa2_zoo.space import get_space

    weights = tmp_path / "w.safetensors"
    weights.write_text("not read: the supernet is faked")
    earlier = tmp_path / "earlier.measurements.json"
    earlier.write_text(json.dumps({"top1": [42.0]}))
    net, saved = object(), []
    load = fake(monkeypatch, "ofa2_zoo.supernet", "load_supernet", net)
    api = fake(monkeypatch, "ofa2_zoo.objectives.fitting", "fit_from_measurements", _fit_result(saved))
    out = tmp_path / "pred"
    ok(capsys, "fit-predictor", weights, "--out", out, "--space", "ofa2_fmnist", "--dataset", "fashion-mnist",
       "--n-train", 12, "--n-test", 11, "--seed", 5, "--measurements", earlier, "--workers", 3, "--quiet")
    assert load.only["name"] == get_space("ofa2_fmnist") and load.only["weights"] == weights
    assert api.only["net"] is net
    assert_arrived(api.only, {"dataset": "fashion-mnist", "n_train": 12, "n_test": 11, "seed": 5,
                              "measurements": {"top1": [42.0]}, "workers": 3})
    assert saved == [out] and json.loads(out.with_suffix(".measurements.json").read_text()) == {"top1": [50.0]}


# ---------------------------------------------------------------------------------- ofa2 front
def test_front_show_select_marks_the_members_package_would_pick(capsys, fronts):
    """--select K marks exactly ``Front.select(K)`` (test_cli_bounds.py checks K=1 only)."""
    from ofa2_zoo.front import Front

    front = Front.load(fronts[0])
    assert len(front.members) > 3
    members = json.loads(ok(capsys, "front", "show", fronts[0], "--json", "--select", 3))["members"]
    assert [m["k"] for m in members if m["packaged"]] == sorted(front.select(3))


@pytest.fixture
def references(monkeypatch) -> tuple[Recorder, list]:
    """reference_points faked: a reference net without numbers (printed nowhere)."""
    refs = [SimpleNamespace(top1=None, latency_ms=None)]
    return fake(monkeypatch, "ofa2_zoo.front", "reference_points", refs), refs


def test_front_plot_hands_every_option_on(tmp_path, capsys, monkeypatch, fronts, references):
    ref_api, refs = references
    plot = fake(monkeypatch, "ofa2_zoo.front", "plot_front", lambda **kw: kw["path"])
    ok(capsys, "front", "plot", fronts[0], "--out", tmp_path / "p.png", "--assets", tmp_path / "assets")
    assert_arrived(ref_api.only, {"assets": tmp_path / "assets"})
    assert plot.only["path"] == tmp_path / "p.png" and plot.only["references"] is refs
    ok(capsys, "front", "plot", fronts[0], "--out", tmp_path / "q.png", "--no-references")
    assert len(ref_api.calls) == 1 and plot.calls[1]["references"] == []


def test_front_html_hands_every_option_to_write_explorer(tmp_path, capsys, monkeypatch, fronts, references):
    from ofa2_zoo.front import Front

    ref_api, refs = references
    front, older = Front.load(fronts[0]), Front.load(fronts[1])
    assert front.version_id != older.version_id
    manifest = SimpleNamespace(front_version_id=front.version_id)
    read = fake(monkeypatch, "ofa2_zoo.package.manifest", "read_manifest", manifest)
    members = fake(monkeypatch, "ofa2_zoo.package.plots", "packaged_members", ["member 0"])
    page = fake(monkeypatch, "ofa2_zoo.explorer", "write_explorer", lambda **kw: kw["path"])
    ok(capsys, "front", "html", fronts[0], "--out", tmp_path / "e.html", "--package", tmp_path / "pkg",
       "--previous", fronts[1], "--previous-label", "last week", "--assets", tmp_path / "assets",
       "--title", "My front")
    assert_arrived(read.only, {"path": tmp_path / "pkg"})
    assert members.only["manifest"] is manifest
    assert_arrived(ref_api.only, {"assets": tmp_path / "assets"})
    call = page.only
    assert call["path"] == tmp_path / "e.html" and call["packaged"] == ["member 0"] and call["references"] is refs
    assert call["title"] == "My front" and call["previous"][0] == "last week"
    assert call["previous"][1].version_id == older.version_id
    ok(capsys, "front", "html", fronts[0], "--out", tmp_path / "f.html", "--no-references")
    assert len(ref_api.calls) == 1 and page.calls[1]["references"] == []


# ---------------------------------------------------------------------------------- ofa2 arch
def test_arch_sample_uses_count_space_and_seed(capsys):
    """N, --space and --seed each change which archs are printed (test_cli_arch.py checks the count only)."""
    from ofa2_zoo.space import get_space

    out = ok(capsys, "arch", "sample", 4, "--space", "ofa2_fmnist", "--seed", 9)
    assert out.split() == [s.to_string() for s in get_space("ofa2_fmnist").sample(4, 9)]


# ---------------------------------------------------------------------------------- ofa2 assets
NOTE10 = ["note10/160_lookup_table.yaml", "note10/176_lookup_table.yaml", "note10/192_lookup_table.yaml",
          "note10/208_lookup_table.yaml", "note10/224_lookup_table.yaml", "acc_predictor.pth",
          "ofa_nets/ofa_mbv3_d234_e346_k357_w1.2"]


def test_assets_list_and_fetch_take_the_folder_and_every_profile(tmp_path, capsys, monkeypatch):
    """--assets reaches assets_folder; each repeated --profile adds its files (cpu-torch's are a
    subset of note10's, so the union is note10's, in its order)."""
    import ofa2_zoo.assets as assets_mod

    real = assets_mod.assets_folder
    folder = fake(monkeypatch, "ofa2_zoo.assets", "assets_folder", lambda **kw: real(kw["assets"]))
    listed = json.loads(ok(capsys, "assets", "list", "--assets", tmp_path, "--profile", "cpu-torch",
                           "--profile", "note10", "--json"))
    assert_arrived(folder.only, {"assets": tmp_path})
    assert listed["folder"] == str(tmp_path)
    assert [f["name"] for f in listed["files"]] == ["acc_predictor.pth", "ofa_nets/ofa_mbv3_d234_e346_k357_w1.2",
                                                    *NOTE10[:5]]
    download = fake(monkeypatch, "ofa2_zoo.assets", "download_asset")
    ok(capsys, "assets", "fetch", "--profile", "note10", "--assets", tmp_path, "--quiet")
    assert folder.calls[1]["assets"] == tmp_path
    assert [c["name"] for c in download.calls] == NOTE10 and {c["folder"] for c in download.calls} == {tmp_path}


def test_assets_verify_checks_only_the_profiles_files(tmp_path, capsys):
    """note10 needs 7 files, 6 of them pinned (a missing unpinned one is not an error)."""
    code, _, err = run_cli(capsys, "assets", "verify", tmp_path, "--profile", "note10")
    assert code == 2
    assert f"6 of 7 files in {tmp_path} are missing or corrupt" in err and "--profile note10" in err


# ---------------------------------------------------------------------------------- defaults
def _search_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.search import api

    rec = fake(monkeypatch, "ofa2_zoo.search", "search", _front_result(fronts))
    ok(capsys, "search", "--quiet", "--no-plot")
    names = ("profile", "supernet", "algorithm", "population", "generations", "seed", "assets", "objectives",
             "executor", "workers", "cache", "engine")
    assert (tmp_path / "front" / "front.json").is_file()  # --out's documented default, ./front
    return rec.only, api_defaults(api.search, *names)


def _run_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.run import run_pipeline

    rec, _, record = _fake_run(monkeypatch, fronts, tmp_path)
    ok(capsys, "run", "--quiet")
    names = ("profile", "algorithm", "population", "generations", "seed", "members", "assets")
    # out_dir has no API default: the CLI documents ./out; --record is the CLI's own (on)
    assert record.only["record"] is True
    return rec.only, {**api_defaults(run_pipeline, *names), "out_dir": Path("out")}


def _package_defaults(monkeypatch, tmp_path, capsys, fronts):
    import dataclasses

    from ofa2_zoo.package import package_front
    from ofa2_zoo.package.package import PackageOptions

    rec, _ = _fake_package(monkeypatch, tmp_path / "pkg")
    ok(capsys, "package", fronts[0], "--out", tmp_path / "pkg", "--quiet")
    options = {f.name: f.default for f in dataclasses.fields(PackageOptions)
               if f.name not in ("parity_atol", "parity_rtol", "tensorrt_max_batch", "int8_max_drop", "dataset_id")}
    return rec.only, {**options, **api_defaults(package_front, "weights", "data", "members", "assets", "profile")}


def _export_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.export import export_model

    rec = fake(monkeypatch, "ofa2_zoo.export", "export_model", _export_result)
    ok(capsys, "export", "ofa2_front_2", "--quiet")
    return rec.only, api_defaults(export_model, "runtime", "out", "data", "images", "latency")


def _publish_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.publish import publish

    rec = fake(monkeypatch, "ofa2_zoo.publish", "publish", _publish_result)
    ok(capsys, "publish", tmp_path, "--namespace", "org", "--quiet")
    # --retries 5 builds RetryPolicy(attempts=5), equal to the API's default policy
    return rec.only, api_defaults(publish, "dry_run", "version", "index_path", "update_index", "retry", "timeout")


def _pull_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.publish import pull

    rec = fake(monkeypatch, "ofa2_zoo.publish", "pull", _pull_result)
    ok(capsys, "pull", "ofa2_front_0")
    return rec.only, api_defaults(pull, "index_path", "local_dir", "retry")


def _build_lut_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.profiles.build import build_lut

    table = tmp_path / "lut.json"
    table.write_text("{}")
    fake(monkeypatch, "ofa2_zoo.profiles", "load_profile", SimpleNamespace(id="p"))
    rec = fake(monkeypatch, "ofa2_zoo.profiles.build", "build_lut", table)
    ok(capsys, "profile", "build-lut", "cpu-torch", "--quiet")
    # --calibrate: the CLI builds a calibrated table by default (30 networks, documented in its
    # help), where build_lut's own default is 0 (none) for callers that calibrate separately
    return rec.only, {**api_defaults(build_lut, "out", "resume", "seed", "chunk"), "calibration_archs": 30}


def _validate_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.profiles.validate import validate_profile

    fake(monkeypatch, "ofa2_zoo.profiles", "load_profile", SimpleNamespace(id="p", table=SimpleNamespace(meta={})))
    report = SimpleNamespace(raw=AGREEMENT, calibrated=None, extremes=None, speed_vs_calibration=None)
    rec = fake(monkeypatch, "ofa2_zoo.profiles.validate", "validate_profile", report)
    ok(capsys, "profile", "validate", "cpu-torch", "--quiet")
    return rec.only, api_defaults(validate_profile, "n", "seed", "calibrate")


def _calibrate_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.profiles.calibration import calibrate_machine

    fake(monkeypatch, "ofa2_zoo.profiles", "load_profile", SimpleNamespace(id="p"))
    rec = fake(monkeypatch, "ofa2_zoo.profiles.calibration", "calibrate_machine", _calibration_result)
    ok(capsys, "profile", "calibrate", "cpu-torch", "--quiet")
    return rec.only, api_defaults(calibrate_machine, "n", "check", "seed")


def _canary_defaults(monkeypatch, tmp_path, capsys, fronts):
    fake(monkeypatch, "ofa2_zoo.profiles", "load_profile", SimpleNamespace(id="p"))
    rec = fake(monkeypatch, "ofa2_zoo.profiles.calibration", "check_machine", SimpleNamespace(to_dict=dict))
    ok(capsys, "profile", "canary", "cpu-torch")
    # without --write the canary is timed now: ttl 0 (no cached timing), not check_machine's day
    return rec.only, {"ttl": 0}


def _train_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.training.progressive import TrainConfig

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    fake(monkeypatch, "ofa2_zoo.training.data", "get_dataset", SimpleNamespace(in_chans=1, dataset_id="x"))
    rec = fake(monkeypatch, "ofa2_zoo.training.progressive", "train_supernet", object())
    fake(monkeypatch, "ofa2_zoo.training.progressive", "write_outputs", tmp_path / "w.safetensors")
    ok(capsys, "train-supernet", "fashion-mnist", "--out", tmp_path / "o", "--quiet")
    cfg = rec.only["cfg"]
    preset = TrainConfig.for_dataset("fashion-mnist")  # no --space, --seed, --epochs-scale: the preset as is
    return {"space": cfg.space, "seed": cfg.seed, "epochs": cfg.epochs}, {"space": preset.space, "seed": preset.seed,
                                                                        "epochs": preset.epochs}


def _fit_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.objectives.fitting import fit_from_measurements
    from ofa2_zoo.space import get_space

    fake(monkeypatch, "ofa2_zoo.supernet.checkpoint", "read_supernet_file", ({}, get_space("ofa2_digits"), {}))
    fake(monkeypatch, "ofa2_zoo.supernet", "load_supernet", object())
    rec = fake(monkeypatch, "ofa2_zoo.objectives.fitting", "fit_from_measurements", _fit_result([]))
    ok(capsys, "fit-predictor", tmp_path / "w.safetensors", "--out", tmp_path / "pred", "--quiet")
    # --dataset: the API has no default; the CLI documents digits (the embedded dataset)
    return rec.only, {**api_defaults(fit_from_measurements, "n_train", "n_test", "seed", "measurements", "workers"),
                      "dataset": "digits"}


def _front_plot_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.front import reference_points

    refs = fake(monkeypatch, "ofa2_zoo.front", "reference_points", [])
    plot = fake(monkeypatch, "ofa2_zoo.front", "plot_front", lambda **kw: kw["path"])
    ok(capsys, "front", "plot", fronts[0])
    # --out: documented as front.png beside front.json; --references on by default
    return ({"assets": refs.only["assets"], "path": plot.only["path"]},
            {**api_defaults(reference_points, "assets"), "path": fronts[0] / "front.png"})


def _front_html_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.front import reference_points

    refs = fake(monkeypatch, "ofa2_zoo.front", "reference_points", [])
    page = fake(monkeypatch, "ofa2_zoo.explorer", "write_explorer", lambda **kw: kw["path"])
    ok(capsys, "front", "html", fronts[0])
    # documented: index.html beside front.json, no package beside it, no previous version, no title
    return ({"assets": refs.only["assets"], **{k: page.only[k] for k in ("path", "packaged", "previous", "title")}},
            {**api_defaults(reference_points, "assets"), "path": fronts[0] / "index.html", "packaged": [],
             "previous": None, "title": None})


def _arch_sample_defaults(monkeypatch, tmp_path, capsys, fronts):
    from ofa2_zoo.cli.arch import default_space
    from ofa2_zoo.space import get_space

    # SearchSpace.sample's rng default (None) is random: the CLI documents N 5 and --seed 0, so
    # the same command prints the same archs
    return ok(capsys, "arch", "sample").split(), [s.to_string() for s in get_space(default_space()).sample(5, 0)]


DEFAULTS = {"arch sample": _arch_sample_defaults, "search": _search_defaults, "run": _run_defaults, "package": _package_defaults,
            "export": _export_defaults, "publish": _publish_defaults, "pull": _pull_defaults,
            "profile build-lut": _build_lut_defaults, "profile validate": _validate_defaults,
            "profile calibrate": _calibrate_defaults, "profile canary": _canary_defaults,
            "train-supernet": _train_defaults, "fit-predictor": _fit_defaults, "front plot": _front_plot_defaults,
            "front html": _front_html_defaults}


@pytest.mark.parametrize("command", list(DEFAULTS))
def test_an_option_left_out_arrives_as_the_apis_default(command, tmp_path, capsys, monkeypatch, fronts,
                                                       machine_check):
    monkeypatch.chdir(tmp_path)  # the commands' ./front and ./out defaults land here
    arrived, expected = DEFAULTS[command](monkeypatch, tmp_path, capsys, fronts)
    if isinstance(expected, dict):
        assert_arrived(arrived, expected)
    else:
        assert arrived == expected
