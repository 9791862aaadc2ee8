"""Zoo index files: which front versions are on the Hub, and which packages were made here.

One JSON format (``ofa2-zoo-index/1``) for two files:

- the **shipped index** ``ofa2_zoo/data/zoo_index.json`` (``$OFA2_ZOO_INDEX`` replaces it):
  the front versions CI published to the Hub (``fronts``), and the zoo's default profile;
- the **user index** ``$OFA2_USER_INDEX``, by default ``zoo_index.json`` in the ofa2 cache
  folder (``$OFA2_CACHE``, else ``~/.cache/ofa2_zoo``): the packages this user made
  (``packages``, recorded by ``ofa2 package``/``ofa2 run``/``ofa2 zoo add``) and the versions
  they published (``fronts``, recorded by ``ofa2 publish``).

Nothing here imports torch or timm: ``ofa2 zoo list`` reads these files as plain JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Literal, Mapping, Optional, Union

from pydantic import ConfigDict, Field, ValidationError, field_validator

from .. import constants
from .._io import read_json_capped, write_json_atomic
from .._schema import REPO_ID, VERSION_TAG, Schema, field_error, version_number
from ..defaults import ZOO_DEFAULT_PROFILE
from ..errors import FileTooLarge, JsonTooDeep, Ofa2Error, RegistryError, ZooWarning, clip, shorten

INDEX_FORMAT = "ofa2-zoo-index/1"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SHIPPED_INDEX_PATH = DATA_DIR / "zoo_index.json"
EMBEDDED_ZOO_DIR = DATA_DIR / "zoo"  # one package folder per profile, shipped in the wheel
INDEX_ENV = "OFA2_ZOO_INDEX"  # another shipped index (CI, tests, private zoos)
# A user index of thousands of packages is a few MB; the file size is checked before the file is
# read, so no index makes `import ofa2_zoo` (or `import timm`) slow or memory-hungry.
MAX_INDEX_BYTES = 16 << 20
# Deepest nesting of arrays/objects an index may have (a real one nests 7 levels: the root, packages,
# a record, members, a member, its pretrained_cfg, its mean); checked without recursion.
MAX_INDEX_DEPTH = 32
_PROFILE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def _read_json(p: Path) -> Any:
    """The JSON in ``p``: its size checked before reading, its nesting depth after parsing."""
    try:
        if p.exists() and not p.is_file():
            raise RegistryError(f"zoo index {p} is not a file")
        data = read_json_capped(p, MAX_INDEX_BYTES)
    except FileTooLarge as exc:
        raise RegistryError(f"zoo index {p} is {exc.size:,} bytes, more than a zoo index may have "
                            f"({MAX_INDEX_BYTES:,}); it was not read") from None
    except FileNotFoundError:
        raise RegistryError(f"zoo index {p} does not exist") from None
    except JsonTooDeep:
        raise RegistryError(f"zoo index {p} is nested more than {MAX_INDEX_DEPTH} levels deep; it was not read") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"zoo index {p} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise RegistryError(f"zoo index {p} cannot be read: {exc.strerror or exc}") from None
    if _depth(data) > MAX_INDEX_DEPTH:
        raise RegistryError(f"zoo index {p} is nested more than {MAX_INDEX_DEPTH} levels deep; it was not read")
    return data


def _depth(data: Any) -> int:
    """Nesting depth of arrays and objects (a scalar: 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_INDEX_DEPTH:
            break
        stack.extend((c, level + 1) for c in children)
    return deepest


def shipped_index_path() -> Path:
    """The Hub index in use: ``$OFA2_ZOO_INDEX`` if set, else the one shipped with ofa2-zoo."""
    return constants.zoo_index() or SHIPPED_INDEX_PATH


def user_index_path() -> Path:
    """The user's zoo index: ``$OFA2_USER_INDEX``, else ``zoo_index.json`` in the ofa2 cache folder."""
    return constants.user_index() or constants.cache_dir() / "zoo_index.json"


# ---------------------------------------------------------------------------- the format
class _Model(Schema):
    # NaN and infinity are refused wherever a number is read.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class IndexMember(_Model):
    """One member of a published front version: its Hub repo and revision, and how to build it."""

    k: int = Field(..., ge=0)
    repo_id: str = Field(..., pattern="^" + REPO_ID + "$")
    revision: str = Field(..., min_length=1)
    # The Hub it was published to (HF_ENDPOINT at publish time); None: the one HF_ENDPOINT names when loading.
    endpoint: Optional[str] = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=2048)
    arch: dict[str, list[int]]
    space: Union[str, dict[str, Any]]
    pretrained_cfg: dict[str, Any]
    top1: Optional[float] = Field(None, ge=0, le=100)  # measured top-1 % from its card (for `ofa2 zoo list`)
    latency_ms: Optional[float] = Field(None, gt=0)  # the front's latency (profile's device)
    # measured batch-1 latency (median ms) per deployment runtime, int8 files as "<runtime> int8"
    runtime_latency_ms: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}( int8)?$")], Annotated[float, Field(gt=0)]] = \
        Field(default_factory=dict, max_length=16)


