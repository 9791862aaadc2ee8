"""Bad-input corpus, part 2: tampered packages. Each case edits a copy of a real package (and
updates the sha256 in package.json, as an attacker would) and runs ``ofa2 publish``, as a dry
run and for real, against the loopback Hub: exit 2, one line naming the member and the path, no
traceback, and not a single request reaches the Hub (nothing uploaded, nothing read from outside
the package). ``register_front`` refuses the same packages with a typed error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from ofa2_zoo.package.errors import PackageError

from _bad_input_helpers import refused
from _hub_helpers import NAMESPACE, cached_package, make_server, use_hub


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _member(data: dict, k: int) -> dict:
    return next(m for m in data["members"] if m["k"] == k)


def _resha(pkg: Path, data: dict, k: int, name: str) -> None:
    m = _member(data, k)
    m["files"][name] = _sha(pkg / m["folder"] / name)


# Each edit gets (package folder, its package.json as a dict, a scratch folder outside the package).
def symlink_readme(pkg, data, outside):
    target = Path("/etc/passwd")
    readme = pkg / "members/front_0/README.md"
    readme.unlink()
    readme.symlink_to(target)
    _member(data, 0)["files"]["README.md"] = _sha(target)


def symlink_weights_to_other_member(pkg, data, outside):
    w = pkg / "members/front_1/model.safetensors"
    w.unlink()
    w.symlink_to(pkg / "members/front_0/model.safetensors")
    _resha(pkg, data, 1, "model.safetensors")


def dotdot_member_folder(pkg, data, outside):
    shutil.move(pkg / "members/front_0", outside / "outside_member")
    _member(data, 0)["folder"] = "../outside_member"


def dotdot_inside_folder(pkg, data, outside):
    _member(data, 0)["folder"] = "members/../members/front_0"


def absolute_member_folder(pkg, data, outside):
    shutil.copytree(pkg / "members/front_0", outside / "abs")
    _member(data, 0)["folder"] = str(outside / "abs")


def symlinked_member_folder(pkg, data, outside):
    shutil.move(pkg / "members/front_1", outside / "front_1")
    (pkg / "members/front_1").symlink_to(outside / "front_1", target_is_directory=True)


def symlinked_members_parent(pkg, data, outside):
    shutil.move(pkg / "members", outside / "members")
    (pkg / "members").symlink_to(outside / "members", target_is_directory=True)


def file_name_with_folder(pkg, data, outside):
    m = _member(data, 0)
    m["files"]["../../escape.txt"] = m["files"].pop("README.md")


def garbage_safetensors(pkg, data, outside):
    (pkg / "members/front_2/model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage" * 50)
    _resha(pkg, data, 2, "model.safetensors")


def wrong_shape_weights(pkg, data, outside):
    shutil.copy(pkg / "members/front_0/model.safetensors", pkg / "members/front_2/model.safetensors")
    _resha(pkg, data, 2, "model.safetensors")


def pickle_weights_named_safetensors(pkg, data, outside):
    import torch

    torch.save({"x": torch.zeros(2)}, pkg / "members/front_1/model.safetensors")
    _resha(pkg, data, 1, "model.safetensors")


def corrupt_config(pkg, data, outside):
    (pkg / "members/front_1/config.json").write_text('{"architecture": "ofa2_subnet", ')
    _resha(pkg, data, 1, "config.json")


def config_other_arch(pkg, data, outside):
    shutil.copy(pkg / "members/front_0/config.json", pkg / "members/front_1/config.json")
    _resha(pkg, data, 1, "config.json")


def config_nan_mean(pkg, data, outside):
    path = pkg / "members/front_0/config.json"
    cfg = json.loads(path.read_text())
    cfg["pretrained_cfg"]["mean"] = [float("nan")] * len(cfg["pretrained_cfg"]["mean"])
    path.write_text(json.dumps(cfg))
    _resha(pkg, data, 0, "config.json")


def config_other_architecture(pkg, data, outside):
    path = pkg / "members/front_0/config.json"
    cfg = json.loads(path.read_text())
    cfg["architecture"] = "resnet50"
    path.write_text(json.dumps(cfg))
    _resha(pkg, data, 0, "config.json")


def config_wrong_input_size(pkg, data, outside):
    path = pkg / "members/front_0/config.json"
    cfg = json.loads(path.read_text())
    cfg["pretrained_cfg"]["input_size"] = [3, 224, 224]
    path.write_text(json.dumps(cfg))
    _resha(pkg, data, 0, "config.json")


def manifest_nan_objective(pkg, data, outside):
    _member(data, 0)["objectives"]["top1"] = float("nan")


def manifest_top1_over_100(pkg, data, outside):
    _member(data, 1)["objectives"]["top1"] = 101.0


def manifest_bad_sha(pkg, data, outside):
    _member(data, 0)["files"]["README.md"] = "0"


def manifest_duplicate_k(pkg, data, outside):
    data["members"][1]["k"] = 0


def manifest_front_folder_outside(pkg, data, outside):
    data["front_folder"] = "../front"


def manifest_is_a_symlink(pkg, data, outside):
    real = outside / "package.json"
    real.write_text(json.dumps(data))
    (pkg / "package.json").unlink()
    (pkg / "package.json").symlink_to(real)


def front_file_symlink(pkg, data, outside):
    (pkg / "front/front.png").unlink()
    (pkg / "front/front.png").symlink_to("/etc/hostname")


def member_subfolder(pkg, data, outside):
    (pkg / "members/front_0/extra").mkdir()


def member_extra_file(pkg, data, outside):
    (pkg / "members/front_0/notes.txt").write_text("not listed")


def listed_file_missing(pkg, data, outside):
    (pkg / "members/front_2/model.onnx").unlink()


def manifest_format(pkg, data, outside):
    data["format"] = "ofa2-package/0"


def front_of_another_version(pkg, data, outside):
    """The front folder holds another version of the same profile's front (same profile id)."""
    path = pkg / "front" / "front.json"
    front = json.loads(path.read_text())
    front["members"][0]["objectives"]["latency_ms"] *= 0.999  # another search's values: another version id
    path.write_text(json.dumps(front))


