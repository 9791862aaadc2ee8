"""timm names for the zoo: ``import ofa2_zoo`` registers every model the zoo knows.

The catalogue itself (index files, recorded packages, the embedded zoo, which version of a
name is the default) lives in :mod:`ofa2_zoo.zoo` and needs no torch; this module turns its
entries into timm model entrypoints:

- ``ofa2_<profile>_front_<k>``: member ``k`` (0 = fastest) of the profile's front, one timm
  pretrained tag per version (``local``, ``v<N>``, ``embedded``; the default is the first of
  those, see :func:`ofa2_zoo.zoo.tag_order` and :func:`ofa2_zoo.zoo.entries.default_tag`);
- ``ofa2_front_<k>`` (and its tags) for the zoo's default profile.

So ``timm.list_models("ofa2_*")``, ``timm.list_pretrained("ofa2_*")`` and
``timm.create_model("ofa2_note10_front_3.v2", pretrained=True)`` work as for timm's own
models. Weights come from a local file (``local``, ``embedded``) or from the member's Hub repo
at the version's tag through the Hugging Face cache (``hf_hub_id`` = ``org/repo@v2``; from the
Hub recorded with the version when there is one, else ``HF_ENDPOINT``'s). A failed load is one
:class:`RegistryError` naming the name, its version, where it came from and the fix.

:func:`register_front` adds names at run time from a package folder (tag ``local``, the new
default) or from a Hub front repo (every ``v<N>`` tag of the repo, read from its
``package.json``) without recording anything.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from timm.models import DefaultCfg, PretrainedCfg, generate_default_cfgs, register_model

from ._io import canonical_json
from ._schema import REPO_ID, is_version_tag
from .constants import offline
from .errors import Ofa2Error, clip
from .package.manifest import read_manifest, timm_name
from .package.verify import config_arch, read_config
from .space import ArchSpec, SearchSpace, resolve_space
from .zoo import entries as zoo_entries
from .zoo.entries import (LOCAL_TAG, Zoo, ZooEntry, tag_order,
                          weights_cfg)
from .zoo.index import (SHIPPED_INDEX_PATH, IndexMember, IndexVersion, RegistryError, ZooIndex, check_arch,
                        shipped_index_path)
from .zoo.records import hub_index_members, package_record

__all__ = ["ZooIndex", "IndexMember", "IndexVersion", "RegistryError", "register_front", "register_index",
           "register_zoo", "registered_versions", "resolve_name", "index_members_from_package", "timm_name",
           "index_path", "DEFAULT_INDEX_PATH"]

# Names kept for callers of the earlier single-file registry.
DEFAULT_INDEX_PATH = SHIPPED_INDEX_PATH
index_path = shipped_index_path
index_members_from_package = hub_index_members

_REPO_RE = re.compile("^" + REPO_ID + r"(@[A-Za-z0-9._/-]+)?$")

# timm looks up a module-level ``default_cfgs`` when a name is registered (see register_model).
default_cfgs: dict[str, DefaultCfg] = {}
_VERSIONS: dict[str, dict[str, ZooEntry]] = {}
_DEFAULT_PROFILE = ZooIndex().default_profile


@lru_cache(maxsize=64)
def _space(key: str) -> SearchSpace:
    return resolve_space(json.loads(key))


def _space_of(entry: ZooEntry) -> SearchSpace:
    return _space(canonical_json(entry.space))


def _pretrained_cfg(entry: ZooEntry) -> PretrainedCfg:
    """timm's cfg for an entry; input and feature-map size follow from the arch, whatever the file says."""
    known = PretrainedCfg.__dataclass_fields__
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.pretrained_cfg.items() if k in known}
    space, r = _space_of(entry), int(entry.arch["r"][0])
    f = space.feature_size(r)
    cfg.update(input_size=(space.in_chans, r, r), pool_size=(f, f), num_classes=space.num_classes)
    return PretrainedCfg(**cfg)


