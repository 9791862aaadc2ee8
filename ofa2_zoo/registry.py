"""timm names for packaged fronts: the zoo index and run-time registration.

``import ofa2_zoo`` reads the zoo index shipped in ``ofa2_zoo/data/zoo_index.json`` (updated
by ``ofa2 publish``) and registers, for every profile with published fronts,

- ``ofa2_<profile>_front_<k>``: member ``k`` (0 = fastest) of the newest front version that
  has a member ``k``;
- ``ofa2_<profile>_front_<k>.v<N>``: the same member of front version ``N`` (a pinned arch
  *and* Hub revision: versions can differ in architecture, not only in weights);
- ``ofa2_front_<k>`` (and its tags) for the zoo's default profile.

Each name is a timm model entrypoint with one pretrained tag per version, so
``timm.list_models("ofa2_*")``, ``timm.list_pretrained("ofa2_*")`` and
``timm.create_model("ofa2_note10_front_3.v2", pretrained=True)`` work as for timm's own
models; weights come from the member's Hub repo at the version's tag through the Hugging
Face cache (``hf_hub_id`` = ``org/repo@v2``).

:func:`register_front` adds names at run time from a local package folder (weights loaded
from its files, tag ``local``, which becomes the default) or from a Hub front repo (every
``v<N>`` tag of the repo, read from its ``package.json``).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from timm.models import register_model
from timm.models._pretrained import DefaultCfg, PretrainedCfg
from torch import nn

from ._io import write_text_atomic
from .errors import Ofa2Error
from .package.manifest import read_manifest, timm_name
from .space import ArchSpec, SearchSpace, resolve_space
from .supernet.subnet import create_subnet

__all__ = ["ZooIndex", "IndexMember", "IndexVersion", "RegistryError", "register_front", "register_index",
           "registered_versions", "resolve_name", "index_members_from_package", "timm_name", "index_path",
           "DEFAULT_INDEX_PATH"]

INDEX_FORMAT = "ofa2-zoo-index/1"
DEFAULT_INDEX_PATH = Path(__file__).resolve().parent / "data" / "zoo_index.json"
INDEX_ENV = "OFA2_ZOO_INDEX"  # another index file instead of the shipped one (CI, tests, private zoos)
LOCAL_TAG = "local"
_VERSION_RE = re.compile(r"^v([1-9]\d*)$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$")

# timm looks up a module-level ``default_cfgs`` when a name is registered (see register_model).
default_cfgs: dict[str, DefaultCfg] = {}


class RegistryError(Ofa2Error, ValueError):
    """A zoo index, package or model name cannot be resolved."""


def _field_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"field '{'.'.join(map(str, err['loc']))}': {err['msg']}"


def _version_number(tag: str) -> int:
    m = _VERSION_RE.match(tag)
    return int(m.group(1)) if m else 0


# ---------------------------------------------------------------------------- zoo index
def index_path() -> Path:
    """The zoo index in use: ``$OFA2_ZOO_INDEX`` if set, else the one shipped with ofa2-zoo."""
    return Path(os.environ[INDEX_ENV]) if os.environ.get(INDEX_ENV) else DEFAULT_INDEX_PATH


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexMember(_Model):
    k: int = Field(..., ge=0)
    repo_id: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
    revision: str = Field(..., min_length=1)
    arch: dict[str, list[int]]
    space: Union[str, dict[str, Any]]
    pretrained_cfg: dict[str, Any]


class IndexVersion(_Model):
    version: str = Field(..., pattern=r"^v[1-9]\d*$")
    front_version_id: str = Field(..., min_length=1)
    members: list[IndexMember] = Field(..., min_length=1)


class ProfileFronts(_Model):
    versions: list[IndexVersion] = []


class ZooIndex(_Model):
    """The list of published front versions per profile (``ofa2_zoo/data/zoo_index.json``)."""

    format: Literal["ofa2-zoo-index/1"] = INDEX_FORMAT
    default_profile: str = "digits-cpu"
    fronts: dict[str, ProfileFronts] = {}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ZooIndex":
        """Read and validate an index file (default: :func:`index_path`)."""
        p = Path(path) if path is not None else index_path()
        if not p.is_file():
            raise RegistryError(f"zoo index {p} does not exist")
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"zoo index {p} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise RegistryError(f"zoo index {p}: format is {got!r}, expected {INDEX_FORMAT!r}")
        try:
            index = cls.model_validate(data)
        except ValidationError as exc:
            raise RegistryError(f"zoo index {p}: {_field_error(exc)}") from None
        for profile, fronts in index.fronts.items():
            tags = [v.version for v in fronts.versions]
            if len(set(tags)) != len(tags):
                raise RegistryError(f"zoo index {p}: profile {profile!r} lists a version twice ({tags})")
        return index

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the index atomically as stable JSON (sorted keys)."""
        p = Path(path) if path is not None else index_path()
        write_text_atomic(p, json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, allow_nan=False) + "\n")
        return p

    def versions(self, profile: str) -> list[IndexVersion]:
        """Versions of ``profile``'s front, oldest first."""
        fronts = self.fronts.get(profile)
        return sorted(fronts.versions, key=lambda v: _version_number(v.version)) if fronts else []

    def newest(self, profile: str) -> IndexVersion | None:
        versions = self.versions(profile)
        return versions[-1] if versions else None

    def next_version(self, profile: str) -> str:
        newest = self.newest(profile)
        return f"v{_version_number(newest.version) + 1 if newest else 1}"

    def add_version(self, profile: str, front_version_id: str, members: Iterable[IndexMember | Mapping[str, Any]],
                    version: str | None = None) -> str:
        """Record a published front version; returns its tag.

        Idempotent: a front whose ``front_version_id`` is already the newest version of
        ``profile`` adds nothing and returns that version's tag (unchanged fronts publish nothing).
        """
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,40}$", profile):
            raise RegistryError(f"bad profile id {profile!r} (lower-case letters, digits and dashes)")
        newest = self.newest(profile)
        if newest is not None and newest.front_version_id == front_version_id:
            return newest.version
        tag = version or self.next_version(profile)
        if any(v.version == tag for v in self.versions(profile)):
            raise RegistryError(f"profile {profile!r} already has a front version {tag}; versions are immutable")
        try:
            rows = [m if isinstance(m, IndexMember) else IndexMember.model_validate(dict(m)) for m in members]
            entry = IndexVersion(version=tag, front_version_id=front_version_id, members=rows)
        except ValidationError as exc:
            raise RegistryError(f"bad zoo index entry: {_field_error(exc)}") from None
        for m in entry.members:  # fail now, not when a user creates the model
            _parse_arch(m.arch, m.space, f"member k={m.k}")
        self.fronts.setdefault(profile, ProfileFronts()).versions.append(entry)
        return tag


