"""The shipped `cpu-litert` profile: the Fashion-MNIST space with a table measured in LiteRT
(XNNPACK, one thread, CPU clock) on this machine. Its table is pinned and records how it was
measured; a search needs only the table, not the litert extra."""

from __future__ import annotations

import json

import numpy as np

from ofa2_zoo.profiles import load_profile
from ofa2_zoo.search import search


def test_the_profile_loads_and_pins_a_table_measured_in_litert():
    p = load_profile("cpu-litert")
    assert p.id == "cpu-litert" and p.space.name == "ofa2_fmnist" and p.latency_source == "lut"
    m = p.measurement
    assert (m.backend, m.threads, m.batch_size, m.precision, m.clock, m.statistic) == \
        ("litert", 1, 1, "fp32", "cpu", "min")
    assert p.spec.runtimes == ["onnxruntime", "litert"]
    assert p.table_files() == [p.table_path()]  # the pinned sha256 matches
    table = json.loads(p.table_path().read_text())
    assert table["measurement"]["backend"] == "litert" and table["measurement"]["clock"] == "cpu"
    assert table["machine"]["ai_edge_litert"]  # which interpreter measured it
    assert table["canary"]["measurement"]["backend"] == "litert"
    assert table["calibration"]["archs"] >= 30


def test_a_search_needs_only_the_table_and_ranks_by_litert_latency():
    """Ready without the litert extra (a table profile), and its latencies are LiteRT's, not the
    onnxruntime table's of the same space."""
    litert, onnx = load_profile("cpu-litert"), load_profile("fmnist-cpu")
    assert litert.readiness().ready, litert.readiness()
    front = search(litert, population=16, generations=3, seed=0)
    assert front.profile_id == "cpu-litert" and len(front.members) >= 2
    genes = litert.space.archs_to_genes([m.arch for m in front.members])
    ours = litert.table.compile(litert.space).latency_genes(genes)
    theirs = onnx.table.compile(onnx.space).latency_genes(genes)
    assert np.allclose(front.values("latency_ms"), ours, rtol=1e-9)
    assert not np.allclose(ours, theirs, rtol=0.05)  # another runtime's table