class IndexVersion(_Model):
    version: str = Field(..., pattern=rf"^{VERSION_TAG}$")
    front_version_id: str = Field(..., min_length=1)
    members: list[IndexMember] = Field(..., min_length=1)


class ProfileFronts(_Model):
    versions: list[IndexVersion] = []


class PackageMember(_Model):
    """One member of a package made on this machine."""

    k: int = Field(..., ge=0)
    arch: dict[str, list[int]]
    weights: str = Field(..., min_length=1)  # model.safetensors, relative to the package folder
    pretrained_cfg: dict[str, Any]
    top1: Optional[float] = Field(None, ge=0, le=100)
    latency_ms: Optional[float] = Field(None, gt=0)
    # measured batch-1 latency (median ms) per deployment runtime, int8 files as "<runtime> int8"
    runtime_latency_ms: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}( int8)?$")], Annotated[float, Field(gt=0)]] = \
        Field(default_factory=dict, max_length=16)

    @field_validator("weights")
    @classmethod
    def _relative_safetensors(cls, value: str) -> str:
        # The containment rules of a package (see ofa2_zoo.package.verify.contained); symbolic
        # links and the resolved path are checked on disk before the record is used.
        parts = value.split("/")
        if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{shorten(value)} is not a relative path inside the package folder")
        if not value.endswith(".safetensors"):
            raise ValueError(f"{shorten(value)} is not a .safetensors file (weights load only from safetensors)")
        return value


class PackageRecord(_Model):
    """A package folder as recorded: enough to register its names without opening it."""

    path: str = Field(..., min_length=1)  # absolute
    profile: str = Field(..., pattern=_PROFILE_RE.pattern)
    front_version_id: str = Field(..., min_length=1)
    recorded_at: float  # seconds since the epoch; the newest package of a profile is the default
    manifest_stamp: list[int] = Field(..., min_length=2, max_length=2)  # package.json (mtime_ns, size)
    space: Union[str, dict[str, Any]]
    members: list[PackageMember] = Field(..., min_length=1)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not os.path.isabs(value):
            raise ValueError(f"{shorten(value)} is not an absolute path")
        return value


