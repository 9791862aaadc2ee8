"""What the files of a package folder may be, checked before anything reads or uploads them.

A package folder is data on disk that anyone could have edited, so publishing, ``register_front``
and ``local-dir:`` loading read its files only after these checks, which need no network:

- **containment**: every file is a regular file inside the package folder, reached without
  following a symbolic link, through a relative path without ``..`` (a member ``folder`` of
  ``../elsewhere``, a symlinked member folder or a ``README.md`` pointing at ``/etc/passwd``
  are refused, naming the member and the path);
- **checksums**: each file listed in ``package.json`` has its sha256; nothing else sits in a
  member folder;
- **content**: ``config.json`` follows its schema and describes the member's arch and the
  package's space; ``model.safetensors`` is a readable safetensors file whose tensor names and
  shapes are exactly those of the member's network (read from the header; no weights loaded).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, ValidationError, field_validator

from .._io import read_json_capped, sha256_file
from .._schema import Schema, field_error
from ..errors import ContainmentError, FileTooLarge, Ofa2Error, PackageError, clip, shorten
from .manifest import FIX_PACKAGE, Member, PackageManifest

MAX_CONFIG_BYTES = 1 << 20
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


# ---------------------------------------------------------------------------- containment
def contained(root: Path, rel: str, what: str, *, folder: bool = False) -> Path:
    """``root / rel`` when it is a regular file (or, with ``folder``, a directory) inside ``root``
    reached without any symbolic link; else :class:`ContainmentError` naming ``what`` and the path."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ContainmentError(f"{what}: path {shorten(rel)} leaves the package folder {root} ({FIX_PACKAGE})")
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise ContainmentError(f"{what}: {path} is a symbolic link (to {clip(os.readlink(path))}); a package "
                                   f"holds only its own regular files ({FIX_PACKAGE})")
    if not path.resolve().is_relative_to(root.resolve()):
        raise ContainmentError(f"{what}: {path} resolves outside the package folder {root} ({FIX_PACKAGE})")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        raise ContainmentError(f"{what}: {path} is missing; the package is incomplete ({FIX_PACKAGE})") from None
    if folder and not stat.S_ISDIR(mode):
        raise ContainmentError(f"{what}: {path} is not a folder ({FIX_PACKAGE})")
    if not folder and not stat.S_ISREG(mode):
        raise ContainmentError(f"{what}: {path} is not a regular file ({FIX_PACKAGE})")
    return path


# ---------------------------------------------------------------------------- config.json
class _Model(Schema):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class ModelArgs(_Model):
    arch: dict[str, list[int]]
    space: Union[str, dict[str, Any]]