def index_members_from_package(package_dir: str | os.PathLike, repo_ids: Mapping[int, str],
                               revision: str) -> list[dict[str, Any]]:
    """Index rows for a package published as member repos ``repo_ids[k]`` at tag ``revision``."""
    folder = Path(package_dir)
    manifest = read_manifest(folder)
    rows = []
    for m in manifest.members:
        cfg = json.loads((folder / m.folder / "config.json").read_text())
        if m.k not in repo_ids:
            raise RegistryError(f"no Hub repo given for member k={m.k}")
        rows.append({"k": m.k, "repo_id": repo_ids[m.k], "revision": revision, "arch": m.arch,
                     "space": cfg["model_args"]["space"], "pretrained_cfg": cfg["pretrained_cfg"]})
    return rows


# ---------------------------------------------------------------------------- timm registration
@dataclass(frozen=True)
class RegisteredMember:
    """One (name, tag): the arch to build and where its weights are."""

    name: str
    tag: str
    arch: Mapping[str, Any]
    space: SearchSpace
    pretrained_cfg: Mapping[str, Any]


_VERSIONS: dict[str, dict[str, RegisteredMember]] = {}


def _parse_arch(arch: Any, space: Any, what: str) -> tuple[ArchSpec, SearchSpace]:
    try:
        sp = resolve_space(space)
        return ArchSpec.from_dict(arch, sp), sp
    except Ofa2Error as exc:
        raise RegistryError(f"{what}: {exc}") from None


def _tag_order(tags: Iterable[str]) -> list[str]:
    """Default first: ``local`` (registered at run time), then the newest ``v<N>`` down to v1."""
    return sorted(tags, key=lambda t: (t != LOCAL_TAG, -_version_number(t), t))