CASES = {
    "symlink-readme-to-etc-passwd": (symlink_readme, r"member k=0 .*members/front_0/README.md is a symbolic link "
                                                     r"\(to /etc/passwd\)"),
    "symlink-between-members": (symlink_weights_to_other_member, r"member k=1 .*front_1/model.safetensors is a "
                                                                 r"symbolic link"),
    "dotdot-member-folder": (dotdot_member_folder, r"field 'members.0.folder': '../outside_member' is not a "
                                                   r"relative folder inside the package"),
    "dotdot-inside-folder": (dotdot_inside_folder, r"field 'members.0.folder': 'members/../members/front_0'"),
    "absolute-member-folder": (absolute_member_folder, r"field 'members.0.folder': '/.*abs' is not a relative"),
    "symlinked-member-folder": (symlinked_member_folder, r"member k=1 .*members/front_1 is a symbolic link"),
    "symlinked-members-parent": (symlinked_members_parent, r"member k=0 .*/members is a symbolic link"),
    "file-name-with-folder": (file_name_with_folder, r"field 'members.0.files': .*'../../escape.txt' is not a plain "
                                                     r"file name"),
    "garbage-safetensors": (garbage_safetensors, r"member k=2 .*model.safetensors is not a readable safetensors"),
    "wrong-shape-weights": (wrong_shape_weights, r"member k=2 .*model.safetensors (does not hold the tensors|: "
                                                 r"tensor .* has shape)"),
    "pickle-as-safetensors": (pickle_weights_named_safetensors, r"member k=1 .*not a readable safetensors"),
    "corrupt-config": (corrupt_config, r"member k=1 .*front_1/config.json is not valid JSON"),
    "config-of-another-member": (config_other_arch, r"member k=1 .*config.json describes arch .*, package.json "
                                                    r"lists"),
    "config-nan-mean": (config_nan_mean, r"member k=0 .*config.json: field 'pretrained_cfg.mean.0': Input should "
                                         r"be a finite number"),
    "config-other-architecture": (config_other_architecture, r"config.json: field 'architecture'"),
    "config-wrong-input-size": (config_wrong_input_size, r"field 'pretrained_cfg': input_size \[3, 224, 224\]"),
    "manifest-nan-objective": (manifest_nan_objective, r"field 'members.0.objectives.top1': Input should be a finite"),
    "manifest-top1-over-100": (manifest_top1_over_100, r"field 'members.1.objectives': top1: 101 % is outside"),
    "manifest-bad-sha": (manifest_bad_sha, r"the sha256 of README.md is '0', not 64 lowercase hex digits"),
    "manifest-duplicate-k": (manifest_duplicate_k, r"members share a k"),
    "manifest-front-folder-outside": (manifest_front_folder_outside, r"field 'front_folder': '../front'"),
    "manifest-is-a-symlink": (manifest_is_a_symlink, r"package.json is a symbolic link"),
    "front-file-symlink": (front_file_symlink, r"front folder: .*front/front.png is a symbolic link "
                                               r"\(to /etc/hostname\)"),
    "member-subfolder": (member_subfolder, r"member k=0 .*front_0/extra is not a regular file"),
    "member-extra-file": (member_extra_file, r"member k=0 .*has files package.json does not list \(notes.txt\)"),
    "listed-file-missing": (listed_file_missing, r"member k=2 .*front_2/model.onnx is missing"),
    "manifest-format": (manifest_format, r"field 'format': 'ofa2-package/0' is not 'ofa2-package/1'"),
}


