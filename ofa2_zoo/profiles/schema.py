"""The hardware-profile file format (YAML), validated with pydantic.

A profile says which supernet and resolutions a device uses, which objectives a search
optimises, where latency comes from (a lookup table, or measuring each network), how to
measure on the device, what to export, how many front members to package and how its Hub
repositories are named. Unknown keys are errors (a typo must not silently drop a setting).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator

from .._schema import Schema
from .._text import check_plain_text
from ..defaults import DEFAULT_MEMBERS

OBJECTIVES = ("top1", "latency_ms", "macs_m", "params_m")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class _Strict(Schema):
    # NaN and infinity are refused in every number (a NaN reference point would let a whole search
    # run and fail only when its front is saved)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Measurement(_Strict):
    """How latency is measured on the device (for tables, validation and `measure` sources)."""

    backend: Literal["onnxruntime", "torch", "litert", "tensorrt"]
    batch_size: int = Field(1, ge=1, le=1024)
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    threads: int = Field(1, ge=1, le=256)
    warmup: int = Field(10, ge=0, le=10_000)
    repeats: int = Field(50, ge=1, le=100_000)
    rounds: int = Field(1, ge=1, le=1000, description="interleaved passes the repeats are split into")
    min_seconds: float = Field(0.0, ge=0, le=3600, description="keep adding interleaved rounds until a group's "
                                                                "timed calls span at least this long")
    statistic: Literal["median", "p10", "min"] = Field(
        "median", description="which summary of the timed calls predictions use; p10/min resist other "
                              "processes' load on a shared machine (every table entry stores all three)")
    clock: Literal["wall", "cpu"] = Field(
        "wall", description="wall: elapsed time of each call; cpu: the calling thread's CPU time, which time "
                            "taken by other processes does not inflate (one-thread CPU backends only)")

    @model_validator(mode="after")
    def _precision_fits_backend(self) -> "Measurement":
        if self.rounds > self.repeats:
            raise ValueError(f"rounds ({self.rounds}) cannot exceed repeats ({self.repeats}); lower rounds")
        if self.clock == "cpu" and (self.backend == "tensorrt" or self.threads != 1):
            raise ValueError("clock cpu times the calling thread, so it needs a CPU backend (onnxruntime, torch, litert) "
                             "with threads: 1; use clock: wall")
        if self.backend != "tensorrt" and self.precision != "fp32":
            raise ValueError(f"precision {self.precision} needs backend tensorrt; {self.backend} runs fp32 "
                             "(set precision: fp32 or backend: tensorrt)")
        return self


class Table(_Strict):
    """A latency lookup table: OFA's official per-resolution YAML files, or our own JSON."""

    format: Literal["ofa-yaml", "ofa2-json"]
    asset_prefix: Optional[str] = Field(None, description="ofa-yaml: folder of the official tables, e.g. note10")
    path: Optional[str] = Field(None, description="ofa2-json: table file, relative to the profile")
    sha256: Optional[str] = Field(None, pattern=SHA256_PATTERN)

    @model_validator(mode="after")
    def _where(self) -> "Table":
        if self.format == "ofa-yaml":
            if not self.asset_prefix:
                raise ValueError("format ofa-yaml needs asset_prefix (the official folder, e.g. note10)")
            if self.path or self.sha256:
                raise ValueError("format ofa-yaml reads official assets (checksums pinned in ofa2_zoo.assets); "
                                 "remove path/sha256 or use format ofa2-json")
        if self.format == "ofa2-json":
            if not self.path:
                raise ValueError("format ofa2-json needs path (the table file, relative to the profile)")
            if self.asset_prefix:
                raise ValueError("asset_prefix is only for format ofa-yaml; remove it")
        return self


class Latency(_Strict):
    source: Literal["lut", "measure"]
    table: Optional[Table] = None

    @model_validator(mode="after")
    def _table_for_lut(self) -> "Latency":
        if self.source == "lut" and self.table is None:
            raise ValueError("source lut needs a table (add latency.table with format and path/asset_prefix)")
        if self.source == "measure" and self.table is not None:
            raise ValueError("source measure measures every network and uses no table; remove latency.table "
                             "or use source lut")
        return self


class Constraint(_Strict):
    max: Optional[float] = None
    min: Optional[float] = None

    @model_validator(mode="after")
    def _ordered(self) -> "Constraint":
        if self.max is None and self.min is None:
            raise ValueError("a constraint needs max and/or min")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}; swap them")
        return self


class Package(_Strict):
    members: int = Field(DEFAULT_MEMBERS, ge=1, le=100)
    # how model.safetensors stores the weights; float16 halves the files (computed in float32
    # either way: the card's numbers are measured with the stored, rounded weights)
    weights_dtype: Literal["float32", "float16"] = "float32"


class Hub(_Strict):
    repo_prefix: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$")


class ProfileSpec(_Strict):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    device_class: Literal["gpu", "cpu", "mobile"]
    description: str
    supernet: str
    accuracy: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,80}$",
                                    description="accuracy source of top1 (default: the one declared for the "
                                                "supernet's space)")
    resolutions: list[int] = Field(..., min_length=1)
    objectives: list[str] = Field(..., min_length=2)
    constraints: dict[str, Constraint] = {}
    reference_point: dict[str, float] = Field({}, description="hypervolume reference point, natural units")
    latency: Latency
    measurement: Optional[Measurement] = None
    export: list[Literal["onnx", "tensorrt-fp16", "tensorrt-int8"]] = ["onnx"]
    runtimes: list[Literal["onnxruntime", "litert", "executorch", "openvino"]] = Field(
        ["onnxruntime"], min_length=1, description="deployment runtimes each member is exported for, checked "
                                                   "against PyTorch and timed in (onnxruntime always is)")
    package: Package = Package()
    hub: Hub

    @field_validator("description")
    @classmethod
    def _plain_description(cls, v: str) -> str:
        return check_plain_text(v, "a description")  # it is copied into every model card

    @field_validator("resolutions")
    @classmethod
    def _distinct_resolutions(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("resolutions must not repeat; list each once")
        return sorted(v)

    @field_validator("objectives")
    @classmethod
    def _known_objectives(cls, v: list[str]) -> list[str]:
        bad = [o for o in v if o not in OBJECTIVES]
        if bad:
            raise ValueError(f"unknown objective(s) {bad}; choose from {list(OBJECTIVES)}")
        if len(set(v)) != len(v):
            raise ValueError("objectives must not repeat; list each once")
        return v

    @field_validator("runtimes")
    @classmethod
    def _distinct_runtimes(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("runtimes must not repeat; list each once")
        return v

    @field_validator("constraints", "reference_point")
    @classmethod
    def _known_constraints(cls, v: dict) -> dict:
        bad = [o for o in v if o not in OBJECTIVES]
        if bad:
            raise ValueError(f"unknown objective(s) {bad}; choose from {list(OBJECTIVES)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ProfileSpec":
        if self.latency.source == "measure" and self.measurement is None:
            raise ValueError("latency source 'measure' needs a measurement section (backend, threads, ...)")
        if any(e.startswith("tensorrt") for e in self.export) and self.device_class != "gpu":
            raise ValueError("tensorrt exports need device_class gpu; remove them from export")
        if self.measurement is not None and self.measurement.backend == "tensorrt" and self.device_class != "gpu":
            raise ValueError("measurement backend tensorrt needs device_class gpu")
        if self.latency.source == "measure" and "latency_ms" not in self.objectives \
                and "latency_ms" not in self.constraints:
            raise ValueError("latency source 'measure' is only useful with latency_ms in objectives or constraints")
        return self
