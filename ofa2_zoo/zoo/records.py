"""Packages in the user's zoo: what a package folder holds, recording it and forgetting it.

``ofa2 package`` and ``ofa2 run`` (and ``ofa2 zoo add``) record a package in the user index
(:func:`~ofa2_zoo.zoo.index.user_index_path`) with everything ``import ofa2_zoo`` needs to
register its timm names without opening the package: arch, space, pretrained_cfg and weights
file of each member, plus a stamp of its ``package.json`` to notice a package that was
re-written since.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from pathlib import Path
from ..package.manifest import MANIFEST_NAME, read_manifest
from ..package.verify import contained, member_what
from .index import PackageMember, PackageRecord, RegistryError, check_arch, edit_index, user_index_path

WEIGHTS_NAME = "model.safetensors"


def _read_config(path: Path, what: str) -> dict:
    """A member's config.json, validated (see :mod:`ofa2_zoo.package.verify`), as a dict."""
    from ..package.verify import read_config

    read_config(path, what)
    return json.loads(path.read_bytes())


def package_record(folder: str | os.PathLike, recorded_at: float | None = None) -> PackageRecord:
    """Read a package folder (``ofa2 package`` output) into a record; every member must have its
    ``config.json`` (an ``ofa2_subnet`` of the package's space) and ``model.safetensors``."""
    folder = Path(folder).expanduser().resolve()
    manifest = read_manifest(folder)
    members = []
    for m in manifest.members:
        # Contained regular files only (no symbolic link, nothing outside the folder): the full
        # checks (sha256, tensor shapes) run in register_front and before publishing.
        what = member_what(folder, m)
        contained(folder, m.folder, what, folder=True)
        cfg_path = contained(folder, f"{m.folder}/config.json", what)
        cfg = _read_config(cfg_path, what)
        arch, space = cfg["model_args"]["arch"], cfg["model_args"]["space"]
        if space != manifest.space:
            raise RegistryError(f"{cfg_path}: its space differs from the package's ({folder / MANIFEST_NAME})")
        check_arch(arch, space, str(cfg_path))
        if not (folder / m.folder / WEIGHTS_NAME).exists():
            raise RegistryError(f"package {folder}: member k={m.k} has no {WEIGHTS_NAME} in {folder / m.folder}")
        weights = contained(folder, f"{m.folder}/{WEIGHTS_NAME}", what)
        members.append(PackageMember(k=m.k, arch=arch, weights=str(weights.relative_to(folder)),
                                     pretrained_cfg=cfg["pretrained_cfg"], top1=m.measured.get("top1"),
                                     latency_ms=m.objectives.get("latency_ms"),
                                     runtime_latency_ms=m.runtime_latency_ms()))
    if not members:
        raise RegistryError(f"package {folder} has no members")
    st = (folder / MANIFEST_NAME).stat()
    return PackageRecord(path=str(folder), profile=manifest.profile, front_version_id=manifest.front_version_id,
                         recorded_at=time.time() if recorded_at is None else recorded_at,
                         manifest_stamp=[st.st_mtime_ns, st.st_size], space=manifest.space, members=members)


def manifest_stamp(folder: str | os.PathLike) -> list[int] | None:
    """``[mtime_ns, size]`` of a package's ``package.json``, None when it is gone."""
    try:
        st = (Path(folder) / MANIFEST_NAME).stat()
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def record_package(folder: str | os.PathLike, index_path: str | os.PathLike | None = None) -> PackageRecord:
    """Record a package in the user index (replacing an earlier record of the same folder);
    from then on ``import ofa2_zoo`` registers its names with tag ``local`` (newest package of
    a profile first)."""
    record = package_record(folder)
    with edit_index(index_path or user_index_path()) as index:
        index.packages = [p for p in index.packages if p.path != record.path] + [record]
    return record


def forget(target: str | os.PathLike, index_path: str | os.PathLike | None = None) -> list[PackageRecord]:
    """Remove recorded packages: the one at path ``target`` (it may be gone already) or every
    package of profile ``target``. The package folders themselves are not touched."""
    text = os.fspath(target)
    path = Path(index_path or user_index_path())
    with edit_index(path) as index:
        resolved = str(Path(text).expanduser().resolve())
        gone = [p for p in index.packages if p.path in (resolved, text)]
        if not gone:
            gone = [p for p in index.packages if p.profile == text]
        if not gone:
            known = sorted({p.path for p in index.packages} | {p.profile for p in index.packages})
            close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                f"; recorded: {', '.join(known)}" if known else "; the local zoo is empty"
            raise RegistryError(f"no package recorded at {text!r} and no recorded package of profile {text!r} "
                                f"in {path}{hint}")
        index.packages = [p for p in index.packages if p not in gone]
    return gone


def hub_index_members(package_dir: str | os.PathLike, repo_ids: dict[int, str], revision: str,
                      endpoint: str | None = None) -> list[dict]:
    """Zoo-index rows for a package published as member repos ``repo_ids[k]`` at tag ``revision``
    on the Hub at ``endpoint`` (None: whatever ``HF_ENDPOINT`` names when a member is loaded)."""
    record = package_record(package_dir, recorded_at=0.0)
    rows = []
    for m in record.members:
        if m.k not in repo_ids:
            raise RegistryError(f"no Hub repo given for member k={m.k}")
        rows.append({"k": m.k, "repo_id": repo_ids[m.k], "revision": revision, "arch": m.arch, "space": record.space,
                     "pretrained_cfg": m.pretrained_cfg, "top1": m.top1, "latency_ms": m.latency_ms,
                     "runtime_latency_ms": dict(m.runtime_latency_ms), "endpoint": endpoint})
    return rows


__all__ = ["package_record", "record_package", "forget", "manifest_stamp", "hub_index_members"]