@pytest.fixture(scope="module")
def package() -> Path:
    return cached_package(0)


@pytest.fixture(scope="module")
def server():
    s = make_server()
    yield s
    s.stop()


def tamper(package: Path, root: Path, edit) -> Path:
    pkg, outside = root / "pkg", root / "outside"
    shutil.copytree(package, pkg, symlinks=True)
    outside.mkdir()
    data = json.loads((pkg / "package.json").read_text())
    edit(pkg, data, outside)
    text = json.dumps(data, indent=2, sort_keys=True)  # NaN allowed here: a hand edit can write it
    if not (pkg / "package.json").is_symlink():
        (pkg / "package.json").write_text(text)
    (pkg / "front/package.json").write_text(text)
    return pkg


@pytest.mark.parametrize("case", sorted(CASES))
def test_publish_refuses_a_tampered_package(case, package, server, tmp_path, capsys):
    edit, match = CASES[case]
    pkg = tamper(package, tmp_path, edit)
    with use_hub(server, tmp_path / "hf"):
        start = server.request_count
        for dry in (["--dry-run"], []):
            refused(capsys, "publish", pkg, "--namespace", NAMESPACE, "--index", tmp_path / "index.json", *dry,
                    match="cannot publish: .*" + match, watch=(tmp_path / "pkg", tmp_path / "outside"))
        assert server.request_count == start, "a refused package reached the Hub"
    assert not (tmp_path / "index.json").exists()


def test_the_untampered_package_passes_the_same_checks(package, server, tmp_path, capsys):
    """The corpus is only meaningful if the original package is accepted by the same command."""
    pkg = tamper(package, tmp_path, lambda *a: None)
    from _bad_input_helpers import run_cli

    with use_hub(server, tmp_path / "hf"):
        rc, out, err = run_cli(capsys, "publish", pkg, "--namespace", NAMESPACE, "--dry-run", "--no-index")
    assert rc == 0, err
    assert "would publish tiny-publish" in out


def test_publish_refuses_a_front_folder_holding_another_version_of_the_same_profile(package, server, tmp_path, capsys):
    """The profile matches, the version does not: still refused (both must match)."""
    pkg = tamper(package, tmp_path, front_of_another_version)
    with use_hub(server, tmp_path / "hf"):
        start = server.request_count
        refused(capsys, "publish", pkg, "--namespace", NAMESPACE, "--dry-run", "--no-index",
                match=r"front/front.json is front [0-9a-f]{12} of profile 'tiny-publish', package.json says "
                      r"[0-9a-f]{12} of 'tiny-publish'; re-package it", watch=(tmp_path / "pkg",))
        assert server.request_count == start


CONTAINMENT = ("symlink-readme-to-etc-passwd", "dotdot-member-folder", "symlinked-member-folder",
               "garbage-safetensors", "corrupt-config", "wrong-shape-weights")


@pytest.mark.parametrize("case", CONTAINMENT)
def test_package_checks_name_the_member_and_path(case, package, tmp_path):
    """The checks publish relies on, called directly: a typed error, one line, before any read
    of the weights by torch."""
    from ofa2_zoo.package import read_manifest
    from ofa2_zoo.package.verify import check_member

    edit, match = CASES[case]
    pkg = tamper(package, tmp_path, edit)
    with pytest.raises(PackageError) as exc:
        manifest = read_manifest(pkg)
        for m in manifest.members:
            check_member(pkg, manifest, m)
    assert "\n" not in str(exc.value)
    import re

    assert re.search(match, str(exc.value)), str(exc.value)
    assert os.fspath(pkg) in str(exc.value)


