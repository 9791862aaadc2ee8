"""``package.json``: the index of a packaged front (docs/package.md), validated with pydantic.

A package folder holds ``package.json``, the front-level folder ``front/`` and one folder per
member ``members/front_<k>/`` in timm's Hub layout. ``package.json`` lists every member with
its timm name, arch, file checksums and ONNX parity, so publishing and ``register_front``
need nothing else. It is written with sorted keys and no timings: re-packaging the same
front on the same machine gives the same bytes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator

from .._io import dumps_stable, read_json_capped
from .._schema import Schema, field_error
from ..errors import FileTooLarge, clip, shorten
from .errors import PackageError

PACKAGE_FORMAT = "ofa2-package/1"
MANIFEST_NAME = "package.json"


def timm_name(profile: str, k: int) -> str:
    """``ofa2_<profile>_front_<k>`` with the profile id's dashes as underscores."""
    return f"ofa2_{profile.replace('-', '_')}_front_{k}"


MAX_MANIFEST_BYTES = 16 << 20  # hundreds of members are well under 1 MB
FIX_PACKAGE = "fix: re-package the front with `ofa2 package` instead of editing the package"
SHA256 = r"^[0-9a-f]{64}$"
FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"  # a plain file name: no folder, no '..', no absolute path


def check_relative_folder(value: str) -> str:
    """A folder inside the package: relative, '/'-separated, no '.', '..' or empty parts."""
    parts = value.split("/")
    if not value or value.startswith("/") or "\\" in value or ":" in value or \
            any(p in ("", ".", "..") for p in parts) or len(value) > 256:
        raise ValueError(f"{shorten(value)} is not a relative folder inside the package (no '..', no absolute "
                         "path)")
    return value


class _Model(Schema):
    # Unknown keys are ignored so that older readers accept newer packages of the same format;
    # NaN and infinity are refused wherever a number is read.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Parity(_Model):
    n_images: int = Field(..., ge=0)
    max_abs_diff: float = Field(..., ge=0)
    tolerance: float = Field(..., ge=0)
    top1_agreement: float = Field(..., ge=0, le=1)
    top1_mismatches: int = Field(..., ge=0)
    unexplained_mismatches: int = Field(..., ge=0)
    passed: bool


class TensorRTStatus(_Model):
    built: bool
    precision: Optional[str] = None
    engine: Optional[str] = Field(None, pattern=FILE_NAME)  # file name inside the member folder
    reason: Optional[str] = None  # why not built
    command: str  # how to build the engine on a machine with TensorRT and a GPU


class RuntimeLatency(_Model):
    """Batch-1 latency of one runtime, measured while packaging (median over interleaved rounds)."""

    median_ms: float = Field(..., gt=0)
    iqr_ms: float = Field(..., ge=0)
    repeats: int = Field(..., ge=1)
    rounds: int = Field(..., ge=1)
    batch: int = Field(..., ge=1)
    threads: int = Field(..., ge=1)
    clock: Literal["wall", "cpu"]
    machine: str


