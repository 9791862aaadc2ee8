"""Every model the zoo knows, from its three sources, with the default version of each name.

A name ``ofa2_<profile>_front_<k>`` can have several versions (timm tags):

- ``local``: member ``k`` of the newest package of the profile recorded in the user index
  (packages the user made: ``ofa2 package``/``ofa2 run``);
- ``v<N>``: member ``k`` of front version ``N`` published on the Hub (the shipped index,
  plus the versions in the user index; the user's entry wins for the same tag);
- ``embedded``: member ``k`` of the packaged front shipped inside ofa2-zoo (works offline).

The default version (what the name without a tag loads) is the first of ``local``, the
newest ``v<N>``, ``embedded`` that the name has: a name a local package has no member for (a
package of 3 members, an embedded front of 5) loads its next version, since timm lists every
name and each must build. ``ofa2_front_<k>`` stands for the zoo's default profile.
Reading never raises: a bad index file or a package that moved is one :class:`ZooWarning`
and the other sources still count. No torch or timm here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._schema import version_number
from .. import constants
from ..errors import Ofa2Error, RegistryError
from ..package.manifest import timm_name
from ..package.verify import contained
from .index import (EMBEDDED_ZOO_DIR, INDEX_ENV, PackageRecord, ZooIndex, read_or_warn, shipped_index_path, user_index_path,
                    warn)
from .records import manifest_stamp, package_record

LOCAL_TAG = "local"
EMBEDDED_TAG = "embedded"
SOURCES = ("local", "hub", "embedded")


@dataclass(frozen=True)
class ZooEntry:
    """One version of one member: what to build, where its weights are, what its card says."""

    profile: str
    k: int
    tag: str
    source: str  # "local", "hub" or "embedded"
    arch: Mapping[str, Any]
    space: Any  # a registered space name or a space dict
    pretrained_cfg: Mapping[str, Any]  # from config.json, with the weight source (file / hf_hub_id)
    where: str  # package folder, or Hub repo@revision
    top1: float | None = None
    latency_ms: float | None = None
    endpoint: str | None = None  # Hub versions: the Hub they were published to (None: HF_ENDPOINT's)
    runtime_latency_ms: Mapping[str, float] = field(default_factory=dict)  # measured, batch 1, per runtime

    @property
    def name(self) -> str:
        return timm_name(self.profile, self.k)

    @property
    def input_size(self) -> tuple[int, ...]:
        return tuple(self.pretrained_cfg.get("input_size") or ())


def tag_order(tags: Iterable[str]) -> list[str]:
    """Default first: ``local``, then the newest ``v<N>`` down to v1, then ``embedded``."""
    return sorted(tags, key=lambda t: (t != LOCAL_TAG, t == EMBEDDED_TAG, -version_number(t), t))


def default_tag(versions: Mapping[str, ZooEntry]) -> str:
    """The tag a name loads without one: the first of :func:`tag_order` (``local``, then the
    newest Hub version, then ``embedded``). A name a profile's local package has no member for
    loads its next version: every name timm lists must build without a tag (timm's own model
    tests create each listed name), so ``local`` (the profiles in it) cannot hide the others.
    ``ofa2 zoo list`` shows which version each name loads."""
    return tag_order(versions)[0]


@dataclass
class Zoo:
    """All entries and the default profile (whose members are also ``ofa2_front_<k>``)."""

    default_profile: str
    entries: list[ZooEntry] = field(default_factory=list)

    def aliases(self, entry: ZooEntry) -> list[str]:
        return [f"ofa2_front_{entry.k}"] if entry.profile == self.default_profile else []

    def by_name(self) -> dict[str, dict[str, ZooEntry]]:
        """name -> tag -> entry, default-profile aliases included; the first entry of a tag wins."""
        table: dict[str, dict[str, ZooEntry]] = {}
        for e in self.entries:
            for n in [e.name, *self.aliases(e)]:
                table.setdefault(n, {}).setdefault(e.tag, e)
        return table

    def default_tags(self) -> dict[str, str]:
        """name -> the tag it loads without one (see :func:`default_tag`)."""
        return {name: default_tag(tags) for name, tags in self.by_name().items()}


def suggest(name: str, known: Iterable[str], n: int = 3) -> str:
    """`` (did you mean a, b?)`` for the closest known names, or ``""``."""
    close = difflib.get_close_matches(name.split(".")[0], sorted(set(known)), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def lookup(table: Mapping[str, Mapping[str, ZooEntry]], name: str, tag: str | None = None) -> ZooEntry:
    """The entry ``name`` (optionally ``name.tag``) stands for in ``table`` (name -> tag -> entry,
    as :meth:`Zoo.by_name` makes it); ``tag`` (when given) wins over the name's own, no tag is the
    default version. One-line :class:`RegistryError` for an unknown name or version."""
    base, _, tag_in_name = name.partition(".")
    if base not in table:
        raise RegistryError(f"unknown ofa2 model {base!r}{suggest(base, table)}; see `ofa2 zoo list`")
    versions = table[base]
    tag = tag or tag_in_name or default_tag(versions)
    if tag not in versions:
        raise RegistryError(f"{base} has no version {tag!r}; known: {', '.join(tag_order(versions))}")
    return versions[tag]


# ---------------------------------------------------------------------------- the sources
# Keys of a config.json's pretrained_cfg that say where weights come from: replaced by the entry's own.
_WEIGHT_KEYS = {"url", "file", "hf_hub_id", "hf_hub_filename", "source", "state_dict", "architecture", "tag"}


def weights_cfg(cfg: Mapping[str, Any], **source: str) -> dict[str, Any]:
    """A member's pretrained_cfg with its weight source replaced by ``source`` (``file=`` or ``hf_hub_id=``)."""
    return {**{k: v for k, v in cfg.items() if k not in _WEIGHT_KEYS}, **source}


