"""``package.json``: the index of a packaged front (contract 4), validated with pydantic.

A package folder holds ``package.json``, the front-level folder ``front/`` and one folder per
member ``members/front_<k>/`` in timm's Hub layout. ``package.json`` lists every member with
its timm name, arch, file checksums and ONNX parity, so publishing and ``register_front``
need nothing else. It is written with sorted keys and no timings: re-packaging the same
front on the same machine gives the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import PackageError

PACKAGE_FORMAT = "ofa2-package/1"
MANIFEST_NAME = "package.json"


def timm_name(profile: str, k: int) -> str:
    """``ofa2_<profile>_front_<k>`` with the profile id's dashes as underscores."""
    return f"ofa2_{profile.replace('-', '_')}_front_{k}"


class _Model(BaseModel):
    # Unknown keys are ignored so that older readers accept newer packages of the same format.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Parity(_Model):
    n_images: int
    max_abs_diff: float
    tolerance: float
    top1_agreement: float
    top1_mismatches: int
    unexplained_mismatches: int
    passed: bool


class TensorRTStatus(_Model):
    built: bool
    precision: Optional[str] = None
    engine: Optional[str] = None  # file name inside the member folder
    reason: Optional[str] = None  # why not built
    command: str  # how to build the engine on a machine with TensorRT and a GPU


class Member(_Model):
    k: int = Field(..., ge=0)
    name: str = Field(..., pattern=r"^ofa2_[a-z0-9_]+_front_\d+$")
    folder: str
    front_index: int = Field(..., ge=0)  # position of this member in the front (sorted by latency)
    arch: dict[str, list[int]]
    objectives: dict[str, float]  # the front's values (see objective_meta for units and sources)
    measured: dict[str, Any] = {}  # measured after packaging (top-1 on real data, latency)
    files: dict[str, str]  # file name -> sha256
    parity: Parity
    tensorrt: Optional[TensorRTStatus] = None


class PackageManifest(_Model):
    format: Literal["ofa2-package/1"]
    profile: str
    front_version_id: str
    space: dict[str, Any]
    members: list[Member]
    front_folder: str = "front"
    objective_meta: dict[str, Any] = {}
    package_version: str
    provenance: dict[str, Any] = {}
    data: dict[str, Any] = {}  # data used for BN re-calibration, parity and measured accuracy

    @property
    def timm_prefix(self) -> str:
        return "ofa2_" + self.profile.replace("-", "_")

    def member(self, k: int) -> Member:
        for m in self.members:
            if m.k == k:
                return m
        raise PackageError(f"package of profile {self.profile!r} has no member k={k} "
                           f"(members: {[m.k for m in self.members]})")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def read_manifest(path: str | os.PathLike) -> PackageManifest:
    """Read ``package.json`` from a package folder (or the file itself), with one-line errors."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise PackageError(f"{p} does not exist: not an ofa2 package folder (run `ofa2 package` first)")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageError(f"{p} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != PACKAGE_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise PackageError(f"{p}: format is {got!r}, expected {PACKAGE_FORMAT!r}")
    try:
        return PackageManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise PackageError(f"{p}: field '{loc}': {err['msg']}") from None
