"""Finding, validating and binding hardware profiles.

``load_profile("note10", assets=...)`` reads ``hardware_profiles/note10.yaml`` (or any YAML
path), validates it against :mod:`.schema`, binds it to its search space and returns a
:class:`HardwareProfile` whose ``latency(archs)`` / ``latency_genes(genes)`` give
milliseconds for whole populations at once. Every problem with a profile is one
:class:`ProfileError` line naming the file, the field and the fix.
"""

from __future__ import annotations


import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml
from pydantic import ValidationError

from .. import constants
from .._io import canonical_json, sha256_file
from .._schema import first_problem
from ..assets import OFFICIAL_CHECKPOINTS, asset_state, assets_folder, cache_dir, resolve_asset
from ..defaults import DEFAULT_PROFILE  # noqa: F401  (re-exported by ofa2_zoo.profiles)
from ..errors import Ofa2Error, ProfileError, shorten
from ..objectives.sources import AccuracySourceError, accuracy_source_info, sources_for_space
from ..space import ArchSpec, SearchSpace, get_space
from . import schema
from .lut import CompiledTable, LatencyTable
from .machine import _backend_missing
from .schema import ProfileSpec


# ---------------------------------------------------------------------------- finding
def profile_dirs() -> list[Path]:
    """Where named profiles are looked up, in order.

    ``$OFA2_PROFILES`` (a folder of your own profiles), the source checkout's top-level
    ``hardware_profiles/`` and the copy installed inside the package
    (``ofa2_zoo/hardware_profiles``, shipped as package data).
    """
    here = Path(__file__).resolve()
    dirs = [constants.profiles_dir()] if constants.profiles_dir() is not None else []
    dirs += [here.parents[2] / "hardware_profiles", here.parents[1] / "hardware_profiles"]
    unique: dict[Path, Path] = {}
    for d in dirs:
        if d.is_dir():
            unique.setdefault(d.resolve(), d)
    return list(unique.values())


def list_profiles() -> list[str]:
    """Ids of every named profile (the ``<id>.yaml`` files in :func:`profile_dirs`)."""
    return sorted({p.stem for d in profile_dirs() for p in d.glob("*.yaml")})