# ---------------------------------------------------------------------------- register_front, pull, local-dir
@pytest.mark.parametrize("case", CONTAINMENT + ("symlinked-members-parent", "config-other-architecture",
                                                "member-extra-file"))
def test_register_front_refuses_a_tampered_package(case, package, tmp_path):
    import re

    import ofa2_zoo
    from ofa2_zoo.errors import Ofa2Error

    edit, match = CASES[case]
    pkg = tamper(package, tmp_path, edit)
    with pytest.raises(Ofa2Error) as exc:
        ofa2_zoo.register_front(pkg)
    assert "\n" not in str(exc.value) and re.search(match, str(exc.value)), str(exc.value)


def _upload_member(server, tmp_path, repo: str, package: Path, edit) -> None:
    """Put member 0 of ``package`` on the loopback Hub as ``repo`` tag v1, after ``edit(folder)``:
    what a compromised or careless publisher could push there (ofa2 publish would refuse it)."""
    from huggingface_hub import HfApi

    folder = tmp_path / "upload"
    shutil.copytree(package / "members/front_0", folder)
    edit(folder, package)
    api = HfApi()
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(folder))
    api.create_tag(repo, tag="v1")


HUB_CASES = {
    "garbage-safetensors": (lambda f, p: (f / "model.safetensors").write_bytes(b"\x00" * 300),
                            r"model.safetensors is not a readable safetensors file"),
    "wrong-shape-weights": (lambda f, p: shutil.copy(p / "members/front_2/model.safetensors", f),
                            r"model.safetensors (does not hold the tensors|: tensor .* has shape)"),
    "corrupt-config": (lambda f, p: (f / "config.json").write_text('{"architecture": "ofa2_subnet",'),
                       r"config.json is not valid JSON"),
    "config-nan-std": (lambda f, p: (f / "config.json").write_text(
        (f / "config.json").read_text().replace('"std": [', '"std": [NaN, ', 1)),
        r"field 'pretrained_cfg.std"),
}


@pytest.mark.parametrize("case", sorted(HUB_CASES))
def test_pull_refuses_bad_member_files(case, package, server, tmp_path):
    from ofa2_zoo.publish import PullError, pull

    edit, match = HUB_CASES[case]
    repo = f"{NAMESPACE}/bad-{case}"
    with use_hub(server, tmp_path / "hf"):
        _upload_member(server, tmp_path, repo, package, edit)
        with pytest.raises(PullError, match=match) as exc:
            pull(f"{repo}@v1")
    assert "\n" not in str(exc.value) and f"{repo}@v1" in str(exc.value)


@pytest.mark.parametrize("case", ["garbage-safetensors", "wrong-shape-weights"])
def test_local_dir_load_of_bad_weights_is_a_checkpoint_error(case, package, tmp_path):
    import timm

    from ofa2_zoo.errors import CheckpointError

    folder = tmp_path / "member"
    shutil.copytree(package / "members/front_0", folder)
    HUB_CASES[case][0](folder, package)
    with pytest.raises(CheckpointError, match=r"weights .*member.* (are not a readable safetensors file|do not fit)"
                                              r".* for arch r\d+-") as exc:
        timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert "\n" not in str(exc.value)


def test_a_file_swapped_for_a_symlink_after_the_checks_is_not_uploaded(package, server, tmp_path, monkeypatch):
    """Time of check vs time of use: the bytes uploaded are re-read without following links and
    must still have the checked sha256."""
    import sys

    from ofa2_zoo.publish import PublishError, RetryPolicy, content, publish

    pub = sys.modules["ofa2_zoo.publish.publish"]  # the module (the package's attribute is the function)

    pkg = tamper(package, tmp_path, lambda *a: None)
    real_load = content.load_package

    def load_then_swap(path):
        loaded = real_load(path)
        readme = pkg / "members/front_0/README.md"
        readme.unlink()
        readme.symlink_to("/etc/passwd")
        return loaded

    monkeypatch.setattr(pub, "load_package", load_then_swap)
    secret = Path("/etc/passwd").read_bytes()
    with use_hub(server, tmp_path / "hf"):
        with pytest.raises(PublishError, match=r"front_0/README.md cannot be read without following a link"):
            publish(pkg, NAMESPACE + "-toctou", index_path=tmp_path / "index.json", retry=RetryPolicy(attempts=1))
    uploaded = [f for repo in server.repos for f in server.files(repo, "main").values()]
    assert secret not in uploaded