class Int8Record(_Model):
    """A runtime's int8 file (``--int8``): top-1 against the runtime's fp32 file on the same
    evaluation images, the gate (at most ``max_drop`` points below) and, when measured, latency.
    ``packaged`` is False (no files, ``reason`` says why) when quantisation or the gate failed."""

    file: Optional[str] = Field(None, pattern=FILE_NAME)
    files: list[str] = []
    bytes: int = Field(0, ge=0)
    top1: Optional[float] = Field(None, ge=0, le=100)
    top1_fp32: Optional[float] = Field(None, ge=0, le=100)
    correct: Optional[int] = Field(None, ge=0)
    correct_fp32: Optional[int] = Field(None, ge=0)
    n_images: int = Field(..., ge=1)
    split: str
    max_drop: float = Field(..., ge=0)
    calibration: dict[str, Any] = {}
    latency: Optional[RuntimeLatency] = None
    packaged: bool
    reason: Optional[str] = None

    @model_validator(mode="after")
    def _consistent(self) -> "Int8Record":
        counts = (self.correct, self.correct_fp32)
        if any(c is not None and c > self.n_images for c in counts):
            raise ValueError(f"int8: more images right than the {self.n_images} evaluated")
        for what, top1, c in (("top1", self.top1, self.correct), ("top1_fp32", self.top1_fp32, self.correct_fp32)):
            if (top1 is None) != (c is None) or (c is not None and abs(top1 - 100 * c / self.n_images) > 1e-4):
                raise ValueError(f"int8: {what} {top1} % is not {c} of {self.n_images} images")
        if self.packaged:
            if self.file is None or self.file not in self.files or self.reason is not None or None in counts:
                raise ValueError("int8: a packaged int8 file needs its file among its files, both top-1 counts "
                                 "and no reason")
            if 100 * (self.correct_fp32 - self.correct) > self.max_drop * self.n_images:
                raise ValueError(f"int8: top-1 {self.top1} % is more than {self.max_drop:g} point(s) below fp32's "
                                 f"{self.top1_fp32} %, yet it is recorded as packaged")
        elif self.files or self.file is not None or not self.reason:
            raise ValueError("int8: an int8 file that was not packaged has no files and says why")
        return self


class RuntimeRecord(_Model):
    """One deployment runtime's export of a member: its files, parity with PyTorch and latency.
    ``packaged`` is False (no files, ``reason`` says why) when conversion or the parity gate failed."""

    runtime: str = Field(..., pattern=r"^[a-z0-9_-]{1,40}$")
    file: Optional[str] = Field(None, pattern=FILE_NAME)  # the file a user loads
    files: list[str] = []  # every file of the export (OpenVINO: .xml and .bin)
    bytes: int = Field(0, ge=0)
    parity: Optional[Parity] = None
    latency: Optional[RuntimeLatency] = None
    versions: dict[str, str] = {}
    packaged: bool
    reason: Optional[str] = None
    int8: Optional[Int8Record] = None  # with --int8 (absent, not null, without it)

    @model_serializer(mode="wrap")
    def _without_absent_int8(self, handler):
        out = handler(self)
        if out.get("int8") is None:
            out.pop("int8", None)  # packages made without --int8 keep their bytes
        return out

    @model_validator(mode="after")
    def _consistent(self) -> "RuntimeRecord":
        if self.packaged:
            if self.file is None or self.file not in self.files or self.parity is None or not self.parity.passed \
                    or self.reason is not None:
                raise ValueError(f"runtime {self.runtime}: a packaged export needs its file among its files and a "
                                 "passed parity check, and no reason")
        elif self.files or self.file is not None or not self.reason:
            raise ValueError(f"runtime {self.runtime}: an export that was not packaged has no files and says why")
        if self.int8 is not None and self.int8.packaged and not self.packaged:
            raise ValueError(f"runtime {self.runtime}: an int8 file needs its fp32 export packaged")
        return self