def find_profile(name: str | os.PathLike) -> Path:
    """The YAML file of a profile id, or ``name`` itself when it is a path to a YAML file."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or os.sep in str(name):
        if not p.is_file():
            raise ProfileError(f"profile file {p} does not exist")
        return p
    for d in profile_dirs():
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    raise ProfileError(f"unknown hardware profile {str(name)!r}; known: {', '.join(list_profiles()) or 'none'} "
                       "(or pass the path of a profile YAML file)")


# ---------------------------------------------------------------------------- errors
_SECTIONS: dict[str, type] = {"": schema.ProfileSpec, "latency": schema.Latency, "latency.table": schema.Table,
                              "measurement": schema.Measurement, "package": schema.Package, "hub": schema.Hub}
_PATTERN_FIX = {
    "id": "use lowercase letters, digits and '-' (the file is then named <id>.yaml)",
    "latency.table.sha256": "give 64 lowercase hex digits, as printed by `sha256sum FILE`",
    "hub.repo_prefix": "use letters, digits, '.', '_' or '-' (a Hub repo name)",
    "accuracy": "name an accuracy source, e.g. ofa_mbv3_w1.2",
}
_TYPE_FIX = {
    "missing": "add it",
    "int_type": "give a whole number", "int_parsing": "give a whole number", "int_from_float": "give a whole number",
    "float_type": "give a number", "float_parsing": "give a number",
    "finite_number": "give a finite number, not .nan or .inf",
    "string_type": "give a text value", "bool_type": "give true or false",
    "list_type": "give a YAML list, e.g. [160, 176, 192]",
    "dict_type": "give a YAML mapping (key: value lines)", "model_type": "give a YAML mapping (key: value lines)",
    "literal_error": "use one of the listed values",
    "greater_than_equal": "raise the value", "greater_than": "raise the value",
    "less_than_equal": "lower the value", "less_than": "lower the value",
    "too_short": "add entries", "too_long": "remove entries",
}


def _section_key(loc: tuple) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if len(parts) == 2 and parts[0] == "constraints":
        return "constraints.*"
    return ".".join(parts)


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    """One line: file, field, what is wrong, how to fix it (the first error of the file)."""
    problem = first_problem(exc)
    loc, where, msg, kind = problem.loc, problem.where, problem.msg, problem.kind
    if kind == "extra_forbidden":
        parent = _section_key(loc[:-1])
        model = schema.Constraint if parent == "constraints.*" else _SECTIONS.get(parent)
        allowed = f" (allowed here: {', '.join(model.model_fields)})" if model else ""
        return f"{path}: field '{where}': unknown field; remove it or fix its spelling{allowed}"
    if kind == "value_error":
        return f"{path}: field '{where}': {msg}"
    if kind == "string_pattern_mismatch":
        fix = _PATTERN_FIX.get(_section_key(loc), "match the pattern")
    else:
        fix = _TYPE_FIX.get(kind, "see docs/profiles.md for the allowed values")
    got = "" if kind == "missing" else f", got {_short(problem.input)}"
    return f"{path}: field '{where}': {msg}{got} (fix: {fix})"


def _short(value: Any) -> str:
    return shorten(value, 60)


# ---------------------------------------------------------------------------- reading YAML safely
MAX_PROFILE_BYTES = 1 << 20  # a profile is a few KB; anything near this is not one
MAX_YAML_NODES = 10_000  # values after alias expansion (a "billion laughs" file expands to ~1e9)
_STR_TAG = "tag:yaml.org,2002:str"


def read_yaml(path: Path, what: str = "profile") -> Any:
    """Parse a YAML file with its size and its alias expansion bounded *before* building values.

    ``yaml.safe_load`` would build a billion-laughs document as shared references, and the first
    thing that walks it (validation, an error message) runs out of memory. Here the node graph
    is composed first, its expanded size counted (shared nodes counted every time they are
    used), and only a small document is constructed. Values of keys named ``sha256`` stay text,
    so a checksum of 64 digits is not read as a number.
    """
    try:
        size = path.stat().st_size
        if size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: {size:,} bytes is too large for a {what} (at most {MAX_PROFILE_BYTES:,}; "
                               "fix: give the YAML file of the profile itself)")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the {what}: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        line = f" (line {exc.problem_mark.line + 1})" if getattr(exc, "problem_mark", None) else ""
        raise ProfileError(f"{path}: not valid YAML{line}: {shorten(getattr(exc, 'problem', None) or exc, 200)} "
                           "(fix: check indentation and 'key: value' syntax)") from None
    except RecursionError:
        raise ProfileError(f"{path}: YAML nested too deeply for a {what} (fix: write the profile's fields as "
                           "plain mappings and lists)") from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, path: Path) -> None:
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ProfileError(f"{path}: a YAML alias refers to itself (fix: remove the recursive '*alias')")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "sha256" and isinstance(v, yaml.ScalarNode) \
                        and v.style is None:
                    v.tag = _STR_TAG
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                total += size(v)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise ProfileError(f"{path}: the YAML expands to more than {MAX_YAML_NODES:,} values (aliases of "
                               "aliases?); refused before expanding it (fix: write the values out, without "
                               "nested '&anchor'/'*alias' chains)")
        sizes[key] = total
        return total

    size(root)


# ---------------------------------------------------------------------------- readiness
_BACKEND_FIX = {"onnxruntime": "pip install onnxruntime torch", "torch": "pip install torch",
                "litert": "pip install 'ofa2-zoo[litert]'",
                "tensorrt": "pip install 'ofa2-zoo[tensorrt]' on a machine with an NVIDIA GPU"}


# ---------------------------------------------------------------------------- the profile
@dataclass(frozen=True)
class Readiness:
    """Whether a profile can search here; ``reason`` says why not (``None`` when ready)."""

    ready: bool
    reason: str | None = None
    fix: str | None = None  # the command (or edit) that makes it ready

    def __str__(self) -> str:
        return "ready" if self.ready else f"{self.reason} (fix: {self.fix})" if self.fix else str(self.reason)


@dataclass(frozen=True)
class PackagePlan:
    """What ``ofa2 package`` produces for a profile's front."""

    members: int
    export: tuple[str, ...]