def hub_entries(*indexes: ZooIndex) -> list[ZooEntry]:
    """Published versions of several indexes; a later index's version replaces the same tag."""
    versions: dict[tuple[str, str], Any] = {}
    for index in indexes:
        for profile in index.fronts:
            for v in index.versions(profile):
                versions[profile, v.version] = v
    out = []
    for (profile, tag), v in versions.items():
        for m in v.members:
            where = f"{m.repo_id}@{m.revision}"
            out.append(ZooEntry(profile, m.k, tag, "hub", m.arch, m.space,
                                weights_cfg(m.pretrained_cfg, hf_hub_id=where), where, m.top1, m.latency_ms,
                                m.endpoint, dict(m.runtime_latency_ms)))
    return out


def package_entries(record: PackageRecord, tag: str, source: str) -> list[ZooEntry]:
    folder = Path(record.path)
    return [ZooEntry(record.profile, m.k, tag, source, m.arch, record.space,
                     weights_cfg(m.pretrained_cfg, file=str(folder / m.weights)), record.path, m.top1, m.latency_ms,
                     runtime_latency_ms=dict(m.runtime_latency_ms))
            for m in record.members]


def _present(record: PackageRecord) -> PackageRecord | None:
    """The record if its package is still there (re-read when it was re-written since), else None."""
    stamp = manifest_stamp(record.path)
    if stamp is None:
        return None
    if stamp != record.manifest_stamp:
        return package_record(record.path, recorded_at=record.recorded_at)
    folder = Path(record.path)
    if not all((folder / m.weights).is_file() for m in record.members):
        return package_record(record.path, recorded_at=record.recorded_at)  # raises, naming the missing file
    for m in record.members:  # publish's containment rules: no '..', no symbolic link, resolved inside
        contained(folder, m.weights, f"recorded member k={m.k} of {folder}")
    return record


def local_entries(index: ZooIndex) -> list[ZooEntry]:
    """Members of the newest present package of each profile in the user index (tag ``local``)."""
    missing, broken, chosen = [], [], {}
    for record in sorted(index.packages, key=lambda p: -p.recorded_at):
        try:
            present = _present(record)
        except Ofa2Error as exc:
            broken.append(f"{record.path} ({exc})")
            continue
        if present is None:
            missing.append(record.path)
        else:
            chosen.setdefault(record.profile, present)
    if missing or broken:
        what = [f"{len(missing)} moved or deleted ({', '.join(missing)})"] if missing else []
        what += [f"{len(broken)} unreadable ({'; '.join(broken)})"] if broken else []
        warn(f"skipping recorded local package(s) of the user zoo {user_index_path()}: {'; '.join(what)}. "
             "Fix: `ofa2 zoo forget PATH` (and `ofa2 zoo add NEW_PATH` for a package that moved)")
    return [e for record in chosen.values() for e in package_entries(record, LOCAL_TAG, "local")]


def embedded_entries(folder: Path | None = None) -> list[ZooEntry]:
    """The packaged fronts shipped inside ofa2-zoo (one package folder per profile; default
    ``ofa2_zoo/data/zoo``)."""
    out = []
    for package in sorted(p.parent for p in (folder or EMBEDDED_ZOO_DIR).glob("*/package.json")):
        try:
            out += package_entries(package_record(package, recorded_at=0.0), EMBEDDED_TAG, "embedded")
        except Ofa2Error as exc:
            warn(f"skipping the embedded package {package}: {exc}. Fix: reinstall ofa2-zoo")
    return out


def collect() -> Zoo:
    """Everything ``import ofa2_zoo`` registers: local packages, Hub versions, the embedded zoo."""
    shipped = read_or_warn(shipped_index_path(), f"Fix: unset {INDEX_ENV} or point it at a valid zoo index"
                           if constants.zoo_index() is not None else "Fix: reinstall ofa2-zoo")
    user = read_or_warn(user_index_path(), "Fix: repair or delete that file (your packages stay where they are; "
                                           "record them again with `ofa2 zoo add PATH`)")
    return Zoo(shipped.default_profile, local_entries(user) + hub_entries(shipped, user) + embedded_entries())


__all__ = ["ZooEntry", "Zoo", "collect", "lookup", "tag_order", "default_tag", "suggest", "hub_entries", "package_entries", "local_entries",
           "embedded_entries", "weights_cfg", "LOCAL_TAG", "EMBEDDED_TAG", "SOURCES"]
