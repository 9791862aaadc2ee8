"""The ``front.json`` format: its pydantic models, its limits and the valid range of each objective."""

from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
from pydantic import ConfigDict, Field

from .._schema import Schema


FORMAT = "ofa2-front/1"
FILENAME = "front.json"
MAX_FRONT_BYTES = 64 << 20  # a front of thousands of members with its history is a few MB
TIMING_FILENAME = "timing.json"


# ---------------------------------------------------------------------------- schema
class _Model(Schema):
    # NaN and infinity are refused wherever a number is read (JSON itself has neither).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ObjectiveMeta(_Model):
    unit: str
    source: Literal["predicted", "measured", "lookup-table", "analytic"]
    direction: Literal["min", "max"]


class MemberModel(_Model):
    arch: dict[str, list[int]]
    objectives: dict[str, float] = Field(..., min_length=1)


class FrontModel(_Model):
    format: Literal["ofa2-front/1"]
    space: dict[str, Any]
    profile: dict[str, Optional[str]]
    supernet: dict[str, Optional[str]]
    accuracy: dict[str, Optional[str]]
    objective_meta: dict[str, ObjectiveMeta]
    members: list[MemberModel] = Field(..., min_length=1)
    hypervolume: float = Field(..., ge=0)
    reference_point: dict[str, float]
    algorithm: dict[str, Any]
    seed: int = Field(..., ge=0)
    evaluations: int = Field(..., ge=0)
    history: list[dict[str, float]] = []
    population: list[dict[str, float]] = []
    package_version: str
    timing: dict[str, Any] = {}


# ---------------------------------------------------------------------------- values
FIX_FRONT = "fix: restore the front.json that `ofa2 search` wrote, or search again"
# Where each objective's values may lie (unit-based for objectives added later).
_RANGES = {"%": (0.0, 100.0, True), "ms": (0.0, None, False)}  # (low, high, low inclusive)


def objective_range_error(name: str, unit: str | None, value: float) -> str | None:
    """Why ``value`` cannot be a value of objective ``name`` (None when it can): not finite, a
    top-1 outside [0, 100] %, a latency that is not positive, a negative count."""
    if not np.isfinite(value):
        return f"{value} is not a finite number"
    unit = unit or {"top1": "%", "latency_ms": "ms"}.get(name)
    low, high, inclusive = _RANGES.get(unit, (0.0, None, True))
    if (value < low if inclusive else value <= low) or (high is not None and value > high):
        bound = f"[{low:g}, {high:g}]" if high is not None else (f">= {low:g}" if inclusive else f"> {low:g}")
        return f"{value:g} {unit or ''}".rstrip() + f" is outside the valid range {bound}"
    return None
