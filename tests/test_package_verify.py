"""The checks of a package folder (``ofa2_zoo.package.verify``) on a package made by hand in the
test (no packaging run): each rule at the value just past its boundary with its whole message,
config.json against the arch and space it must describe, the weights' tensor names and shapes,
and a file that changes after it was checked."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import safetensors.torch
import torch

from ofa2_zoo.errors import clip
from ofa2_zoo.package import PackageError
from ofa2_zoo.package.manifest import FIX_PACKAGE, read_manifest
from ofa2_zoo.package.verify import (MAX_CONFIG_BYTES, ContainmentError, check_member, check_weights, config_arch,
                                     contained, expected_shapes, front_files, read_config, sha256_file, verify_package)
from ofa2_zoo.space import ArchSpec
from ofa2_zoo.supernet.subnet import create_subnet

from _package_helpers import TINY

ARCHS = [ArchSpec.from_dict(a.to_dict(), TINY) for a in TINY.genes_to_archs(TINY.sample_genes(3, 5))]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_for(arch) -> dict:
    r = arch.r
    return {"architecture": "ofa2_subnet", "num_classes": TINY.num_classes,
            "model_args": {"arch": arch.to_dict(), "space": TINY.to_dict()},
            "pretrained_cfg": {"num_classes": TINY.num_classes, "input_size": [TINY.in_chans, r, r], "mean": [0.3],
                               "std": [0.4], "crop_pct": 1.0, "interpolation": "bilinear"}}


def build(root: Path, archs=ARCHS[:2]) -> Path:
    """A package folder of ``archs`` (random weights), with package.json listing every file."""
    members = []
    for k, arch in enumerate(archs):
        folder = root / "members" / f"front_{k}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config_for(arch)))
        torch.manual_seed(k)
        state = {n: t.contiguous() for n, t in create_subnet(arch, TINY).state_dict().items()}
        (folder / "model.safetensors").write_bytes(safetensors.torch.save(state))
        (folder / "README.md").write_text(f"member {k}\n")
        members.append({"k": k, "name": f"ofa2_tiny_test_front_{k}", "folder": f"members/front_{k}", "front_index": k,
                        "arch": arch.to_dict(), "objectives": {"latency_ms": 1.0 + k},
                        "files": {p.name: _sha(p) for p in sorted(folder.iterdir())},
                        "parity": {"n_images": 1, "max_abs_diff": 0.0, "tolerance": 0.1, "top1_agreement": 1.0,
                                   "top1_mismatches": 0, "unexplained_mismatches": 0, "passed": True}})
    (root / "front").mkdir()
    (root / "front" / "front.json").write_text("{}")
    (root / "front" / "README.md").write_text("front\n")
    manifest = {"format": "ofa2-package/1", "profile": "tiny-test", "front_version_id": "f" * 64,
                "space": TINY.to_dict(), "members": members, "package_version": "1.0"}
    (root / "package.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("verify") / "pkg")


@pytest.fixture
def pkg(original, tmp_path) -> Path:
    return Path(shutil.copytree(original, tmp_path / "pkg", symlinks=True))


def relist(pkg: Path, k: int, name: str, edit=None) -> None:
    """Put the new sha256 of a member file into package.json (as someone editing the package would)."""
    data = json.loads((pkg / "package.json").read_text())
    m = data["members"][k]
    if edit:
        edit(data, m)
    if name:
        m["files"][name] = _sha(pkg / m["folder"] / name)
    (pkg / "package.json").write_text(json.dumps(data))


def what(pkg: Path, k: int = 0) -> str:
    return f"package {pkg}: member k={k} (ofa2_tiny_test_front_{k})"


def refused(pkg: Path) -> str:
    with pytest.raises(PackageError) as exc:
        verify_package(pkg)
    return str(exc.value)


def test_the_hand_made_package_passes_and_each_member_gives_its_files(pkg):
    manifest = verify_package(pkg)
    assert [m.k for m in manifest.members] == [0, 1] and manifest == read_manifest(pkg)
    paths = check_member(pkg, manifest, manifest.members[1])
    assert paths == {n: pkg / "members" / "front_1" / n for n in ("README.md", "config.json", "model.safetensors")}
    assert front_files(pkg, manifest) == {"README.md": pkg / "front" / "README.md",
                                          "front.json": pkg / "front" / "front.json"}


def test_every_member_is_checked_and_the_front_folder_too(pkg):
    (pkg / "members/front_1/README.md").write_text("changed\n")
    assert refused(pkg) == (f"{what(pkg, 1)}: {pkg}/members/front_1/README.md does not match its sha256 in "
                            f"package.json (changed after packaging?; {FIX_PACKAGE})")
    relist(pkg, 1, "README.md")
    verify_package(pkg)
    (pkg / "front" / "page.html").symlink_to("/etc/hostname")
    assert refused(pkg) == (f"package {pkg}: front folder: {pkg}/front/page.html is a symbolic link (to "
                            f"/etc/hostname); a package holds only its own regular files ({FIX_PACKAGE})")


def test_the_front_folder_skips_sub_folders_and_must_be_a_folder(pkg):
    (pkg / "front" / "assets").mkdir()
    manifest = verify_package(pkg)
    assert sorted(front_files(pkg, manifest)) == ["README.md", "front.json"]
    shutil.rmtree(pkg / "front")
    (pkg / "front").write_text("not a folder")
    assert refused(pkg) == f"package {pkg}: front folder: {pkg}/front is not a folder ({FIX_PACKAGE})"


def test_a_symlinked_package_json_is_refused_before_it_is_read(pkg, tmp_path):
    real = tmp_path / "elsewhere.json"
    shutil.move(pkg / "package.json", real)
    (pkg / "package.json").symlink_to(real)
    assert refused(pkg) == (f"package {pkg}: {pkg}/package.json is a symbolic link (to {clip(str(real))}); a package holds only "
                            f"its own regular files ({FIX_PACKAGE})")


# ---------------------------------------------------------------------------- containment
@pytest.mark.parametrize("rel", ["", "/etc", "a//b", "./a", "a/.", "..", "members/../members/front_0"])
def test_paths_that_leave_the_package_are_refused(rel, original):
    with pytest.raises(ContainmentError) as exc:
        contained(original, rel, "W")
    assert str(exc.value) == f"W: path {rel!r} leaves the package folder {original} ({FIX_PACKAGE})"


def test_contained_files_and_folders(pkg):
    assert contained(pkg, "members/front_0/config.json", "W") == pkg / "members/front_0/config.json"
    assert contained(pkg, "members/front_0", "W", folder=True) == pkg / "members/front_0"
    with pytest.raises(ContainmentError) as exc:
        contained(pkg, "members/front_0", "W")
    assert str(exc.value) == f"W: {pkg}/members/front_0 is not a regular file ({FIX_PACKAGE})"
    with pytest.raises(ContainmentError) as exc:
        contained(pkg, "members/front_0/config.json", "W", folder=True)
    assert str(exc.value) == f"W: {pkg}/members/front_0/config.json is not a folder ({FIX_PACKAGE})"
    with pytest.raises(ContainmentError) as exc:
        contained(pkg, "members/front_9/config.json", "W")
    assert str(exc.value) == f"W: {pkg}/members/front_9/config.json is missing; the package is incomplete ({FIX_PACKAGE})"
    os.mkfifo(pkg / "members/front_0/pipe")
    with pytest.raises(ContainmentError, match="pipe is not a regular file"):
        contained(pkg, "members/front_0/pipe", "W")


def test_a_symbolic_link_anywhere_on_the_path_is_refused(pkg, tmp_path):
    (pkg / "link.json").symlink_to("members/front_0/config.json")  # even one that stays inside
    with pytest.raises(ContainmentError) as exc:
        contained(pkg, "link.json", "W")
    assert str(exc.value) == (f"W: {pkg}/link.json is a symbolic link (to members/front_0/config.json); a "
                              f"package holds only its own regular files ({FIX_PACKAGE})")
    shutil.move(pkg / "members", tmp_path / "members")
    (pkg / "members").symlink_to(tmp_path / "members", target_is_directory=True)
    with pytest.raises(ContainmentError) as exc:
        contained(pkg, "members/front_0/config.json", "W")
    assert str(exc.value).startswith(f"W: {pkg}/members is a symbolic link (to {clip(f'{tmp_path}/members')})")


def test_sha256_of_a_file_larger_than_one_read(tmp_path):
    path = tmp_path / "big"
    data = bytes(range(256)) * (5 * 4096 + 17)  # 5.x MiB: several chunks and a partial one
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


# ---------------------------------------------------------------------------- member files
def test_files_package_json_does_not_list_or_that_are_missing(pkg):
    (pkg / "members/front_0/notes.txt").write_text("x")
    (pkg / "members/front_0/a.txt").write_text("x")
    assert refused(pkg) == (f"{what(pkg)}: {pkg}/members/front_0 has files package.json does not list (a.txt, "
                            f"notes.txt); {FIX_PACKAGE}")
    (pkg / "members/front_0/notes.txt").unlink()
    (pkg / "members/front_0/a.txt").unlink()
    (pkg / "members/front_0/README.md").unlink()
    assert refused(pkg) == (f"{what(pkg)}: {pkg}/members/front_0/README.md is missing; the package is incomplete "
                            f"({FIX_PACKAGE})")


def test_a_sub_folder_or_a_link_in_a_member_folder_is_refused(pkg):
    (pkg / "members/front_1/sub").mkdir()
    assert refused(pkg) == (f"{what(pkg, 1)}: {pkg}/members/front_1/sub is not a regular file; a package holds only "
                            f"its own regular files ({FIX_PACKAGE})")
    (pkg / "members/front_1/sub").rmdir()
    (pkg / "members/front_1/README.md").unlink()
    (pkg / "members/front_1/README.md").symlink_to("../front_0/README.md")
    assert refused(pkg) == (f"{what(pkg, 1)}: {pkg}/members/front_1/README.md is a symbolic link (to "
                            f"../front_0/README.md); a package holds only its own regular files "
                            f"({FIX_PACKAGE})")


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_member_without_its_config_or_weights_is_incomplete(pkg, name):
    (pkg / "members/front_0" / name).unlink()
    relist(pkg, 0, None, lambda data, m: m["files"].pop(name))
    assert refused(pkg) == f"{what(pkg)}: package.json lists no {name}; the package is incomplete ({FIX_PACKAGE})"


# ---------------------------------------------------------------------------- config.json
def write_config(pkg: Path, cfg, k: int = 0) -> str:
    path = pkg / f"members/front_{k}/config.json"
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    relist(pkg, k, "config.json")
    return refused(pkg)


def cfg_error(pkg: Path, field: str, msg: str) -> str:
    return f"{what(pkg)}: {pkg}/members/front_0/config.json: field '{field}': {msg} ({FIX_PACKAGE})"


def test_the_config_size_limit_holds_at_its_boundary(pkg):
    path = pkg / "members/front_0/config.json"
    text = path.read_text()
    path.write_text(text + " " * (MAX_CONFIG_BYTES - len(text)))  # exactly the limit: read
    relist(pkg, 0, "config.json")
    verify_package(pkg)
    path.write_text(text + " " * (MAX_CONFIG_BYTES + 1 - len(text)))
    relist(pkg, 0, "config.json")
    assert refused(pkg) == (f"{what(pkg)}: {path}: {MAX_CONFIG_BYTES + 1:,} bytes is too large for a config.json "
                            f"({FIX_PACKAGE})")
    assert MAX_CONFIG_BYTES == 1024 * 1024


def test_a_config_that_is_not_json(pkg):
    why = write_config(pkg, '{"architecture": ')
    assert why.startswith(f"{what(pkg)}: {pkg}/members/front_0/config.json is not valid JSON (Expecting value")
    assert why.endswith(f"; {FIX_PACKAGE})")
    (pkg / "members/front_0/config.json").write_bytes(b'{"a": "\xff"}')
    relist(pkg, 0, "config.json")
    assert "config.json is not valid JSON ('utf-8' codec can't decode" in refused(pkg)


def _cfg(**pretrained) -> dict:
    cfg = config_for(ARCHS[0])
    cfg["pretrained_cfg"].update(pretrained)
    return cfg


@pytest.mark.parametrize("pretrained, field, msg", [
    ({"num_classes": 0}, "pretrained_cfg.num_classes", "Input should be greater than or equal to 1"),
    ({"std": [0.0]}, "pretrained_cfg.std", "standard deviations must be positive, got [0.0]"),
    ({"std": [0.4, -1e-9]}, "pretrained_cfg.std", "standard deviations must be positive, got [0.4, -1e-09]"),
    ({"input_size": [1, 0, 12]}, "pretrained_cfg.input_size", "sizes must be positive, got [1, 0, 12]"),
    ({"input_size": [0, 12, 12]}, "pretrained_cfg.input_size", "sizes must be positive, got [0, 12, 12]"),
    ({"crop_pct": 0.0}, "pretrained_cfg.crop_pct", "Input should be greater than 0"),
    ({"crop_pct": 1.0001}, "pretrained_cfg.crop_pct", "Input should be less than or equal to 1"),
    ({"mean": []}, "pretrained_cfg.mean", "Tuple should have at least 1 item after validation, not 0"),
    ({"mean": [0.1] * 5}, "pretrained_cfg.mean", "Tuple should have at most 4 items after validation, not 5"),
])
def test_pretrained_cfg_rules_just_past_each_boundary(pkg, pretrained, field, msg):
    assert write_config(pkg, _cfg(**pretrained)) == cfg_error(pkg, field, msg)


def test_pretrained_cfg_values_at_the_boundaries_are_read(pkg):
    cfg = read_config(_write(pkg, _cfg(std=[1e-9], crop_pct=1.0, mean=[0.1, 0.2, 0.3, 0.4])), "W")
    assert cfg.pretrained_cfg.std == (1e-9,) and cfg.pretrained_cfg.crop_pct == 1.0
    assert cfg.pretrained_cfg.mean == (0.1, 0.2, 0.3, 0.4)
    size = read_config(_write(pkg, _cfg(input_size=[1, 1, 1])), "W").pretrained_cfg.input_size
    assert size == (1, 1, 1)


def _write(pkg: Path, cfg: dict) -> Path:
    path = pkg / "members/front_0/config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_other_config_fields(pkg):
    cfg = config_for(ARCHS[0])
    cfg["architecture"] = "resnet50"
    assert write_config(pkg, cfg) == cfg_error(pkg, "architecture", "Input should be 'ofa2_subnet'")
    cfg = config_for(ARCHS[0])
    cfg["num_classes"] = 0
    assert write_config(pkg, cfg) == cfg_error(pkg, "num_classes", "Input should be greater than or equal to 1")
    cfg = config_for(ARCHS[0])
    del cfg["model_args"]["space"]
    assert write_config(pkg, cfg) == cfg_error(pkg, "model_args.space", "Field required")


def test_config_of_an_arch_its_space_cannot_hold(pkg):
    cfg = config_for(ARCHS[0])
    cfg["model_args"]["arch"]["r"] = [99]
    why = write_config(pkg, cfg)
    assert why.startswith(f"{what(pkg)}: {pkg}/members/front_0/config.json: field 'model_args': ")
    assert "99" in why and why.endswith(f" ({FIX_PACKAGE})")
    cfg = config_for(ARCHS[0])
    cfg["model_args"]["space"] = "no_such_space"
    assert "field 'model_args': " in write_config(pkg, cfg)


@pytest.mark.parametrize("where", ["in_chans", "height", "width", "num_classes", "pretrained_num_classes"])
def test_config_input_size_and_classes_must_fit_the_arch(pkg, where):
    arch = ARCHS[0]
    r = arch.r
    cfg = config_for(arch)
    size = [TINY.in_chans, r, r]
    if where == "in_chans":
        size[0] = 3
    elif where == "height":
        size[1] = r + 1
    elif where == "width":
        size[2] = r + 1
    cfg["pretrained_cfg"]["input_size"] = size
    if where == "num_classes":
        cfg["num_classes"] = 11
    if where == "pretrained_num_classes":
        cfg["pretrained_cfg"]["num_classes"] = 11
    pcn = cfg["pretrained_cfg"]["num_classes"]
    assert write_config(pkg, cfg) == (
        f"{what(pkg)}: {pkg}/members/front_0/config.json: field 'pretrained_cfg': input_size {size} / num_classes "
        f"{pcn} do not fit the arch (expected {[TINY.in_chans, r, r]} / {TINY.num_classes}; {FIX_PACKAGE})")


def test_config_arch_gives_the_arch_and_space_it_describes(pkg):
    path = pkg / "members/front_1/config.json"
    arch, space = config_arch(read_config(path, "W"), path, "W")
    assert arch == ARCHS[1] and space.to_dict() == TINY.to_dict()


def test_a_config_of_another_member_or_space_than_package_json_lists(pkg):
    shutil.copy(pkg / "members/front_1/config.json", pkg / "members/front_0/config.json")
    relist(pkg, 0, "config.json")
    assert refused(pkg) == (f"{what(pkg)}: {pkg}/members/front_0/config.json describes arch {ARCHS[1].to_string()}, "
                            f"package.json lists {ARCHS[0].to_string()} ({FIX_PACKAGE})")


def test_package_json_of_another_space_or_a_bad_arch(pkg):
    other = {**TINY.to_dict(), "name": "ofa2_test_other", "num_classes": 12}
    relist(pkg, 0, None, lambda data, m: data.update(space=other))
    assert refused(pkg) == (f"{what(pkg)}: {pkg}/members/front_0/config.json describes space 'ofa2_test_tiny', "
                            f"package.json space 'ofa2_test_other' ({FIX_PACKAGE})")
    relist(pkg, 0, None, lambda data, m: (data.update(space=TINY.to_dict()), m["arch"].update(r=[99])))
    why = refused(pkg)
    assert why.startswith(f"{what(pkg)}: package.json field 'members.0.arch': ") and why.endswith(f" ({FIX_PACKAGE})")


# ---------------------------------------------------------------------------- model.safetensors
def weights_error(pkg: Path, state: dict) -> str:
    path = pkg / "members/front_0/model.safetensors"
    path.write_bytes(safetensors.torch.save(state))
    relist(pkg, 0, "model.safetensors")
    return refused(pkg)


def _state(arch=ARCHS[0]) -> dict:
    return {n: t.contiguous() for n, t in create_subnet(arch, TINY).state_dict().items()}


def test_weights_missing_or_extra_tensors(pkg):
    path = f"{pkg}/members/front_0/model.safetensors"
    arch = ARCHS[0].to_string()
    state = _state()
    names = sorted(state)
    missing = {k: v for k, v in state.items() if k not in names[:2]}
    assert weights_error(pkg, missing) == (f"{what(pkg)}: {path} does not hold the tensors of arch {arch} (missing "
                                           f"{names[0]}, {names[1]}; {FIX_PACKAGE})")
    extra = {**state, "zz.extra": torch.zeros(2), "aa.extra": torch.zeros(1)}
    assert weights_error(pkg, extra) == (f"{what(pkg)}: {path} does not hold the tensors of arch {arch} (unexpected "
                                         f"aa.extra, zz.extra; {FIX_PACKAGE})")
    both = {**missing, "aa.extra": torch.zeros(1)}
    assert weights_error(pkg, both) == (f"{what(pkg)}: {path} does not hold the tensors of arch {arch} (missing "
                                        f"{names[0]}, {names[1]}; unexpected aa.extra; {FIX_PACKAGE})")


def test_weights_of_the_wrong_shape(pkg):
    state = _state()
    expected = expected_shapes(ARCHS[0], TINY)
    assert expected == {k: tuple(v.shape) for k, v in state.items()}
    names = list(expected)
    bad = dict(state)
    for n in (names[3], names[5]):
        bad[n] = torch.zeros(tuple(s + 1 for s in state[n].shape) or (2,))
    first = names[3]
    assert weights_error(pkg, bad) == (
        f"{what(pkg)}: {pkg}/members/front_0/model.safetensors: tensor {first} has shape {list(bad[first].shape)}, "
        f"arch {ARCHS[0].to_string()} needs {list(state[first].shape)} (2 tensor(s) of the wrong shape; "
        f"{FIX_PACKAGE})")


def test_weights_that_are_not_safetensors(pkg, tmp_path):
    path = pkg / "members/front_0/model.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage" * 10)
    relist(pkg, 0, "model.safetensors")
    why = refused(pkg)
    assert why.startswith(f"{what(pkg)}: {path} is not a readable safetensors file (") and \
        why.endswith(f"; {FIX_PACKAGE})")
    with pytest.raises(PackageError, match=r"^W: .*nothing is not a readable safetensors file \("):
        check_weights(tmp_path / "nothing", ARCHS[0], TINY, "W")  # a file that went away after the checks


def test_a_file_changed_after_its_checksum_was_checked_is_what_the_next_check_sees(pkg):
    """check_member returns the paths it checked; a config replaced in between is caught by the
    next check of the same member (nothing about a file is remembered between checks)."""
    manifest = verify_package(pkg)
    paths = check_member(pkg, manifest, manifest.members[0])
    original = paths["config.json"].read_bytes()
    cfg = json.loads(original)
    cfg["pretrained_cfg"]["mean"] = [0.31]
    new = json.dumps(cfg).encode()
    paths["config.json"].write_bytes(new)  # same size? no matter: the sha256 is computed again
    with pytest.raises(PackageError, match="config.json does not match its sha256 in package.json"):
        check_member(pkg, manifest, manifest.members[0])
    same_size = original.replace(b'"mean": [0.3]', b'"mean": [0.2]')
    assert len(same_size) == len(original) and same_size != original
    paths["config.json"].write_bytes(same_size)
    os.utime(paths["config.json"], ns=(0, 0))
    with pytest.raises(PackageError, match="config.json does not match its sha256 in package.json"):
        check_member(pkg, manifest, manifest.members[0])
    paths["config.json"].write_bytes(original)
    assert check_member(pkg, copy.deepcopy(manifest), manifest.members[0]) == paths


def test_of_several_bad_entries_the_first_by_name_is_reported(pkg):
    (pkg / "members/front_0/b_sub").mkdir()
    (pkg / "members/front_0/a_link").symlink_to("README.md")
    assert refused(pkg).startswith(f"{what(pkg)}: {pkg}/members/front_0/a_link is a symbolic link (to README.md)")
    (pkg / "members/front_0/a_link").unlink()
    (pkg / "members/front_0/c_link").symlink_to("README.md")
    assert refused(pkg).startswith(f"{what(pkg)}: {pkg}/members/front_0/b_sub is not a regular file")


def test_of_several_changed_files_the_first_by_name_is_reported(pkg):
    for name in ("config.json", "README.md", "model.safetensors"):
        path = pkg / "members/front_1" / name
        path.write_bytes(path.read_bytes() + b" ")
    assert refused(pkg).startswith(f"{what(pkg, 1)}: {pkg}/members/front_1/README.md does not match its sha256")
    relist(pkg, 1, "README.md")
    assert refused(pkg).startswith(f"{what(pkg, 1)}: {pkg}/members/front_1/config.json does not match its sha256")


def test_of_several_links_in_the_front_folder_the_first_by_name_is_reported(pkg):
    (pkg / "front" / "z.png").symlink_to("/etc/hostname")
    (pkg / "front" / "b.png").symlink_to("/etc/passwd")
    assert refused(pkg).startswith(f"package {pkg}: front folder: {pkg}/front/b.png is a symbolic link (to /etc/passwd)")