class PretrainedCfgModel(_Model):
    """The fields of timm's pretrained_cfg that loading and preprocessing rely on."""

    num_classes: int = Field(..., ge=1)
    input_size: tuple[int, int, int]
    mean: tuple[float, ...] = Field(..., min_length=1, max_length=4)
    std: tuple[float, ...] = Field(..., min_length=1, max_length=4)
    crop_pct: Optional[float] = Field(None, gt=0, le=1)
    interpolation: Optional[str] = None

    @field_validator("input_size")
    @classmethod
    def _positive(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(value) < 1:
            raise ValueError(f"sizes must be positive, got {list(value)}")
        return value

    @field_validator("std")
    @classmethod
    def _std(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if min(value) <= 0:
            raise ValueError(f"standard deviations must be positive, got {list(value)}")
        return value


class MemberConfig(_Model):
    """``config.json`` of a member folder (timm's Hub layout, architecture ``ofa2_subnet``)."""

    architecture: Literal["ofa2_subnet"]
    num_classes: int = Field(..., ge=1)
    model_args: ModelArgs
    pretrained_cfg: PretrainedCfgModel


def read_config(path: Path, what: str) -> MemberConfig:
    """Parse and validate a member's ``config.json`` (one-line :class:`PackageError`)."""
    try:
        data = read_json_capped(path, MAX_CONFIG_BYTES)
    except FileTooLarge as exc:
        raise PackageError(f"{what}: {path}: {exc.size:,} bytes is too large for a config.json ({FIX_PACKAGE})") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageError(f"{what}: {path} is not valid JSON ({exc}; {FIX_PACKAGE})") from None
    try:
        return MemberConfig.model_validate(data)
    except ValidationError as exc:
        raise PackageError(f"{what}: {path}: {field_error(exc)} ({FIX_PACKAGE})") from None


def config_arch(cfg: MemberConfig, path: Path, what: str):
    """The (arch, space) a validated config.json describes."""
    from ..space import ArchSpec, resolve_space

    try:
        space = resolve_space(cfg.model_args.space)
        arch = ArchSpec.from_dict(cfg.model_args.arch, space)
    except Ofa2Error as exc:
        raise PackageError(f"{what}: {path}: field 'model_args': {exc} ({FIX_PACKAGE})") from None
    r = cfg.pretrained_cfg.input_size
    if r != (space.in_chans, arch.r, arch.r) or cfg.num_classes != space.num_classes or \
            cfg.pretrained_cfg.num_classes != space.num_classes:
        raise PackageError(f"{what}: {path}: field 'pretrained_cfg': input_size {list(r)} / num_classes "
                           f"{cfg.pretrained_cfg.num_classes} do not fit the arch (expected "
                           f"{[space.in_chans, arch.r, arch.r]} / {space.num_classes}; {FIX_PACKAGE})")
    return arch, space


# ---------------------------------------------------------------------------- model.safetensors
def expected_shapes(arch, space) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the network ``arch`` (built on the meta device: no memory, no init)."""
    import torch

    from ..supernet.subnet import create_subnet

    with torch.device("meta"):
        model = create_subnet(arch, space)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_weights(path: Path, arch, space, what: str) -> None:
    """``path`` is a safetensors file holding exactly the tensors of ``arch`` with their shapes."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise PackageError(f"{what}: {path} is not a readable safetensors file ({clip(str(exc), 120)}; "
                           f"{FIX_PACKAGE})") from None
    expected = expected_shapes(arch, space)
    missing = sorted(expected.keys() - shapes.keys())
    extra = sorted(shapes.keys() - expected.keys())
    if missing or extra:
        detail = (f"missing {clip(', '.join(missing), 120)}" if missing else "") + \
                 ("; " if missing and extra else "") + (f"unexpected {clip(', '.join(extra), 120)}" if extra else "")
        raise PackageError(f"{what}: {path} does not hold the tensors of arch {arch.to_string()} ({detail}; "
                           f"{FIX_PACKAGE})")
    wrong = [k for k in expected if shapes[k] != expected[k]]
    if wrong:
        k = wrong[0]
        raise PackageError(f"{what}: {path}: tensor {k} has shape {list(shapes[k])}, arch {arch.to_string()} needs "
                           f"{list(expected[k])} ({len(wrong)} tensor(s) of the wrong shape; {FIX_PACKAGE})")


# ---------------------------------------------------------------------------- a member as a whole
def verify_package(root: str | os.PathLike) -> PackageManifest:
    """Every check of this module for a whole package folder (``package.json``, each member, the
    front folder); returns the manifest. Raises :class:`PackageError` naming the member and path."""
    from .manifest import MANIFEST_NAME, read_manifest

    root = Path(root)
    if (root / MANIFEST_NAME).is_symlink():
        contained(root, MANIFEST_NAME, f"package {root}")
    manifest = read_manifest(root)
    for member in manifest.members:
        check_member(root, manifest, member)
    front_files(root, manifest)
    return manifest


def member_what(root: Path, member: Member) -> str:
    return f"package {root}: member k={member.k} ({member.name})"


def front_files(root: Path, manifest: PackageManifest) -> dict[str, Path]:
    """The regular files of the package's front folder (symbolic links refused, sub-folders skipped)."""
    what = f"package {root}: front folder"
    folder = contained(root, manifest.front_folder, what, folder=True)
    files = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            raise ContainmentError(f"{what}: {entry} is a symbolic link (to {clip(os.readlink(entry))}); a package "
                                   f"holds only its own regular files ({FIX_PACKAGE})")
        if stat.S_ISREG(entry.lstat().st_mode):
            files[entry.name] = entry
    return files


def check_member(root: Path, manifest: PackageManifest, member: Member) -> dict[str, Path]:
    """Every check above for one member; returns file name -> path of its (listed) files."""
    what = member_what(root, member)
    folder = contained(root, member.folder, what, folder=True)
    present = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or not stat.S_ISREG(entry.lstat().st_mode):
            kind = f"a symbolic link (to {clip(os.readlink(entry))})" if entry.is_symlink() else "not a regular file"
            raise ContainmentError(f"{what}: {entry} is {kind}; a package holds only its own regular files "
                                   f"({FIX_PACKAGE})")
        present[entry.name] = entry
    extra = sorted(present.keys() - member.files.keys())
    if extra:
        raise PackageError(f"{what}: {folder} has files package.json does not list ({clip(', '.join(extra))}); "
                           f"{FIX_PACKAGE}")
    missing = sorted(member.files.keys() - present.keys())
    if missing:
        raise PackageError(f"{what}: {folder / missing[0]} is missing; the package is incomplete ({FIX_PACKAGE})")
    for name, sha in sorted(member.files.items()):
        if sha256_file(present[name], memo=False) != sha:
            raise PackageError(f"{what}: {present[name]} does not match its sha256 in package.json (changed after "
                               f"packaging?; {FIX_PACKAGE})")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if name not in present:
            raise PackageError(f"{what}: package.json lists no {name}; the package is incomplete ({FIX_PACKAGE})")
    cfg_path = present[CONFIG_NAME]
    arch, space = config_arch(read_config(cfg_path, what), cfg_path, what)
    _check_matches_manifest(manifest, member, arch, space, cfg_path, what)
    check_weights(present[WEIGHTS_NAME], arch, space, what)
    return {name: present[name] for name in member.files}


def _check_matches_manifest(manifest: PackageManifest, member: Member, arch, space, cfg_path: Path,
                            what: str) -> None:
    from ..space import ArchSpec, SearchSpace

    try:
        listed_space = SearchSpace.from_dict(manifest.space)
        listed = ArchSpec.from_dict(member.arch, listed_space)
    except Ofa2Error as exc:
        raise PackageError(f"{what}: package.json field 'members.{member.k}.arch': {exc} ({FIX_PACKAGE})") from None
    if space.to_dict() != listed_space.to_dict():
        raise PackageError(f"{what}: {cfg_path} describes space {space.name!r}, package.json space "
                           f"{listed_space.name!r} ({FIX_PACKAGE})")
    if arch != listed:
        raise PackageError(f"{what}: {cfg_path} describes arch {arch.to_string()}, package.json lists "
                           f"{listed.to_string()} ({FIX_PACKAGE})")