def _entrypoint(name: str):
    def entry(pretrained: bool = False, pretrained_cfg: Any = None, **kwargs: Any):
        from .supernet.subnet import create_subnet  # torch models only when a model is built

        member = resolve_name(name, pretrained_cfg)
        if "arch" in kwargs or "space" in kwargs:
            # what timm passes from a config.json's model_args (local-dir:, hf-hub:) naming this model
            raise RegistryError(f"{name} is front member {member.k} of profile {member.profile} with a fixed arch; "
                                "arch= and space= belong to the generic architecture 'ofa2_subnet' (a member's "
                                "config.json names \"architecture\": \"ofa2_subnet\"; fix: set that, or "
                                "re-package the member)")
        # A tag string makes timm resolve this name's registered cfg for that version.
        cfg = member.tag if pretrained_cfg is None or isinstance(pretrained_cfg, str) else pretrained_cfg
        try:
            if pretrained and member.source == "hub" and member.endpoint:
                kwargs["pretrained_cfg_overlay"] = {**(kwargs.get("pretrained_cfg_overlay") or {}),
                                                    "file": _hub_weights(member)}
            return create_subnet(member.arch, _space_of(member), pretrained=pretrained, variant=name,
                                 pretrained_cfg=cfg, **kwargs)
        except Exception as exc:
            if not pretrained or isinstance(exc, RegistryError):
                raise
            raise RegistryError(_load_failure(name, member, exc)) from None

    entry.__name__ = entry.__qualname__ = name
    entry.__module__ = __name__
    entry.__doc__ = f"ofa2-zoo front member {name} (versions: ofa2_zoo.registry.registered_versions({name!r}))."
    return entry


def _hub_weights(member: ZooEntry) -> str:
    """The member's weights from the Hub it was published to (its recorded endpoint), through the HF cache."""
    from huggingface_hub import hf_hub_download

    repo_id, _, revision = member.where.partition("@")
    return hf_hub_download(repo_id, "model.safetensors", revision=revision, endpoint=member.endpoint)


def _load_failure(name: str, member: ZooEntry, exc: Exception) -> str:
    """One line: which record failed to load, why, and what fixes it."""
    why = str(exc).splitlines()[0].split(" (fix: ")[0] if str(exc) else ""  # the fix is ours to give
    if not isinstance(exc, Ofa2Error):  # our messages are short already; another library's may not be
        why = f"{type(exc).__name__}: {clip(why, 200)}" if why else type(exc).__name__
    if member.source == "hub":
        where = f"Hub repo {member.where}" + (f" on {member.endpoint}" if member.endpoint else "")
        fix = (f"`ofa2 pull {name}.{member.tag}` while online (check HF_ENDPOINT and the token), or load another "
               f"version ({', '.join(registered_versions(name))})")
    elif member.source == "local":
        where = f"the local package {member.where}"
        fix = (f"re-package it with `ofa2 package` and record it again (`ofa2 zoo add {member.where}`), or "
               f"`ofa2 zoo forget {member.where}`")
    else:
        where = f"the embedded package {member.where}"
        fix = "reinstall ofa2-zoo"
    return f"cannot load the weights of {name}.{member.tag} from {where}: {why} (fix: {fix})"


def _register(name: str, versions: Mapping[str, ZooEntry]) -> None:
    # One ``name.tag`` cfg per version in tag order; the first, marked ``*``, is the default.
    tags = tag_order(versions)
    default_cfgs.update(generate_default_cfgs({f"{name}.{t}" + ("*" if i == 0 else ""): _pretrained_cfg(versions[t])
                                               for i, t in enumerate(tags)}))
    _VERSIONS[name] = dict(versions)
    with warnings.catch_warnings():
        # Re-registering a name (a newer version, a local package) is intended here.
        warnings.filterwarnings("ignore", message=f"Overwriting {name} in registry")
        register_model(_entrypoint(name))


def register_entries(entries: Iterable[ZooEntry], default_profile: str | None = None) -> list[str]:
    """Register ``entries`` (adding to the versions a name already has; same tag: replaced)."""
    table = Zoo(default_profile or _DEFAULT_PROFILE, list(entries)).by_name()
    for name, versions in table.items():
        _register(name, {**_VERSIONS.get(name, {}), **versions})
    return sorted(table)


def register_zoo(zoo: Zoo | None = None) -> list[str]:
    """Register everything the zoo knows (default: :func:`ofa2_zoo.zoo.collect`); never raises on
    a bad index or a moved package (those are warnings)."""
    global _DEFAULT_PROFILE
    zoo = zoo or zoo_entries.collect()
    _DEFAULT_PROFILE = zoo.default_profile
    return register_entries(zoo.entries, zoo.default_profile)


def register_index(index: ZooIndex | None = None) -> list[str]:
    """Register the Hub versions listed in ``index`` (default: the shipped index)."""
    index = index or ZooIndex.load()
    return register_entries(zoo_entries.hub_entries(index), index.default_profile)


