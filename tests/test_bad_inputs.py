"""Bad-input corpus, part 1: profiles, arch specs, checkpoints, hand-edited fronts, CLI options
and interrupts. Every case runs the real ``ofa2`` entry point (in this process, or as a
subprocess where a signal is needed) and asserts exit code 2 (130 for Ctrl-C), exactly one line
on stderr, no traceback and nothing written (see ``_bad_input_helpers.refused``); API cases
assert the typed exception and a one-line message. Part 2 (tampered packages against the
loopback Hub) is ``test_bad_packages.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

from ofa2_zoo.errors import CheckpointError
from ofa2_zoo.front import Front, FrontError
from ofa2_zoo.profiles import load_profile

from _bad_input_helpers import refused
from _package_helpers import TINY, tiny_supernet, with_space, write_front

ROOT = Path(__file__).resolve().parents[1]
GOOD_PROFILE = yaml.safe_load((ROOT / "hardware_profiles" / "digits-cpu.yaml").read_text())


# ---------------------------------------------------------------------------- profiles (YAML)
def _laughs(levels: int = 9) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


def _profile_text(**changes) -> str:
    return yaml.safe_dump({**GOOD_PROFILE, "id": "bad", **changes}, sort_keys=False)


PROFILE_CASES = {
    "billion-laughs": ("id: bad\n" + _laughs(), r"expands to more than 10,000 values"),
    "laughs-after-fields": (_profile_text() + _laughs(), r"expands to more than 10,000 values"),
    "recursive-alias": ("id: bad\nx: &x [*x]\n", r"alias refers to itself"),
    "too-large": ("id: bad\n# " + "x" * (1 << 20) + "\n", r"too large for a profile"),
    "not-utf8": (b"id: bad\ndescription: \xff\xfe\n", r"cannot read the profile"),
    "bad-syntax": ("id: bad\n  device_class: [cpu\n", r"not valid YAML \(line \d+\)"),
    "a-list": ("- id\n- bad\n", r"must be a YAML mapping of fields.*got list"),
    "empty": ("", r"must be a YAML mapping of fields.*got NoneType"),
    "deep-nesting": ("id: bad\nx: " + "[" * 3000 + "]" * 3000 + "\n", r"nested too deeply|expands to more than"),
    "markup-in-id": (_profile_text(id="Bad[a-z0-9]"), r"\^\[a-z0-9\]"),
    "unknown-field": (_profile_text(colour="blue"), r"field 'colour': unknown field"),
    "bad-device": (_profile_text(device_class="[bold]tpu[/bold]"), r"field 'device_class'.*\[bold\]tpu\[/bold\]"),
    "huge-value": (_profile_text(device_class="x" * 200_000), r"field 'device_class'.*\.\.\."),
    "id-not-file-name": (_profile_text(id="other"), r"does not match the file name"),
    "resolution-string": (_profile_text(resolutions="all"), r"field 'resolutions'"),
    "members-negative": (_profile_text(package={"members": -3}), r"field 'package.members'"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_CASES))
def test_bad_profile_yaml(case, tmp_path, capsys):
    text, match = PROFILE_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    line = refused(capsys, "profile", "show", path, match=match, watch=(tmp_path,))
    assert str(path) in line


def test_sha256_of_64_digits_stays_text(tmp_path):
    """YAML reads 64 zeros as the number 0; a checksum field must keep the text the user wrote."""
    prof = {**GOOD_PROFILE, "id": "zeros"}
    prof["latency"] = {**prof["latency"], "table": {**prof["latency"]["table"], "sha256": "0" * 64}}
    text = yaml.safe_dump(prof, sort_keys=False).replace("'" + "0" * 64 + "'", "0" * 64)
    assert "sha256: " + "0" * 64 in text  # unquoted, as a user types it
    (tmp_path / "luts").mkdir()
    table = ROOT / "hardware_profiles" / prof["latency"]["table"]["path"]
    (tmp_path / prof["latency"]["table"]["path"]).write_bytes(table.read_bytes())
    (tmp_path / "zeros.yaml").write_text(text)
    p = load_profile(tmp_path / "zeros.yaml")
    assert p.spec.latency.table.sha256 == "0" * 64
    with pytest.raises(Exception, match="the profile pins " + "0" * 64) as exc:
        p.table_files()
    assert type(exc.value).__name__ == "ProfileError"


# ---------------------------------------------------------------------------- arch specs
GOOD_ARCH = "r224-d4444-k3333333333333333-e3333333333333333"
ARCH_CASES = {
    "full-width-digits": ("r２２４-d44444-k33333333333333333333-e33333333333333333333", r"not an arch string"),
    "arabic-indic-digits": ("r٢٢٤-d44444-k33333333333333333333-e33333333333333333333", r"not an arch string"),
    "full-width-depth": ("r224-d４4444-k33333333333333333333-e33333333333333333333", r"not an arch string"),
    "too-few-blocks": ("r224-d4444-k3333333333333333-e3333333333333333", r"'ks' has 16 values"),
    "kernel-9": ("r224-d44444-k93333333333333333333-e33333333333333333333", r"kernel size of block 0"),
    "resolution-225": ("r225-d44444-k33333333333333333333-e33333333333333333333", r"resolution 225 is not allowed"),
    "long-string": ("r224-" + "d" * 100_000, r"not an arch string: 'r224-d+\.\.\.d+'; expected"),
    "markup": ("[bold red]r224[/]", r"not an arch string: '\[bold red\]r224\[/\]'"),
    "json-nan": ('{"ks": [NaN], "e": [], "d": [], "r": [224]}', r"'ks' has 1 values"),
    "json-strings": ('{"ks": ' + json.dumps(["3"] * 20) + ', "e": [3], "d": [4], "r": 224}',
                     r"'ks\[0\]' must be an integer, got '3'"),
    "json-bools": ('{"ks": ' + json.dumps([True] * 20) + ', "e": [3], "d": [4], "r": 224}',
                   r"'ks\[0\]' must be an integer, got True"),
    "json-half-resolution": ('{"ks": ' + json.dumps([3] * 20) + ', "e": ' + json.dumps([3] * 20) +
                             ', "d": [4, 4, 4, 4, 4], "r": 224.5}', r"'r' must be an integer, got 224.5"),
    "json-scalar-ks": ('{"ks": 3, "e": [], "d": [], "r": 224}', r"'ks' must be a list of 20 integers, got int"),
    "json-broken": ('{"ks": [3,', r"arch JSON does not parse"),
    "negative-depth": ("r224-d-4444-k33333333333333333333-e33333333333333333333", r"not an arch string"),
    "unknown-space": (GOOD_ARCH, r"unknown search space '\[red\]x'"),
}


@pytest.mark.parametrize("case", sorted(ARCH_CASES))
def test_bad_arch_spec(case, capsys):
    arch, match = ARCH_CASES[case]
    space = ["--space", "[red]x" if case == "unknown-space" else "ofa_mbv3_w1.2"]
    refused(capsys, "arch", "show", arch, *space, match=match)


@pytest.mark.parametrize("case", ["not-json", "missing", "folder", "too-large", "json-not-arch"])
def test_bad_arch_file(case, tmp_path, capsys):
    path = tmp_path / "arch.txt"
    if case == "not-json":
        secret = "SECRET-LINE " * 40_000  # 480 KB that must never be echoed back
        path.write_text(secret)
        line = refused(capsys, "arch", "show", f"@{path}", match=r"is not JSON: Expecting value: line 1 column 1")
        assert "SECRET" not in line
    elif case == "missing":
        refused(capsys, "arch", "show", f"@{path}", match=r"arch file .* does not exist")
    elif case == "folder":
        refused(capsys, "arch", "show", f"@{tmp_path}", match=r"does not exist \(or is not a file\)")
    elif case == "too-large":
        path.write_text("{" + " " * (1 << 20) + "}")
        refused(capsys, "arch", "show", f"@{path}", match=r"an arch is a small JSON object")
    else:
        path.write_text(json.dumps({"ks": [3] * 20}))
        refused(capsys, "arch", "show", f"@{path}", match=r"arch file .*: arch is missing key\(s\) \['e', 'd', 'r'\]")


# ---------------------------------------------------------------------------- checkpoints (API)
def _pickle_bomb(path: Path, marker: Path) -> None:
    class Bomb:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {"x": Bomb()}}, path)


CHECKPOINT_CASES = ("pickle-runs-code", "garbage-pth", "garbage-safetensors", "truncated-safetensors",
                    "wrong-shape", "missing-file", "folder", "empty-file")


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_bad_checkpoint(case, tmp_path):
    from ofa2_zoo import load_supernet, save_supernet

    marker = tmp_path / "pwned"
    path = tmp_path / ("w.pth" if case in ("pickle-runs-code", "garbage-pth") else "w.safetensors")
    if case == "pickle-runs-code":
        _pickle_bomb(path, marker)
    elif case == "garbage-pth":  # random bytes break the unpickler in many ways (IndexError, KeyError, ...)
        rng = np.random.default_rng(0)
        for i in range(60):
            path.write_bytes(rng.bytes(4096))
            with pytest.raises(CheckpointError, match="not a readable torch checkpoint|refused to load"):
                load_supernet(TINY, weights=path)
    elif case == "garbage-safetensors":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif case == "truncated-safetensors":
        save_supernet(tiny_supernet(), path)
        path.write_bytes(path.read_bytes()[:-100])
    elif case == "wrong-shape":
        state = {k: v.clone() for k, v in tiny_supernet().state_dict().items()}
        key = next(k for k, v in state.items() if v.ndim == 4)
        state[key] = torch.zeros(*state[key].shape[:-1], state[key].shape[-1] + 1)
        save_file(state, str(path))
    elif case == "folder":
        path = tmp_path
    elif case == "empty-file":
        path.write_bytes(b"")
    with pytest.raises(CheckpointError) as exc:
        load_supernet(TINY, weights=path)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 1000
    assert not marker.exists()


# ---------------------------------------------------------------------------- hand-edited fronts
def _edit_member(k, **objectives):
    def edit(d):
        d["members"][k]["objectives"].update(objectives)
    return edit


FRONT_CASES = {
    "nan-top1": (_edit_member(1, top1=float("nan")), r"members.1.objectives.top1': Input should be a finite number"),
    "inf-latency": (_edit_member(0, latency_ms=float("inf")), r"members.0.objectives.latency_ms"),
    "negative-latency": (_edit_member(0, latency_ms=-1.0), r"-1 ms is outside the valid range > 0"),
    "zero-latency": (_edit_member(0, latency_ms=0.0), r"0 ms is outside the valid range > 0"),
    "top1-150": (_edit_member(3, top1=150.0), r"150 % is outside the valid range \[0, 100\]"),
    "top1-negative": (_edit_member(0, top1=-0.5), r"-0.5 % is outside the valid range"),
    "negative-macs": (_edit_member(2, macs_m=-3.0), r"members.2.objectives.macs_m"),
    "dominated": (_edit_member(2, top1=10.0), r"members.2': dominated by member \d"),
    "duplicate": (lambda d: d["members"].append(json.loads(json.dumps(d["members"][0]))),
                  r"members.4.arch': the same network as member 0"),
    "no-members": (lambda d: d.update(members=[]), r"field 'members': List should have at least 1 item"),
    "format": (lambda d: d.update(format="ofa2-front/9"), r"field 'format'.*'ofa2-front/9'"),
    "hypervolume-nan": (lambda d: d.update(hypervolume=float("nan")), r"field 'hypervolume'"),
    "hypervolume-negative": (lambda d: d.update(hypervolume=-1.0), r"field 'hypervolume'"),
    "reference-inf": (lambda d: d["reference_point"].update(latency_ms=float("inf")), r"field 'reference_point"),
    "evaluations-negative": (lambda d: d.update(evaluations=-5), r"field 'evaluations'"),
    "seed-string": (lambda d: d.update(seed="one"), r"field 'seed'"),
    "missing-objective": (lambda d: d["members"][1]["objectives"].pop("top1"),
                          r"members.1.objectives': lacks objective\(s\) \['top1'\]"),
    "extra-field": (lambda d: d.update(comment="hand edit"), r"field 'comment': Extra inputs are not permitted"),
    "arch-out-of-space": (lambda d: d["members"][0]["arch"].update(r=[999]), r"members.0.arch': resolution 999"),
    "searched-unknown": (lambda d: d["algorithm"].update(objectives=["latency_ms", "energy"]),
                         r"field 'algorithm.objectives'"),
    "not-json": ("{members: [", r"not valid JSON"),
    "a-list": ("[]", r"Input should be a valid dictionary|field '\(top level\)'"),
}


@pytest.fixture(scope="module")
def good_front(tmp_path_factory) -> Path:
    return write_front(tmp_path_factory.mktemp("front") / "front", n=4, seed=3)


def _write_edited(good: Path, folder: Path, edit) -> Path:
    folder.mkdir()
    if isinstance(edit, str):
        (folder / "front.json").write_text(edit)
    else:
        data = json.loads((good / "front.json").read_text())
        edit(data)
        (folder / "front.json").write_text(json.dumps(data))  # json allows NaN/Infinity here: hand edits do
    return folder


@pytest.mark.parametrize("case", sorted(FRONT_CASES))
def test_hand_edited_front(case, good_front, tmp_path, capsys):
    edit, match = FRONT_CASES[case]
    folder = _write_edited(good_front, tmp_path / "front", edit)
    line = refused(capsys, "front", "show", folder, match=match, watch=(tmp_path,))
    assert "front.json" in line


def test_package_refuses_a_nan_front_before_writing(good_front, tmp_path, capsys):
    folder = _write_edited(good_front, tmp_path / "front", FRONT_CASES["nan-top1"][0])
    refused(capsys, "package", folder, "--out", tmp_path / "pkg", match=r"top1': Input should be a finite number",
            watch=(tmp_path,))
    assert not (tmp_path / "pkg").exists()


def test_a_front_with_nan_is_never_written(good_front, tmp_path):
    front = Front.load(good_front)
    front.members[0].objectives["top1"] = float("nan")
    with pytest.raises(FrontError, match="not a finite number"):
        front.save(tmp_path / "out")
    assert not (tmp_path / "out" / "front.json").exists()


@pytest.mark.parametrize("case", ["other-profile", "other-space", "other-objectives"])
def test_front_diff_needs_comparable_fronts(case, good_front, tmp_path, capsys):
    if case == "other-profile":
        other = write_front(tmp_path / "other", n=4, seed=4, profile_id="cpu-torch")
        match = r"their profile differs \('tiny-test' vs 'cpu-torch'\)"
    elif case == "other-space":
        other = write_front(tmp_path / "other", n=4, seed=4, space=with_space(TINY, num_classes=5))
        match = r"their space differs"
    else:
        data = json.loads((good_front / "front.json").read_text())
        data["algorithm"]["objectives"] = ["latency_ms", "macs_m"]
        for m in data["members"]:  # keep it a valid front on the new objectives
            m["objectives"]["macs_m"] = 10.0 - m["objectives"]["latency_ms"]
        other = tmp_path / "other"
        other.mkdir()
        (other / "front.json").write_text(json.dumps(data))
        match = r"their objectives differs"
    refused(capsys, "front", "diff", good_front, other, match=match, watch=(tmp_path,))


# ---------------------------------------------------------------------------- zoo index files
def _index_with(edit) -> dict:
    from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR, ZooIndex
    from ofa2_zoo.zoo.records import hub_index_members

    pkg = EMBEDDED_ZOO_DIR / "digits-cpu"
    n = len(json.loads((pkg / "package.json").read_text())["members"])
    rows = hub_index_members(pkg, {k: f"org/ofa2-digits-cpu-front-{k}" for k in range(n)}, "v1")
    index = ZooIndex()
    index.add_version("digits-cpu", "ab" * 32, rows, version="v1")
    data = index.model_dump(mode="json")
    edit(data)
    return data


def _index_member(data: dict) -> dict:
    return data["fronts"]["digits-cpu"]["versions"][0]["members"][0]


INDEX_CASES = {
    "nan-top1": (lambda d: _index_member(d).update(top1=float("nan")), r"top1': Input should be a finite number"),
    "top1-150": (lambda d: _index_member(d).update(top1=150.0), r"top1': Input should be less than or equal to 100"),
    "latency-negative": (lambda d: _index_member(d).update(latency_ms=-2.0), r"latency_ms': Input should be greater"),
    "bad-repo-id": (lambda d: _index_member(d).update(repo_id="../../etc"), r"repo_id'"),
    "bad-version-tag": (lambda d: d["fronts"]["digits-cpu"]["versions"][0].update(version="latest"), r"version'"),
    "format": (lambda d: d.update(format="ofa2-zoo-index/7"), r"format is 'ofa2-zoo-index/7'"),
}


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
def test_bad_zoo_index(case, tmp_path, capsys):
    edit, match = INDEX_CASES[case]
    path = tmp_path / "index.json"
    path.write_text(json.dumps(_index_with(edit)))
    line = refused(capsys, "pull", "ofa2_digits_cpu_front_0.v1", "--index", path, match=match, watch=(tmp_path,))
    assert str(path) in line


def test_the_unedited_zoo_index_is_valid(tmp_path):
    from ofa2_zoo.zoo.index import ZooIndex

    path = tmp_path / "index.json"
    path.write_text(json.dumps(_index_with(lambda d: None)))
    assert ZooIndex.load(path).versions("digits-cpu")[0].version == "v1"


# ---------------------------------------------------------------------------- CLI options
OPTION_CASES = {
    "population-0": (["search", "--population", 0], r"population must be an integer from 2 to 1,000,000, got 0"),
    "population-1": (["search", "--population", 1], r"population must be an integer from 2"),
    "population-negative": (["search", "--population", -5], r"population must be an integer from 2"),
    "population-200M": (["search", "--population", 200_000_000], r"from 2 to 1,000,000, got 200000000"),
    "population-text": (["search", "--population", "many"], r"Invalid value for '--population'"),
    "generations-0": (["search", "--generations", 0], r"generations must be an integer from 1"),
    "generations-1e9": (["search", "--generations", 10**9], r"generations must be an integer from 1 to 1,000,000"),
    "spea2-memory": (["search", "-a", "spea2", "--population", 900_000],
                     r"a spea2 search with population 900,000 needs about [\d,.]+ GiB of memory; this machine has"),
    "ray-workers-0": (["search", "--executor", "ray", "--workers", 0], r"workers must be an integer from 1 to 1024"),
    "process-workers-huge": (["search", "--executor", "process", "--workers", 100_000],
                             r"workers must be an integer from 1 to 1024, got 100000"),
    "inprocess-workers": (["search", "--workers", 4], r"workers apply to the process and ray executors"),
    "bad-algorithm": (["search", "-a", "[b]nsga9"], r"unknown algorithm '\[b\]nsga9'"),
    "bad-engine": (["search", "--engine", "warp"], r"unknown engine 'warp'"),
    "bad-profile": (["search", "-p", "[a-z0-9]"], r"unknown hardware profile '\[a-z0-9\]'"),
    "unknown-option": (["search", "--populaton", 5], r"No such option: --populaton"),
    "run-members-0": (["run", "--members", 0], r"Invalid value for '--members': Input should be greater than or equal to 1"),
    "run-population-200M": (["run", "--population", 200_000_000], r"population must be an integer from 2"),
    "run-bad-algorithm": (["run", "--algorithm", "nope"], r"unknown algorithm 'nope'"),
    "arch-sample-0": (["arch", "sample", 0], r"Invalid value for 'n': Input should be greater than or equal to 1"),
    "pull-bad-name": (["pull", "ofa2_[x]_front_0"], r"'ofa2_\[x\]_front_0' is neither an ofa2 model name"),
    "train-epochs-scale-1e9": (["train-supernet", "digits", "--out", "o", "--epochs-scale", 1e9],
                               r"Invalid value for '--epochs-scale': .*less than or equal to 100"),
    "fit-n-train-1e8": (["fit-predictor", "w.safetensors", "--out", "p", "--n-train", 10**8],
                        r"Invalid value for '--n-train': .*less than or equal to 100000"),
    "fit-n-test-9": (["fit-predictor", "w.safetensors", "--out", "p", "--n-test", 9],
                     r"Invalid value for '--n-test': .*greater than or equal to 10"),
    "publish-missing-package": (["publish", "no/such/package", "--namespace", "org", "--dry-run"],
                                r"cannot publish: no/such/package does not exist: not an ofa2 package folder"),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_cli_option(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default output folders (front/, out/) would land here
    args, match = OPTION_CASES[case]
    refused(capsys, *args, match=match, watch=(tmp_path,))
    assert not list(tmp_path.iterdir())
    if "ray" in case and "ray" in sys.modules:
        assert not sys.modules["ray"].is_initialized()


@pytest.mark.parametrize("command", ["search", "run", "package"])
def test_out_path_that_is_a_file(command, good_front, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    args = {"search": ["search", "-p", "digits-cpu", "--population", 4, "--generations", 1, "--out", target],
            "run": ["run", "--out", target],
            "package": ["package", good_front, "--out", target]}[command]
    refused(capsys, *args, match=r"taken (is a file|exists and is not a folder)", watch=(tmp_path,))
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("command", ["train-supernet", "fit-predictor"])
def test_training_out_that_is_a_file(command, tmp_path, capsys):
    """Refused before any data is read or any network measured (the weights file need not exist)."""
    target = tmp_path / "taken"
    target.write_text("keep me")
    args = {"train-supernet": ["train-supernet", "digits", "--out", target],
            "fit-predictor": ["fit-predictor", tmp_path / "absent.safetensors", "--out", target / "pred"]}[command]
    refused(capsys, *args, match=r"taken (is a file|lies under .*which is a file)", watch=(tmp_path,))
    assert target.read_text() == "keep me"


def test_run_out_under_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    refused(capsys, "run", "--out", tmp_path / "file" / "sub", match=r"lies under .*file, which is a file",
            watch=(tmp_path,))


def test_cache_that_is_a_file(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.write_text("x")
    refused(capsys, "search", "-p", "digits-cpu", "--population", 4, "--generations", 1, "--out", tmp_path / "o",
            "--cache", cache, match=r"--cache .*cache is a file", watch=(tmp_path,))


def test_run_api_refuses_members_0_before_writing(tmp_path):
    from ofa2_zoo.run import run_pipeline
    from ofa2_zoo.search import SearchError

    with pytest.raises(SearchError, match="members must be a whole number of at least 1, got 0"):
        run_pipeline(tmp_path / "out", members=0)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- interrupts
def test_ctrl_c_inside_a_command_exits_130_with_one_line(capsys, monkeypatch):
    import ofa2_zoo.profiles

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ofa2_zoo.profiles, "load_profile", interrupted)  # what `ofa2 profile show` calls
    line = refused(capsys, "profile", "show", "digits-cpu", match=r"^error: interrupted \(Ctrl-C\)$", code=130)
    assert line


def test_ctrl_c_while_the_commands_are_imported(capsys, monkeypatch):
    import importlib

    import ofa2_zoo.cli as cli

    real = importlib.import_module

    def slow_import(name, *args, **kwargs):
        if name.startswith("ofa2_zoo.cli."):
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(cli.importlib, "import_module", slow_import)
    refused(capsys, "--help", match=r"^error: interrupted \(Ctrl-C\)$", code=130)


def _interrupt(args: list[str], tmp_path: Path, after_import: str, extra_wait: float) -> subprocess.CompletedProcess:
    """Start ``python -m ofa2_zoo ARGS`` with ``-X importtime``; once ``after_import`` has been
    imported (so the SIGINT lands during start-up or during the work, deterministically), wait
    ``extra_wait`` s and press Ctrl-C."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "ofa2_zoo", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = []
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        err_lines.append(line)
        if line.startswith("import time:") and line.rstrip().endswith(f" {after_import}"):
            break
        assert time.monotonic() < deadline, "the command never imported " + after_import
    time.sleep(extra_wait)
    proc.send_signal(signal.SIGINT)
    try:
        out, rest = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(err_lines) + rest
    real = [x for x in err.splitlines() if not x.startswith("import time:")]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "\n".join(real))