def _entrypoint(name: str):
    def entry(pretrained: bool = False, pretrained_cfg: Any = None, **kwargs: Any) -> nn.Module:
        member = resolve_name(name, pretrained_cfg)
        # A tag string makes timm resolve this name's registered cfg for that version.
        cfg = member.tag if pretrained_cfg is None or isinstance(pretrained_cfg, str) else pretrained_cfg
        return create_subnet(member.arch, member.space, pretrained=pretrained, variant=name, pretrained_cfg=cfg,
                             **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__module__ = __name__
    entry.__doc__ = f"ofa2-zoo front member {name} (versions: see ofa2_zoo.registry.registered_versions)."
    return entry


def _register(name: str, versions: dict[str, RegisteredMember]) -> None:
    tags = _tag_order(versions)
    cfgs = {t: PretrainedCfg(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in versions[t].pretrained_cfg.items()}) for t in tags}
    default_cfgs[name] = DefaultCfg(tags=deque(tags), cfgs=cfgs, is_pretrained=True)
    _VERSIONS[name] = dict(versions)
    with warnings.catch_warnings():
        # Re-registering a name (a newer version, a local package) is intended here.
        warnings.filterwarnings("ignore", message=f"Overwriting {name} in registry")
        register_model(_entrypoint(name))


def _add(table: dict[str, dict[str, RegisteredMember]], profile: str, default_profile: str, k: int, tag: str,
         arch: Any, space: SearchSpace, pretrained_cfg: Mapping[str, Any]) -> None:
    names = [timm_name(profile, k)] + ([f"ofa2_front_{k}"] if profile == default_profile else [])
    for n in names:
        table.setdefault(n, {})[tag] = RegisteredMember(n, tag, arch, space, pretrained_cfg)


def _weights_cfg(cfg: Mapping[str, Any], **source: str) -> dict[str, Any]:
    """A member's pretrained_cfg with its weight source replaced by ``source``."""
    drop = {"url", "file", "hf_hub_id", "hf_hub_filename", "source", "state_dict", "architecture", "tag"}
    known = set(PretrainedCfg.__dataclass_fields__)
    return {**{k: v for k, v in cfg.items() if k not in drop and k in known}, **source}


def register_index(index: ZooIndex | None = None) -> list[str]:
    """Register the timm names of every version in ``index`` (default: the shipped one)."""
    index = index or ZooIndex.load()
    table: dict[str, dict[str, RegisteredMember]] = {}
    for profile in index.fronts:
        for version in index.versions(profile):
            for m in version.members:
                space = m.space if isinstance(m.space, str) else SearchSpace.from_dict(m.space)
                space = resolve_space(space)
                _add(table, profile, index.default_profile, m.k, version.version, m.arch, space,
                     _weights_cfg(m.pretrained_cfg, hf_hub_id=f"{m.repo_id}@{m.revision}"))
    for name, versions in table.items():
        _register(name, {**_VERSIONS.get(name, {}), **versions})
    return sorted(table)


def registered_versions(name: str) -> list[str]:
    """Tags of a registered front-member name, default first."""
    if name not in _VERSIONS:
        raise RegistryError(f"unknown ofa2 model {name!r}; registered: {', '.join(sorted(_VERSIONS)) or 'none'}")
    return _tag_order(_VERSIONS[name])


def resolve_name(name: str, pretrained_cfg: Any = None) -> RegisteredMember:
    """What ``name`` with an optional tag (``"v2"``, a PretrainedCfg or its dict) stands for."""
    base, _, tag_in_name = name.partition(".")
    if base not in _VERSIONS:
        raise RegistryError(f"unknown ofa2 model {base!r}; registered: {', '.join(sorted(_VERSIONS)) or 'none'}")
    if isinstance(pretrained_cfg, PretrainedCfg):
        tag = pretrained_cfg.tag
    elif isinstance(pretrained_cfg, Mapping):
        tag = pretrained_cfg.get("tag")
    else:
        tag = pretrained_cfg or tag_in_name
    tags = _tag_order(_VERSIONS[base])
    tag = tag or tags[0]
    if tag not in _VERSIONS[base]:
        raise RegistryError(f"{base} has no version {tag!r}; known: {', '.join(tags)}")
    return _VERSIONS[base][tag]


def _local_members(folder: Path) -> tuple[str, list[tuple[int, Any, SearchSpace, dict[str, Any]]]]:
    manifest = read_manifest(folder)
    rows = []
    for m in manifest.members:
        member_dir = (folder / m.folder).resolve()
        cfg_path = member_dir / "config.json"
        if not cfg_path.is_file():
            raise RegistryError(f"package {folder}: member k={m.k} has no {cfg_path.name} in {member_dir}")
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("architecture") != "ofa2_subnet":
            raise RegistryError(f"{cfg_path}: architecture is {cfg.get('architecture')!r}, expected 'ofa2_subnet'")
        arch, space = _parse_arch(cfg["model_args"]["arch"], cfg["model_args"]["space"], f"{cfg_path}")
        weights = member_dir / "model.safetensors"
        if not weights.is_file():
            raise RegistryError(f"package {folder}: member k={m.k} has no model.safetensors")
        rows.append((m.k, arch.to_dict(), space, _weights_cfg(cfg["pretrained_cfg"], file=str(weights))))
    return manifest.profile, rows