@dataclass(frozen=True)
class HubNaming:
    """Hub repository names of a profile's published fronts (contract: ``ofa2-<profile>-front[-<k>]``)."""

    repo_prefix: str

    def member_repo(self, namespace: str, k: int) -> str:
        return f"{namespace}/{self.repo_prefix}-front-{k}"

    def front_repo(self, namespace: str) -> str:
        return f"{namespace}/{self.repo_prefix}-front"


#: Compiled lookup tables of this process, by (table sha256, table format, space); see ``HardwareProfile.compiled``.
_COMPILED: dict[tuple, CompiledTable] = {}
_COMPILED_MAX = 16


class HardwareProfile:
    """A validated profile bound to its search space and latency source."""

    def __init__(self, spec: ProfileSpec, path: Path, assets: str | os.PathLike | None = None):
        self.spec, self.path, self.assets = spec, Path(path), assets
        self.sha256 = sha256_file(path)
        try:
            base = get_space(spec.supernet)
        except Ofa2Error as exc:
            raise ProfileError(f"{path}: field 'supernet': {exc} (fix: use a registered space name)") from None
        try:
            self.space: SearchSpace = base.restrict(resolutions=spec.resolutions)
        except Ofa2Error as exc:
            raise ProfileError(f"{path}: field 'resolutions': {exc}") from None
        self.accuracy_source: str | None = self._pair_accuracy(base)

    def _pair_accuracy(self, base: SearchSpace) -> str | None:
        """The accuracy source of top1: the one the profile names, checked against its space, or
        the single one declared for the space (``None`` when there is none)."""
        name = self.spec.accuracy
        if name is None:
            candidates = sources_for_space(base.name)
            return candidates[0] if len(candidates) == 1 else None
        try:
            info = accuracy_source_info(name)
        except AccuracySourceError as exc:
            raise ProfileError(f"{self.path}: field 'accuracy': {exc}") from None
        if info.space is not None and info.space != base.name:
            fits = sources_for_space(base.name)
            fix = f"use {' or '.join(fits)}" if fits else f"use a supernet in space {info.space}"
            raise ProfileError(f"{self.path}: field 'accuracy': {name!r} scores space {info.space}, but the "
                               f"profile's supernet is {self.spec.supernet} (fix: {fix})")
        return info.name

    def __repr__(self) -> str:
        return f"HardwareProfile(id={self.id!r}, space={self.space.name!r}, latency={self.latency_source!r})"

    # ------------------------------------------------------------------ facts
    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def device_class(self) -> str:
        return self.spec.device_class

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def objectives(self) -> list[str]:
        return list(self.spec.objectives)

    @property
    def constraints(self) -> dict[str, dict[str, float]]:
        return {k: v.model_dump(exclude_none=True) for k, v in self.spec.constraints.items()}

    @property
    def measurement(self) -> schema.Measurement | None:
        return self.spec.measurement

    @property
    def latency_source(self) -> str:
        """``lut`` (lookup table) or ``measure`` (every network measured on this machine)."""
        return self.spec.latency.source

    @property
    def uses_accuracy(self) -> bool:
        """Whether a search of this profile needs an accuracy source (top1 objective or constraint)."""
        return "top1" in self.spec.objectives or "top1" in self.spec.constraints

    def official_files(self) -> dict[str, tuple[str, ...]]:
        """The official OFA files this profile needs, each with what needs it (``search``:
        its latency table and accuracy source; ``package``: the supernet checkpoint that
        ``ofa2 package --weights official`` and ``ofa2 run`` read)."""
        needs: dict[str, list[str]] = {}
        t = self.spec.latency.table
        if t is not None and t.format == "ofa-yaml":
            for r in self.space.resolutions:
                needs.setdefault(f"{t.asset_prefix}/{r}_lookup_table.yaml", []).append("search")
        if self.uses_accuracy and self.accuracy_source is not None:
            for name in accuracy_source_info(self.accuracy_source).assets:
                needs.setdefault(name, []).append("search")
        checkpoint = OFFICIAL_CHECKPOINTS.get(get_space(self.spec.supernet).name)
        if checkpoint:
            needs.setdefault(checkpoint, []).append("package")
        return {name: tuple(p) for name, p in needs.items()}

    def readiness(self, assets: str | os.PathLike | None = None) -> "Readiness":
        """Whether ``ofa2 search`` can run this profile on this machine, and if not, why.

        Checks what a search needs without loading anything heavy: the latency table (or the
        measuring backend), the official files in the assets folder (``assets``, else the
        profile's, else ``$OFA2_ASSETS`` or the cache) and an accuracy source for top1.
        """
        m = self.measurement
        t = self.spec.latency.table
        if self.latency_source == "measure":
            missing = _backend_missing(m.backend)
            if missing:
                return Readiness(False, f"backend {m.backend} not installed ({missing})", _BACKEND_FIX.get(m.backend))
        elif t.format == "ofa2-json":
            path = self.table_path()
            if not path.is_file():
                if m is not None and m.backend == "tensorrt":
                    why = _backend_missing("tensorrt")
                    return Readiness(False, "GPU needed: the TensorRT table is measured on an NVIDIA GPU"
                                     + (f" ({why})" if why else ""), f"ofa2 profile build-lut {self.id} on a GPU")
                return Readiness(False, f"table missing: {path}", f"ofa2 profile build-lut {self.id}")
            if t.sha256 and sha256_file(path) != t.sha256:
                return Readiness(False, f"table {path} does not match the sha256 the profile pins",
                                 f"restore the shipped table or ofa2 profile build-lut {self.id} and re-pin")
        if self.uses_accuracy and self.accuracy_source is None:
            return Readiness(False, f"no accuracy source for space {self.space.name}",
                             f"add 'accuracy: <source>' to {self.path}")
        folder = assets_folder(assets if assets is not None else self.assets)
        needed = [n for n, purposes in self.official_files().items() if "search" in purposes]
        absent = [n for n in needed if asset_state(n, folder) in ("missing", "corrupt")]
        if absent:
            return Readiness(False, f"official files missing: {', '.join(absent)} (in {folder})",
                             f"ofa2 assets fetch --profile {self.id}" + (f" --assets {folder}"
                                                                          if assets is not None else ""))
        return Readiness(True)

    @property
    def package(self) -> PackagePlan:
        return PackagePlan(self.spec.package.members, tuple(self.spec.export))

    @property
    def hub(self) -> HubNaming:
        return HubNaming(self.spec.hub.repo_prefix)

    @property
    def timm_prefix(self) -> str:
        return "ofa2_" + self.id.replace("-", "_")

    def timm_name(self, k: int) -> str:
        """timm model name of front member ``k`` (0 = fastest)."""
        return f"{self.timm_prefix}_front_{k}"

    # ------------------------------------------------------------------ table files
    def table_path(self) -> Path:
        """Where this profile's ``ofa2-json`` table is read from (and built to by default).

        Next to the profile (``latency.table.path``), else in the cache
        (``$OFA2_CACHE/luts/<id>/``) where ``build-lut`` writes when the profile's folder is
        read-only (an installed package).
        """
        t = self.spec.latency.table
        if t is None or t.format != "ofa2-json":
            raise ProfileError(f"profile {self.id} has no ofa2-json lookup table (latency source "
                               f"{self.latency_source}{', format ' + t.format if t else ''})")
        beside = (self.path.parent / t.path).resolve()
        cached = cache_dir() / "luts" / self.id / Path(t.path).name
        if not beside.is_file() and cached.is_file():
            return cached
        return beside

    def table_files(self) -> list[Path]:
        """The lookup-table file(s) behind this profile, checked against their sha256."""
        t = self.spec.latency.table
        if t is None:
            return []
        if t.format == "ofa-yaml":
            try:
                return [resolve_asset(f"{t.asset_prefix}/{r}_lookup_table.yaml", self.assets)
                        for r in self.space.resolutions]
            except Ofa2Error as exc:
                raise ProfileError(f"{self.path}: field 'latency.table.asset_prefix': {exc}") from None
        path = self.table_path()
        if not path.is_file():
            raise ProfileError(f"{self.path}: field 'latency.table.path': table {path} does not exist "
                               f"(fix: {self._build_hint()})")
        if t.sha256 and sha256_file(path) != t.sha256:
            raise ProfileError(f"{self.path}: field 'latency.table.sha256': {path} has sha256 {sha256_file(path)}, "
                               f"the profile pins {t.sha256} (fix: restore the shipped table, or put the new "
                               "table's sha256 in the profile if you rebuilt it on purpose)")
        return [path]

    def _build_hint(self) -> str:
        m = self.measurement
        if m is None:
            return "give the path of an existing table"
        hint = f"build it by measuring on the device: ofa2 profile build-lut {self.id}"
        if m.backend == "tensorrt":
            from .measure import tensorrt_unavailable_reason

            reason = tensorrt_unavailable_reason()
            hint += " on a machine with an NVIDIA GPU and TensorRT" + (f"; not possible here: {reason}" if reason
                                                                         else "")
        return hint

    @cached_property
    def lut_sha256(self) -> str | None:
        """sha256 of the lookup table (of the concatenated per-resolution sha256s for OFA's tables)."""
        files = self.table_files()
        if not files:
            return None
        if len(files) == 1:
            return sha256_file(files[0])
        return hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()

    @cached_property
    def table(self) -> LatencyTable:
        t = self.spec.latency.table
        if t is None:
            raise ProfileError(f"profile {self.id} measures latency per network; it has no lookup table")
        files = self.table_files()
        if t.format == "ofa-yaml":
            return LatencyTable.from_ofa_yaml(dict(zip(self.space.resolutions, files)))
        from .machine import apply_machine_calibration  # this machine's own calibration, when one is stored

        return apply_machine_calibration(self, LatencyTable.from_json(files[0]))

    @cached_property
    def compiled(self) -> CompiledTable:
        """The table laid out for vectorised lookups (calibration folded in when the table has one).

        Compiled once per process for each (table sha256, format, space, calibration in use):
        profiles loaded again (a second search, the tests) reuse it; a rebuilt table has another
        sha256 and this machine's own calibration (``ofa2 profile calibrate``) another calibration,
        so either is compiled afresh. Its arrays are read-only."""
        calibration = canonical_json(self.table.calibration, default=str)
        key = (self.lut_sha256, self.spec.latency.table.format if self.spec.latency.table else None, self.space,
               calibration)
        hit = _COMPILED.get(key) if key[0] else None
        if hit is None:
            hit = self.table.compile(self.space)
            hit.blocks.setflags(write=False)
            hit.fixed.setflags(write=False)
            if key[0]:
                if len(_COMPILED) >= _COMPILED_MAX:
                    _COMPILED.pop(next(iter(_COMPILED)))  # the oldest
                _COMPILED[key] = hit
        return hit

    def reload(self) -> "HardwareProfile":
        """Forget the cached table (after ``build-lut`` wrote a new one)."""
        for name in ("table", "compiled", "lut_sha256"):
            self.__dict__.pop(name, None)
        return self

    # ------------------------------------------------------------------ latency
    def latency_genes(self, genes: np.ndarray) -> np.ndarray:
        """Latency in ms of every arch of an ``(N, n_genes)`` gene matrix over ``self.space``."""
        if self.latency_source == "measure":
            from .measure import measure_archs

            return measure_archs(self.space.genes_to_archs(genes), self.space, self.measurement)
        return self.compiled.latency_genes(genes)

    def latency(self, archs: Sequence[ArchSpec | dict | str]) -> np.ndarray:
        """Latency in ms of each arch (ArchSpec, OFA dict or arch string), validated against the space."""
        if isinstance(archs, (ArchSpec, dict, str)):
            archs = [archs]
        return self.latency_genes(self.space.archs_to_genes(archs))

    def describe(self) -> dict:
        d = self.spec.model_dump(exclude_none=True)
        d["accuracy"] = self.accuracy_source
        d["file"] = str(self.path)
        d["sha256"] = self.sha256
        return d


def load_profile(name: str | os.PathLike | HardwareProfile, assets: str | os.PathLike | None = None) -> HardwareProfile:
    """Load a named profile (``hardware_profiles/<name>.yaml``) or a profile YAML path."""
    if isinstance(name, HardwareProfile):
        return name
    path = find_profile(name)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile must be a YAML mapping of fields (id, device_class, supernet, ...), "
                           f"got {type(data).__name__}")
    try:
        spec = ProfileSpec.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_format_validation_error(path, exc)) from None
    if path.stem != spec.id:
        raise ProfileError(f"{path}: field 'id': {spec.id!r} does not match the file name "
                           f"(fix: name the file {spec.id}.yaml or set id: {path.stem})")
    return HardwareProfile(spec, path, assets)