@pytest.mark.parametrize("phase", ["start-up", "search"])
def test_ctrl_c_in_a_real_process(phase, tmp_path):
    out = tmp_path / "front"
    args = ["search", "-p", "digits-cpu", "--population", "40", "--generations", "1000000", "--out", str(out)]
    # start-up: while the libraries are being imported; search: well into the search loop
    # (the search path imports no torch: numpy is the first heavy import of its start-up)
    after, wait = ("numpy", 0.0) if phase == "start-up" else ("ofa2_zoo.search.engine", 3.0)
    proc = _interrupt(args, tmp_path, after, wait)
    assert proc.returncode == 130, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: interrupted (Ctrl-C)"], proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout
    assert not out.exists()


def test_output_file_that_is_a_folder(good_front, tmp_path, capsys):
    (tmp_path / "plot.png").mkdir()
    refused(capsys, "front", "plot", good_front, "--out", tmp_path / "plot.png", "--no-references",
            match=r"plot.png is a folder; give the path of a file to write", watch=(tmp_path,))


def test_output_file_under_a_file(good_front, tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    refused(capsys, "front", "plot", good_front, "--out", tmp_path / "taken" / "plot.png", "--no-references",
            match=r"output folder .*taken is a file, not a folder", watch=(tmp_path,))