def registered_versions(name: str) -> list[str]:
    """Tags of a registered front-member name, default first."""
    zoo_entries.lookup(_VERSIONS, name)  # one-line error for an unknown name
    return tag_order(_VERSIONS[name.partition(".")[0]])


def resolve_name(name: str, pretrained_cfg: Any = None) -> ZooEntry:
    """What ``name`` with an optional tag (``"v2"``, a PretrainedCfg or its dict) stands for."""
    if isinstance(pretrained_cfg, PretrainedCfg):
        tag = pretrained_cfg.tag
    elif isinstance(pretrained_cfg, Mapping):
        tag = pretrained_cfg.get("tag")
    else:
        tag = pretrained_cfg
    return zoo_entries.lookup(_VERSIONS, name, tag)


# ---------------------------------------------------------------------------- run-time registration
def _hub_tags(repo_id: str) -> list[str]:
    """``v<N>`` tags of a Hub repo; from the local HF cache when offline."""
    from huggingface_hub import HfApi, constants, scan_cache_dir

    if not offline():
        try:
            return [t.name for t in HfApi().list_repo_refs(repo_id).tags if is_version_tag(t.name)]
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
    tags = sorted({ref for r in cached for ref in r.refs if is_version_tag(ref)}, key=lambda t: int(t[1:]))
    if not tags:
        why = f" ({type(err).__name__}: {err})" if err else " (offline, and nothing cached)"
        raise RegistryError(f"cannot list the versions of Hub front repo {repo_id}{why}")
    return tags


def _hub_front_entries(repo: str) -> list[ZooEntry]:
    """Entries for every version (or the one ``@tag``) of a Hub front repo, read from the Hub."""
    from huggingface_hub import hf_hub_download

    repo_id, _, revision = repo.partition("@")
    namespace, front_name = repo_id.split("/")
    out = []
    for tag in [revision] if revision else _hub_tags(repo_id):
        try:
            manifest = read_manifest(hf_hub_download(repo_id, "package.json", revision=tag))
        except Ofa2Error:
            raise
        except Exception as exc:
            raise RegistryError(f"cannot read package.json of Hub front repo {repo_id}@{tag}: {exc}") from None
        for m in manifest.members:
            member_repo = f"{namespace}/{front_name}-{m.k}"
            check_arch(m.arch, manifest.space, f"{repo_id}@{tag} member k={m.k}")
            where = f"{member_repo}@{tag}"
            cfg_path = Path(hf_hub_download(member_repo, "config.json", revision=tag))
            cfg_arch, _ = config_arch(read_config(cfg_path, where), cfg_path, where)
            if cfg_arch != ArchSpec.from_dict(m.arch, resolve_space(manifest.space)):
                raise RegistryError(f"{where}: config.json describes arch {cfg_arch.to_string()}, the front's "
                                    "package.json another; the Hub repos disagree (fix: publish the package again)")
            cfg = json.loads(cfg_path.read_bytes())
            out.append(ZooEntry(manifest.profile, m.k, tag, "hub", m.arch, manifest.space,
                                weights_cfg(cfg["pretrained_cfg"], hf_hub_id=where), where,
                                m.measured.get("top1"), m.objectives.get("latency_ms")))
    return out


def register_front(source: str | os.PathLike, *, default_profile: str | None = None) -> list[str]:
    """Register the timm names of a packaged front in this process; returns the names (without tags).

    ``source``: a local package folder (``ofa2 package`` output; weights load from its files and
    the package becomes the default version, tag ``local``), or a Hub front repo id
    ``org/ofa2-<profile>-front`` (every ``v<N>`` tag; ``@v2`` for one version). Hub member
    repos are ``<front repo>-<k>`` at the same tag. To make a package known to every later
    process, record it instead (``ofa2 zoo add PATH``).
    """
    text = os.fspath(source)
    folder = Path(text).expanduser()
    if folder.is_dir():
        from .package.verify import verify_package

        # Every file checked (contained, sha256, config.json schema, tensor shapes) before any is loaded.
        verify_package(folder.resolve())
        entries = zoo_entries.package_entries(package_record(folder), LOCAL_TAG, "local")
    elif _REPO_RE.match(text) and not folder.exists():
        entries = _hub_front_entries(text)
    else:
        raise RegistryError(f"{text!r} is neither a package folder nor a Hub repo id (org/name[@tag])")
    return register_entries(entries, default_profile)


# What makes ``import ofa2_zoo`` register the zoo.
register_zoo()