def _hub_tags(repo_id: str) -> list[str]:
    """``v<N>`` tags of a Hub repo; from the local HF cache when offline."""
    from huggingface_hub import HfApi, constants, scan_cache_dir

    if not constants.is_offline_mode():
        try:
            return [t.name for t in HfApi().list_repo_refs(repo_id).tags if _VERSION_RE.match(t.name)]
        except Exception as exc:  # network down, no such repo, ...: fall back to the cache below
            err = exc
    else:
        err = None
    try:
        # pass the cache folder: huggingface_hub's cache manager keeps the value it saw at import
        cached = [r for r in scan_cache_dir(constants.HF_HUB_CACHE).repos
                  if r.repo_id == repo_id and r.repo_type == "model"]
    except Exception:  # no cache folder yet
        cached = []
    tags = sorted({ref for r in cached for ref in r.refs if _VERSION_RE.match(ref)}, key=_version_number)
    if not tags:
        why = f" ({type(err).__name__}: {err})" if err else " (offline, and nothing cached)"
        raise RegistryError(f"cannot list the versions of Hub front repo {repo_id}{why}")
    return tags


def _hub_members(repo: str) -> tuple[str, dict[str, list[tuple[int, Any, SearchSpace, dict[str, Any]]]]]:
    from huggingface_hub import hf_hub_download

    repo_id, _, revision = repo.partition("@")
    namespace, front_name = repo_id.split("/")
    tags = [revision] if revision else _hub_tags(repo_id)
    profile = None
    out: dict[str, list] = {}
    for tag in tags:
        try:
            manifest = read_manifest(hf_hub_download(repo_id, "package.json", revision=tag))
        except Ofa2Error:
            raise
        except Exception as exc:
            raise RegistryError(f"cannot read package.json of Hub front repo {repo_id}@{tag}: {exc}") from None
        profile = profile or manifest.profile
        rows = []
        for m in manifest.members:
            member_repo = f"{namespace}/{front_name}-{m.k}"
            arch, space = _parse_arch(m.arch, manifest.space, f"{repo_id}@{tag} member k={m.k}")
            cfg_path = hf_hub_download(member_repo, "config.json", revision=tag)
            cfg = json.loads(Path(cfg_path).read_text())
            weights = _weights_cfg(cfg["pretrained_cfg"], hf_hub_id=f"{member_repo}@{tag}")
            rows.append((m.k, arch.to_dict(), space, weights))
        out[tag] = rows
    return str(profile), out


def register_front(source: str | os.PathLike, *, default_profile: str | None = None) -> list[str]:
    """Register the timm names of a packaged front; returns the names (without tags).

    ``source``: a local package folder (``ofa2 package`` output; weights load from its files and
    the package becomes the default version, tag ``local``), or a Hub front repo id
    ``org/ofa2-<profile>-front`` (every ``v<N>`` tag; ``@v2`` for one version). Hub member
    repos are ``<front repo>-<k>`` at the same tag.
    """
    default_profile = default_profile or ZooIndex.load().default_profile
    text = os.fspath(source)
    folder = Path(text).expanduser()
    table: dict[str, dict[str, RegisteredMember]] = {}
    if folder.is_dir():
        profile, rows = _local_members(folder)
        for k, arch, space, cfg in rows:
            _add(table, profile, default_profile, k, LOCAL_TAG, arch, space, cfg)
    elif _REPO_RE.match(text) and not folder.exists():
        profile, versions = _hub_members(text)
        for tag, rows in versions.items():
            for k, arch, space, cfg in rows:
                _add(table, profile, default_profile, k, tag, arch, space, cfg)
    else:
        raise RegistryError(f"{text!r} is neither a package folder nor a Hub repo id (org/name[@tag])")
    for name, versions in table.items():
        _register(name, {**_VERSIONS.get(name, {}), **versions})
    return sorted(table)


# Names from the shipped index: this is what makes ``import ofa2_zoo`` register the zoo.
register_index()
