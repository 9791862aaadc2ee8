"""Shared pieces of the hardware-profile tests: the assets folder, a tiny space, profile files."""

from __future__ import annotations

from pathlib import Path

import yaml

from _assets import ASSETS, needs_assets  # noqa: F401  (re-exported for the profile tests)
from ofa2_zoo.space import SearchSpace, register_space


# Two stages of up to two blocks, 16x16 grey images, 10 classes: every operator measures in
# well under a millisecond, so whole tables are built in seconds.
TINY = register_space(SearchSpace(
    name="test_profiles_tiny", stem_width=8, first_block_width=8, stage_widths=(16, 24),
    final_expand_width=32, feature_mix_width=40, stage_strides=(2, 1), stage_acts=("relu", "h_swish"),
    stage_se=(False, True), ks_choices=(3, 5), expand_choices=(2, 4), depth_choices=(1, 2),
    resolutions=(16, 24), in_chans=1, num_classes=10, description="profiles test space"))


def profile_dict(**overrides) -> dict:
    """A valid profile for the tiny space measured with onnxruntime (fast settings)."""
    d = {
        "id": "tiny-cpu", "device_class": "cpu", "description": "test profile", "supernet": TINY.name,
        "resolutions": [16, 24], "objectives": ["latency_ms", "top1"],
        "latency": {"source": "lut", "table": {"format": "ofa2-json", "path": "luts/tiny-cpu.json"}},
        "measurement": {"backend": "onnxruntime", "batch_size": 1, "threads": 1, "warmup": 2, "repeats": 20,
                        "rounds": 2, "statistic": "min"},
        "export": ["onnx"], "package": {"members": 3}, "hub": {"repo_prefix": "ofa2-tiny-cpu"},
    }
    d.update(overrides)
    return d


def write_profile(folder: Path, data: dict | str, name: str | None = None) -> Path:
    name = name or (data.get("id", "broken") if isinstance(data, dict) else "broken")
    path = folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path