class ZooIndex(_Model):
    """Published front versions per profile (``fronts``) and recorded local packages (``packages``)."""

    format: Literal["ofa2-zoo-index/1"] = INDEX_FORMAT
    default_profile: str = ZOO_DEFAULT_PROFILE
    fronts: dict[str, ProfileFronts] = {}
    packages: list[PackageRecord] = []

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ZooIndex":
        """Read and validate an index file (default: :func:`shipped_index_path`); errors name the file.

        Strict: any bad record is an error (what editing the file needs); :meth:`read` skips them."""
        p = Path(path) if path is not None else shipped_index_path()
        index, bad = cls.read(p)
        if bad:
            raise RegistryError(f"zoo index {p}: {bad[0]}")
        return index

    @classmethod
    def read(cls, path: str | os.PathLike) -> tuple[ZooIndex, list[str]]:
        """The index at ``path`` without its bad records, and what was wrong with each of those
        (``field 'packages.3.members.0.weights': ...``). A file that is too large, too deeply nested,
        not JSON or not a zoo index is a :class:`RegistryError` naming the file."""
        p = Path(path)
        data = _read_json(p)
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise RegistryError(f"zoo index {p}: format is {shorten(got)}, expected {INDEX_FORMAT!r}")
        fronts, packages = data.get("fronts", {}), data.get("packages", [])
        try:  # the frame: a bad one is a bad file
            index = cls.model_validate({**data, "fronts": {}, "packages": []})
            if not isinstance(fronts, dict):
                raise RegistryError(f"zoo index {p}: field 'fronts': not an object of profile id -> "
                                    "{\"versions\": [...]}")
            if not isinstance(packages, list):
                raise RegistryError(f"zoo index {p}: field 'packages': not a list")
        except ValidationError as exc:
            raise RegistryError(f"zoo index {p}: {field_error(exc)}") from None
        bad: list[str] = []
        for i, raw in enumerate(packages):
            try:
                index.packages.append(PackageRecord.model_validate(raw))
            except ValidationError as exc:
                bad.append(field_error(exc, ("packages", i)))
        for profile, raw_fronts in fronts.items():
            where = f"field 'fronts.{clip(str(profile))}'"
            versions = raw_fronts.get("versions", []) if isinstance(raw_fronts, dict) else None
            if not _PROFILE_RE.match(str(profile)):
                bad.append(f"{where}: {shorten(profile)} is not a profile id")
                continue
            if not isinstance(versions, list) or set(raw_fronts) - {"versions"}:  # (None: not an object)
                bad.append(f"{where}: not an object with one field, 'versions' (a list)")
                continue
            kept = ProfileFronts()
            for j, raw_version in enumerate(versions):
                try:
                    version = IndexVersion.model_validate(raw_version)
                except ValidationError as exc:
                    bad.append(field_error(exc, ("fronts", profile, "versions", j)))
                    continue
                if any(v.version == version.version for v in kept.versions):
                    bad.append(f"field 'fronts.{profile}.versions.{j}': profile {profile!r} lists version "
                               f"{version.version} twice")
                    continue
                kept.versions.append(version)
            index.fronts[profile] = kept
        return index, bad

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the index atomically as stable JSON (sorted keys)."""
        p = Path(path) if path is not None else shipped_index_path()
        write_json_atomic(p, self.model_dump(mode="json"))
        return p

    # ------------------------------------------------------------------ Hub versions
    def versions(self, profile: str) -> list[IndexVersion]:
        """Versions of ``profile``'s front, oldest first."""
        fronts = self.fronts.get(profile)
        return sorted(fronts.versions, key=lambda v: version_number(v.version)) if fronts else []

    def newest(self, profile: str) -> IndexVersion | None:
        versions = self.versions(profile)
        return versions[-1] if versions else None

    def next_version(self, profile: str) -> str:
        newest = self.newest(profile)
        return f"v{version_number(newest.version) + 1 if newest else 1}"

    def add_version(self, profile: str, front_version_id: str, members: Iterable[IndexMember | Mapping[str, Any]],
                    version: str | None = None) -> str:
        """Record a published front version; returns its tag.

        Idempotent: a front whose ``front_version_id`` is already the newest version of
        ``profile`` adds nothing and returns that version's tag (unchanged fronts publish nothing).
        """
        if not _PROFILE_RE.match(profile):
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
            raise RegistryError(f"bad zoo index entry: {field_error(exc)}") from None
        for m in entry.members:  # fail now, not when a user creates the model
            check_arch(m.arch, m.space, f"member k={m.k}")
        self.fronts.setdefault(profile, ProfileFronts()).versions.append(entry)
        return tag


def check_arch(arch: Any, space: Any, what: str) -> None:
    """Refuse an arch that is not in its space, with ``what`` naming where it came from."""
    from ..space import ArchSpec, resolve_space

    try:
        ArchSpec.from_dict(arch, resolve_space(space))
    except Ofa2Error as exc:
        raise RegistryError(f"{what}: {exc}") from None


@contextlib.contextmanager
def edit_index(path: str | os.PathLike) -> Iterator[ZooIndex]:
    """Read-modify-write an index file under a file lock beside it (two runs finishing at once
    both end up recorded); a missing file starts empty; saved only if the block changed it."""
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=120):
        try:
            index = ZooIndex.load(path) if path.exists() else ZooIndex()
        except RegistryError as exc:
            raise RegistryError(f"{exc}; repair it or delete it (a deleted user index forgets the recorded packages, "
                                "not the packages: record them again with `ofa2 zoo add PATH`)") from None
        before = index.model_dump()
        yield index
        if index.model_dump() != before or not path.exists():
            index.save(path)


# ---------------------------------------------------------------------------- reading for import
def read_or_warn(path: Path, fix: str) -> ZooIndex:
    """The index at ``path``; a missing file is an empty index, a bad one is one :class:`ZooWarning`
    (naming the file and ``fix``) and an empty index, and bad records are skipped with one warning
    naming each (the file's other records count). ``import ofa2_zoo`` must never fail on it."""
    if not path.exists() and not path.is_symlink():
        return ZooIndex()
    try:
        index, bad = ZooIndex.read(path)
    except RegistryError as exc:
        warn(f"{exc}; ignoring it. {fix}")
        return ZooIndex()
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        warn(f"zoo index {path}: skipping {len(bad)} bad record{'' if len(bad) == 1 else 's'} ({shown}); the others "
             f"count. {fix}")
    return index


def warn(message: str) -> None:
    warnings.warn(f"ofa2-zoo: {message}", ZooWarning, stacklevel=3)
