"""Hardware profiles: what a device optimises and where its latency numbers come from.

``load_profile("note10", assets=...)`` reads ``hardware_profiles/note10.yaml`` (or any YAML
path), validates it, and returns a :class:`HardwareProfile` whose ``latency(archs)`` /
``latency_genes(genes)`` give milliseconds for whole populations at once.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml
from pydantic import ValidationError

from ..assets import resolve_asset, sha256_file
from ..errors import Ofa2Error
from ..space import ArchSpec, SearchSpace, get_space
from .lut import LatencyTable, LookupTableError, network_latency
from .schema import ProfileSpec

__all__ = ["HardwareProfile", "ProfileError", "LookupTableError", "load_profile", "list_profiles", "profile_dirs"]


class ProfileError(Ofa2Error, ValueError):
    """A hardware profile is malformed, missing, or points at missing/corrupt data."""


def profile_dirs() -> list[Path]:
    """Where named profiles are looked up: ``$OFA2_PROFILES``, the source tree, the package."""
    dirs = []
    if os.environ.get("OFA2_PROFILES"):
        dirs.append(Path(os.environ["OFA2_PROFILES"]))
    here = Path(__file__).resolve()
    dirs += [here.parents[2] / "hardware_profiles", here.parents[1] / "hardware_profiles"]
    unique: dict[Path, Path] = {}
    for d in dirs:
        if d.is_dir():
            unique.setdefault(d.resolve(), d)
    return list(unique.values())


def list_profiles() -> list[str]:
    names = {p.stem for d in profile_dirs() for p in d.glob("*.yaml")}
    return sorted(names)


def _find(name: str | os.PathLike) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ProfileError(f"profile file {p} does not exist")
        return p
    for d in profile_dirs():
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    raise ProfileError(f"unknown hardware profile {str(name)!r}; known: {', '.join(list_profiles()) or 'none'} "
                       "(or pass a path to a profile YAML file)")


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    fix = {
        "extra_forbidden": "remove it or check its spelling",
        "missing": "add it",
    }.get(err["type"], "see hardware_profiles/README in the docs for the allowed values")
    return f"{path}: field '{loc}': {msg} ({fix})"


class HardwareProfile:
    """A validated profile bound to its search space and latency source."""

    def __init__(self, spec: ProfileSpec, path: Path, assets: str | os.PathLike | None = None):
        self.spec, self.path, self.assets = spec, path, assets
        self.sha256 = sha256_file(path)
        try:
            base = get_space(spec.supernet)
        except Ofa2Error as exc:
            raise ProfileError(f"{path}: field 'supernet': {exc}") from None
        try:
            self.space: SearchSpace = base.restrict(resolutions=spec.resolutions)
        except Ofa2Error as exc:
            raise ProfileError(f"{path}: field 'resolutions': {exc}") from None

    # ------------------------------------------------------------------ facts
    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def device_class(self) -> str:
        return self.spec.device_class

    @property
    def objectives(self) -> list[str]:
        return list(self.spec.objectives)

    @property
    def constraints(self) -> dict:
        return {k: v.model_dump(exclude_none=True) for k, v in self.spec.constraints.items()}

    @property
    def measurement(self):
        return self.spec.measurement

    @property
    def timm_prefix(self) -> str:
        return "ofa2_" + self.id.replace("-", "_")

    def table_files(self) -> list[Path]:
        """The lookup-table file(s) behind this profile (checked against their sha256)."""
        t = self.spec.latency.table
        if t is None:
            return []
        if t.format == "ofa-yaml":
            try:
                return [resolve_asset(f"{t.asset_prefix}/{r}_lookup_table.yaml", self.assets)
                        for r in self.space.resolutions]
            except Ofa2Error as exc:
                raise ProfileError(f"{self.path}: latency table: {exc}") from None
        path = (self.path.parent / t.path).resolve()
        if not path.is_file():
            hint = ""
            if self.spec.measurement is not None:
                hint = (f"; build it by measuring on the device: ofa2 profile build-lut {self.id}"
                        + (" (needs a GPU with TensorRT)" if self.spec.measurement.backend == "tensorrt" else ""))
            raise ProfileError(f"{self.path}: field 'latency.table.path': table {path} does not exist{hint}")
        if t.sha256 and sha256_file(path) != t.sha256:
            raise ProfileError(f"{self.path}: field 'latency.table.sha256': {path} has sha256 {sha256_file(path)}, "
                               f"the profile pins {t.sha256} (rebuild the table or update the checksum)")
        return [path]

    @cached_property
    def lut_sha256(self) -> str | None:
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
        return LatencyTable.from_json(files[0])

    @cached_property
    def _compiled(self) -> tuple[np.ndarray, np.ndarray]:
        return self.table.compile(self.space)

    # ------------------------------------------------------------------ latency
    def latency_genes(self, genes: np.ndarray) -> np.ndarray:
        """Latency in ms of every arch of an ``(N, n_genes)`` gene matrix over ``self.space``."""
        if self.spec.latency.source == "measure":
            from .measure import measure_archs

            return measure_archs(self.space.genes_to_archs(genes), self.space, self.spec.measurement)
        table, fixed = self._compiled
        return network_latency(table, fixed, self.space.decode(genes))

    def latency(self, archs: Sequence[ArchSpec]) -> np.ndarray:
        """Latency in ms of each arch (validated against the profile's space)."""
        return self.latency_genes(self.space.archs_to_genes(archs))

    def describe(self) -> dict:
        d = self.spec.model_dump(exclude_none=True)
        d["file"] = str(self.path)
        d["sha256"] = self.sha256
        return d


def load_profile(name: str | os.PathLike, assets: str | os.PathLike | None = None) -> HardwareProfile:
    """Load a named profile (``hardware_profiles/<name>.yaml``) or a profile YAML path."""
    if isinstance(name, HardwareProfile):
        return name
    path = _find(name)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile must be a YAML mapping (id, device_class, supernet, ...)")
    try:
        spec = ProfileSpec.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_format_validation_error(path, exc)) from None
    return HardwareProfile(spec, path, assets)