class Member(_Model):
    k: int = Field(..., ge=0)
    name: str = Field(..., pattern=r"^ofa2_[a-z0-9_]+_front_\d+$")
    folder: str  # relative to the package folder, e.g. members/front_0
    front_index: int = Field(..., ge=0)  # position of this member in the front (sorted by latency)
    arch: dict[str, list[int]]
    objectives: dict[str, float]  # the front's values (see objective_meta for units and sources)
    measured: dict[str, Any] = {}  # measured after packaging (top-1 on real data, latency)
    files: dict[str, str] = Field(..., min_length=1)  # file name -> sha256
    parity: Parity
    tensorrt: Optional[TensorRTStatus] = None
    runtimes: dict[str, RuntimeRecord] = {}  # deployment runtime -> its export (packages before issue 25: none)

    @field_validator("folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        return check_relative_folder(value)

    def runtime_latency_ms(self) -> dict[str, float]:
        """Measured batch-1 latency (median, ms) in each runtime it was measured in, int8 files as
        ``"<runtime> int8"``; onnxruntime's from the member's own latency measurement where the
        runtimes' timing did not record it (embedded copies keep that one only)."""
        out: dict[str, float] = {}
        for name, rec in self.runtimes.items():
            if rec.packaged and rec.latency is not None:
                out[name] = rec.latency.median_ms
            if rec.int8 is not None and rec.int8.packaged and rec.int8.latency is not None:
                out[f"{name} int8"] = rec.int8.latency.median_ms
        own = self.measured.get("latency")
        if "onnxruntime" not in out and isinstance(own, dict) and own.get("backend") == "onnxruntime" \
                and isinstance(own.get("median_ms"), (int, float)) and own["median_ms"] > 0:
            out["onnxruntime"] = float(own["median_ms"])
        return out

    @field_validator("files")
    @classmethod
    def _files(cls, files: dict[str, str]) -> dict[str, str]:
        for name, sha in files.items():
            if not re.match(FILE_NAME, name):
                raise ValueError(f"{shorten(name)} is not a plain file name (no folder, no '..', no absolute path)")
            if not re.match(SHA256, str(sha)):
                raise ValueError(f"the sha256 of {name} is {shorten(sha)}, not 64 lowercase hex digits")
        return files

    @model_validator(mode="after")
    def _runtime_files(self) -> "Member":
        for name, rec in self.runtimes.items():
            if rec.runtime != name:
                raise ValueError(f"runtimes.{clip(name, 40)} records runtime {clip(rec.runtime, 40)!r}")
            unlisted = [f for f in rec.files + (rec.int8.files if rec.int8 else []) if f not in self.files]
            if unlisted:
                raise ValueError(f"runtime {name}: {clip(', '.join(unlisted))} not among the member's files")
        return self

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, objectives: dict[str, float]) -> dict[str, float]:
        from ..front import objective_range_error

        for name, value in objectives.items():
            why = objective_range_error(name, None, value)
            if why:
                raise ValueError(f"{clip(name, 40)}: {why}")
        return objectives


class PackageManifest(_Model):
    format: Literal["ofa2-package/1"]
    profile: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    front_version_id: str = Field(..., pattern=SHA256)
    space: dict[str, Any]
    members: list[Member] = Field(..., min_length=1)
    front_folder: str = "front"
    objective_meta: dict[str, Any] = {}
    package_version: str
    provenance: dict[str, Any] = {}
    data: dict[str, Any] = {}  # data used for BN re-calibration, parity and measured accuracy

    @field_validator("front_folder")
    @classmethod
    def _front_folder(cls, value: str) -> str:
        return check_relative_folder(value)

    @model_validator(mode="after")
    def _unique(self) -> "PackageManifest":
        for what, values in (("k", [m.k for m in self.members]), ("folder", [m.folder for m in self.members]),
                             ("name", [m.name for m in self.members])):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"members share a {what} ({clip(str(twice[:3]))}); each member needs its own")
        if self.front_folder in {m.folder for m in self.members}:
            raise ValueError(f"front_folder {self.front_folder!r} is also a member folder")
        return self

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
        return dumps_stable(self.model_dump(mode="json"))


def read_manifest(path: str | os.PathLike) -> PackageManifest:
    """Read ``package.json`` from a package folder (or the file itself), with one-line errors."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise PackageError(f"{p} does not exist: not an ofa2 package folder (run `ofa2 package` first)")
    try:
        data = read_json_capped(p, MAX_MANIFEST_BYTES)
    except FileTooLarge as exc:
        raise PackageError(f"{p}: {exc.size:,} bytes is too large for a package.json (at most "
                           f"{MAX_MANIFEST_BYTES:,}; {FIX_PACKAGE})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageError(f"{p} is not valid JSON: {exc} ({FIX_PACKAGE})") from None
    if not isinstance(data, dict) or data.get("format") != PACKAGE_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise PackageError(f"{p}: field 'format': {shorten(got)} is not {PACKAGE_FORMAT!r} (not a package of this "
                           f"version of ofa2-zoo; {FIX_PACKAGE})")
    try:
        return PackageManifest.model_validate(data)
    except ValidationError as exc:
        raise PackageError(f"{p}: {field_error(exc)} ({FIX_PACKAGE})") from None
