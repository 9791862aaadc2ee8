"""The hardware-profile file format (YAML), validated with pydantic.

A profile says which supernet and resolutions a device uses, which objectives a search
optimises, where latency comes from (a lookup table, or measuring each network), how to
measure on the device, what to export and how many front members to package.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OBJECTIVES = ("top1", "latency_ms", "macs_m", "params_m")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measurement(_Strict):
    """How latency is measured on the device (for tables, validation and `measure` sources)."""

    backend: Literal["onnxruntime", "torch", "tensorrt"]
    batch_size: int = Field(1, ge=1, le=1024)
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    threads: int = Field(1, ge=1, le=256)
    warmup: int = Field(10, ge=0, le=10_000)
    repeats: int = Field(50, ge=1, le=100_000)

    @model_validator(mode="after")
    def _precision_fits_backend(self) -> "Measurement":
        if self.backend != "tensorrt" and self.precision != "fp32":
            raise ValueError(f"precision {self.precision} needs backend tensorrt; {self.backend} runs fp32")
        return self


class Table(_Strict):
    """A latency lookup table: OFA's official per-resolution YAML files, or our own JSON."""

    format: Literal["ofa-yaml", "ofa2-json"]
    asset_prefix: Optional[str] = Field(None, description="ofa-yaml: folder of the official tables, e.g. note10")
    path: Optional[str] = Field(None, description="ofa2-json: table file, relative to the profile")
    sha256: Optional[str] = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _where(self) -> "Table":
        if self.format == "ofa-yaml" and not self.asset_prefix:
            raise ValueError("format ofa-yaml needs asset_prefix (the official folder, e.g. note10)")
        if self.format == "ofa2-json" and not self.path:
            raise ValueError("format ofa2-json needs path (the table file, relative to the profile)")
        return self


class Latency(_Strict):
    source: Literal["lut", "measure"]
    table: Optional[Table] = None

    @model_validator(mode="after")
    def _table_for_lut(self) -> "Latency":
        if self.source == "lut" and self.table is None:
            raise ValueError("source lut needs a table")
        return self


class Constraint(_Strict):
    max: Optional[float] = None
    min: Optional[float] = None


class Package(_Strict):
    members: int = Field(5, ge=1, le=100)


class Hub(_Strict):
    repo_prefix: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$")


class ProfileSpec(_Strict):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    device_class: Literal["gpu", "cpu", "mobile"]
    description: str
    supernet: str
    resolutions: list[int] = Field(..., min_length=1)
    objectives: list[str] = Field(..., min_length=2)
    constraints: dict[str, Constraint] = {}
    reference_point: dict[str, float] = Field({}, description="hypervolume reference point, natural units")
    latency: Latency
    measurement: Optional[Measurement] = None
    export: list[Literal["onnx", "tensorrt-fp16", "tensorrt-int8"]] = ["onnx"]
    package: Package = Package()
    hub: Hub

    @field_validator("objectives")
    @classmethod
    def _known_objectives(cls, v: list[str]) -> list[str]:
        bad = [o for o in v if o not in OBJECTIVES]
        if bad:
            raise ValueError(f"unknown objective(s) {bad}; choose from {list(OBJECTIVES)}")
        if len(set(v)) != len(v):
            raise ValueError("objectives must not repeat")
        return v

    @field_validator("constraints", "reference_point")
    @classmethod
    def _known_constraints(cls, v: dict) -> dict:
        bad = [o for o in v if o not in OBJECTIVES]
        if bad:
            raise ValueError(f"constraint on unknown objective(s) {bad}; choose from {list(OBJECTIVES)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ProfileSpec":
        if self.latency.source == "measure" and self.measurement is None:
            raise ValueError("latency source 'measure' needs a measurement section")
        if any(e.startswith("tensorrt") for e in self.export) and self.device_class != "gpu":
            raise ValueError("tensorrt exports need device_class gpu")
        return self
