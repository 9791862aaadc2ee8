"""The default hypervolume reference point of a search (``default_reference_point``): the profile's
own values win where it gives them (both present and different), top-1 defaults to 0 %, every
other objective to 10 % beyond the largest arch's value, which no arch of the space exceeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ofa2_zoo.profiles import load_profile
from ofa2_zoo.search import default_reference_point
from ofa2_zoo.search.evaluator import ObjectiveEvaluator

PROFILES = Path(__file__).resolve().parents[1] / "hardware_profiles"


def _profile(tmp_path, reference_point: str | None = None):
    folder = tmp_path / "profiles"
    (folder / "luts").mkdir(parents=True)
    shutil.copy(PROFILES / "luts" / "digits-cpu.json", folder / "luts")
    text = (PROFILES / "digits-cpu.yaml").read_text().replace("id: digits-cpu", "id: digits-ref")
    if reference_point:
        text += f"reference_point: {reference_point}\n"
    (folder / "digits-ref.yaml").write_text(text)
    return load_profile(folder / "digits-ref.yaml")


class _Accuracy:
    """A top-1 source that must not be asked: the default top-1 reference is 0 % without evaluating."""

    class provenance:  # noqa: N801 - the attribute the evaluator reads
        id, sha256, source = "never", "0" * 64, "predicted"

    def predict_genes(self, genes):
        raise AssertionError("top-1 evaluated for the reference point")


def test_defaults_are_ten_percent_beyond_the_largest_arch_and_top1_zero(tmp_path):
    prof = _profile(tmp_path)
    names = ["latency_ms", "top1", "macs_m", "params_m"]
    ev = ObjectiveEvaluator(prof, _Accuracy(), names)
    ref = default_reference_point(prof, ev)
    assert list(ref) == names  # in the evaluator's order
    largest = ev.values(prof.space.archs_to_genes([prof.space.largest()]), ["latency_ms", "macs_m", "params_m"])
    assert ref["top1"] == 0.0
    for n in ("latency_ms", "macs_m", "params_m"):
        assert ref[n] == pytest.approx(1.1 * float(largest[n][0]), rel=1e-12) and ref[n] > 0
    sample = ev.values(prof.space.sample_genes(200, rng=0), ["latency_ms", "macs_m", "params_m"])
    for n, v in sample.items():
        assert np.all(v < ref[n]), n  # every arch dominates the reference point in this objective


def test_the_profiles_values_win_and_only_the_missing_ones_are_computed(tmp_path):
    prof = _profile(tmp_path, "{latency_ms: 0.75, top1: 12.5}")
    ev = ObjectiveEvaluator(prof, _Accuracy(), ["macs_m", "latency_ms", "top1"])
    ref = default_reference_point(prof, ev)
    largest = ev.values(prof.space.archs_to_genes([prof.space.largest()]), ["macs_m"])
    assert ref == {"macs_m": pytest.approx(1.1 * float(largest["macs_m"][0])), "latency_ms": 0.75, "top1": 12.5}
    assert list(ref) == ["macs_m", "latency_ms", "top1"]
    ev2 = ObjectiveEvaluator(prof, None, ["latency_ms", "params_m"])  # top1 given but not searched: left out
    ref2 = default_reference_point(prof, ev2)
    assert list(ref2) == ["latency_ms", "params_m"] and ref2["latency_ms"] == 0.75


def test_a_profile_giving_every_objective_computes_nothing(tmp_path):
    prof = _profile(tmp_path, "{latency_ms: 2, top1: 1}")
    ev = ObjectiveEvaluator(prof, _Accuracy(), ["latency_ms", "top1"])
    assert default_reference_point(prof, ev) == {"latency_ms": 2.0, "top1": 1.0}
    assert ev.computed == {n: 0 for n in ev.computed}
    only_top1 = _profile(tmp_path / "b", "{latency_ms: 2}")
    ev = ObjectiveEvaluator(only_top1, _Accuracy(), ["latency_ms", "top1"])
    assert default_reference_point(only_top1, ev) == {"latency_ms": 2.0, "top1": 0.0}
    assert ev.computed == {n: 0 for n in ev.computed}  # only top-1 missing: nothing evaluated
