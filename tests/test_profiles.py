"""Hardware profiles: loading, the Note10 tables, OFA's summation rule and vectorised latency."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from ofa2_zoo import ArchSpec, ArchError, SearchSpace, get_space
from ofa2_zoo.profiles import HardwareProfile, LatencyTable, LookupTableError, list_profiles, load_profile
from ofa2_zoo.profiles.lut import FORMAT, all_ops, block_ops, fixed_ops

from _profiles_helpers import ASSETS, TINY, needs_assets
from _search_helpers import official_note10_lut_sha256

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def note10(official_assets) -> HardwareProfile:
    return load_profile("note10", assets=official_assets)


# ---------------------------------------------------------------------------- Note10 acceptance
@needs_assets
def test_note10_largest_and_smallest_match_ofa(note10):
    s = note10.space
    lat = note10.latency([s.largest(224), s.smallest(224), s.smallest(160)])
    assert lat == pytest.approx([92.4, 17.8, 9.9], abs=0.05)  # what OFA's estimator gives (see below)
    assert isinstance(lat, np.ndarray) and lat.dtype == float


@needs_assets
def test_note10_profile_facts(note10):
    assert note10.id == "note10" and note10.device_class == "mobile"
    assert note10.space.name == "ofa_mbv3_w1.2" and note10.space.resolutions == (160, 176, 192, 208, 224)
    assert note10.objectives == ["latency_ms", "top1"]
    assert note10.sha256 == hashlib.sha256((ROOT / "hardware_profiles" / "note10.yaml").read_bytes()).hexdigest()
    assert note10.lut_sha256 == official_note10_lut_sha256()
    assert note10.timm_name(3) == "ofa2_note10_front_3"
    assert note10.hub.member_repo("org", 2) == "org/ofa2-note10-front-2"
    assert note10.hub.front_repo("org") == "org/ofa2-note10-front"
    assert note10.package.members >= 1 and "onnx" in note10.package.export


@needs_assets
def test_note10_tables_cover_every_operator_of_the_space(note10):
    for r in note10.space.resolutions:
        _, entries = note10.table.by_resolution[r]
        space = note10.space.restrict(resolutions=[r])
        assert not [k for k in all_ops(space) if k not in entries]


@needs_assets
def test_note10_reads_each_resolutions_own_file(note10):
    """A key can occur in two files with different values (7x7 stage-5 blocks at 208 and 224)."""
    shared = [k for k in note10.table.by_resolution[208][1] if k in note10.table.by_resolution[224][1]]
    differing = [k for k in shared if note10.table.lookup(k, 208) != note10.table.lookup(k, 224)]
    assert differing


@needs_assets
def test_latency_accepts_dicts_strings_and_a_single_arch(note10):
    a = note10.space.sample(1, 3)[0]
    ref = note10.latency([a])
    assert note10.latency([a.to_dict()]) == pytest.approx(ref)
    assert note10.latency([a.to_string()]) == pytest.approx(ref)
    assert note10.latency(a) == pytest.approx(ref)


@needs_assets
def test_vectorised_latency_equals_summing_keys_one_arch_at_a_time(note10):
    """The compiled gather must equal a plain per-arch walk over the operator keys."""
    s = note10.space
    genes = s.sample_genes(40, 7)
    fast = note10.latency_genes(genes)
    for g, value in zip(genes, fast):
        arch = s.genes_to_archs(g[None])[0]
        _, entries = note10.table.by_resolution[arch.r]
        slow = sum(entries[op.key] for op in fixed_ops(s, arch.r))
        for b, ki, ei, op in block_ops(s, arch.r):
            if b in arch.active_blocks() and s.ks_choices[ki] == arch.ks[b] and s.expand_choices[ei] == arch.e[b]:
                slow += entries[op.key]
        assert value == pytest.approx(slow, rel=1e-12)


@needs_assets
def test_inactive_genes_do_not_change_latency(note10):
    s = note10.space
    genes = s.sample_genes(200, 11)
    noisy = genes.copy()
    rng = np.random.default_rng(0)
    inactive = ~s.decode(genes)["active"]
    nb = s.n_blocks
    noisy[:, :nb][inactive] = rng.integers(0, len(s.ks_choices), inactive.sum())
    noisy[:, nb:2 * nb][inactive] = rng.integers(0, len(s.expand_choices), inactive.sum())
    assert np.array_equal(note10.latency_genes(noisy), note10.latency_genes(genes))


@needs_assets
def test_bad_genes_are_rejected_with_a_clear_error(note10):
    s = note10.space
    with pytest.raises(ArchError, match=r"shape \(N, 46\)"):
        note10.latency_genes(np.zeros((2, 45), int))
    bad = s.sample_genes(3, 0)
    bad[1, -1] = 9
    with pytest.raises(ArchError, match="gene 45 of row 1 is 9"):
        note10.latency_genes(bad)
    with pytest.raises(ArchError, match="integer"):
        note10.latency_genes(s.sample_genes(2, 0) + 0.5)
    assert note10.latency_genes(np.zeros((0, 46), int)).shape == (0,)


# ---------------------------------------------------------------------------- OFA's estimator (oracle)
def _ofa_tutorial_latency_table(monkeypatch):
    from _oracle import ofa_tutorial_module

    mod = ofa_tutorial_module("latency_table")
    # OFA calls yaml.load(fp) without a Loader (an error in PyYAML 6): give it a safe one.
    monkeypatch.setattr(mod, "yaml", types.SimpleNamespace(load=lambda fp: yaml.load(fp, Loader=yaml.CSafeLoader)))
    table = object.__new__(mod.LatencyTable)
    table.latency_tables = {r: mod.LatencyEstimator(url=str(ASSETS / "note10" / f"{r}_lookup_table.yaml"))
                            for r in (160, 176, 192, 208, 224)}
    return table


@needs_assets
def test_matches_ofa_tutorial_estimator_on_random_archs(note10, monkeypatch):
    oracle = _ofa_tutorial_latency_table(monkeypatch)
    s = note10.space
    archs = s.sample(150, 2024) + [s.largest(224), s.smallest(224), s.smallest(160)]
    ours = note10.latency(archs)
    theirs = np.array([oracle.predict_efficiency(a.to_dict()) for a in archs])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@needs_assets
def test_matches_ofa_efficiency_predictor_on_real_network_configs(note10, monkeypatch):
    """OFA's MBv3LatencyTable walks the active network's config (channels from the real net)."""
    from _oracle import ofa_supernet, require_oracle

    llt = require_oracle("ofa.nas.efficiency_predictor.latency_lookup_table")

    monkeypatch.setattr(llt, "yaml", types.SimpleNamespace(load=lambda fp: yaml.load(fp, Loader=yaml.CSafeLoader)))
    tables = {r: llt.MBv3LatencyTable(url=str(ASSETS / "note10" / f"{r}_lookup_table.yaml"))
              for r in note10.space.resolutions}
    net = ofa_supernet(1.2)
    archs = note10.space.sample(6, 5)
    theirs = []
    for a in archs:
        net.set_active_subnet(ks=list(a.ks), e=list(a.e), d=list(a.d))
        theirs.append(tables[a.r].predict_network_latency_given_config(net.get_active_net_config(), a.r))
    np.testing.assert_allclose(note10.latency(archs), theirs, rtol=1e-12)


# ---------------------------------------------------------------------------- summation rule by hand
# Every operator of TINY at resolution 16, with a distinct power of two as its latency, so a
# wrong or missing term changes the sum in a way no other combination of terms can.
TINY_KEYS_16 = {
    "Conv-input:16x16x1-output:8x8x8": 1,
    "expanded_conv-input:8x8x8-output:8x8x8-expand:8-kernel:3-stride:1-idskip:1-se:0-hs:0": 2,
    # stage 0 (stride 2, relu, no SE), block 0 (8 -> 16) and block 1 (16 -> 16)
    "expanded_conv-input:8x8x8-output:4x4x16-expand:16-kernel:3-stride:2-idskip:0-se:0-hs:0": 4,
    "expanded_conv-input:8x8x8-output:4x4x16-expand:32-kernel:3-stride:2-idskip:0-se:0-hs:0": 8,
    "expanded_conv-input:8x8x8-output:4x4x16-expand:16-kernel:5-stride:2-idskip:0-se:0-hs:0": 16,
    "expanded_conv-input:8x8x8-output:4x4x16-expand:32-kernel:5-stride:2-idskip:0-se:0-hs:0": 32,
    "expanded_conv-input:4x4x16-output:4x4x16-expand:32-kernel:3-stride:1-idskip:1-se:0-hs:0": 64,
    "expanded_conv-input:4x4x16-output:4x4x16-expand:64-kernel:3-stride:1-idskip:1-se:0-hs:0": 128,
    "expanded_conv-input:4x4x16-output:4x4x16-expand:32-kernel:5-stride:1-idskip:1-se:0-hs:0": 256,
    "expanded_conv-input:4x4x16-output:4x4x16-expand:64-kernel:5-stride:1-idskip:1-se:0-hs:0": 512,
    # stage 1 (stride 1, h_swish, SE), block 0 (16 -> 24) and block 1 (24 -> 24)
    "expanded_conv-input:4x4x16-output:4x4x24-expand:32-kernel:3-stride:1-idskip:0-se:1-hs:1": 1024,
    "expanded_conv-input:4x4x16-output:4x4x24-expand:64-kernel:3-stride:1-idskip:0-se:1-hs:1": 2048,
    "expanded_conv-input:4x4x16-output:4x4x24-expand:32-kernel:5-stride:1-idskip:0-se:1-hs:1": 4096,
    "expanded_conv-input:4x4x16-output:4x4x24-expand:64-kernel:5-stride:1-idskip:0-se:1-hs:1": 8192,
    "expanded_conv-input:4x4x24-output:4x4x24-expand:48-kernel:3-stride:1-idskip:1-se:1-hs:1": 16384,
    "expanded_conv-input:4x4x24-output:4x4x24-expand:96-kernel:3-stride:1-idskip:1-se:1-hs:1": 32768,
    "expanded_conv-input:4x4x24-output:4x4x24-expand:48-kernel:5-stride:1-idskip:1-se:1-hs:1": 65536,
    "expanded_conv-input:4x4x24-output:4x4x24-expand:96-kernel:5-stride:1-idskip:1-se:1-hs:1": 131072,
    "Conv_1-input:4x4x24-output:4x4x32": 1 << 18,
    "AvgPool2D-input:4x4x32-output:1x1x32": 1 << 19,
    "Conv_2-input:1x1x32-output:1x1x40": 1 << 20,
    "Logits-input:1x1x40-output:10": 1 << 21,
}
HEAD = 1 + 2 + (1 << 18) + (1 << 19) + (1 << 20) + (1 << 21)


def test_operator_keys_follow_ofas_scheme():
    space = TINY.restrict(resolutions=[16])
    assert set(all_ops(space)) == set(TINY_KEYS_16)


def test_operator_keys_of_another_layout():
    """A strided first block with h_swish and a width change (no identity skip), one SE stage."""
    space = SearchSpace(name="test_profiles_other_layout", stem_width=8, first_block_width=16, stage_widths=(16,),
                        final_expand_width=32, feature_mix_width=40, stage_strides=(2,), stage_acts=("h_swish",),
                        stage_se=(True,), ks_choices=(3,), expand_choices=(2,), depth_choices=(1,), resolutions=(32,),
                        first_block_stride=2, first_block_act="h_swish", num_classes=5)
    assert [op.key for op in fixed_ops(space, 32)] == [
        "Conv-input:32x32x3-output:16x16x8",
        "expanded_conv-input:16x16x8-output:8x8x16-expand:8-kernel:3-stride:2-idskip:0-se:0-hs:1",
        "Conv_1-input:4x4x16-output:4x4x32", "AvgPool2D-input:4x4x32-output:1x1x32",
        "Conv_2-input:1x1x32-output:1x1x40", "Logits-input:1x1x40-output:5"]
    assert [(b, ki, ei, op.key) for b, ki, ei, op in block_ops(space, 32)] == [
        (0, 0, 0, "expanded_conv-input:8x8x16-output:4x4x16-expand:32-kernel:3-stride:2-idskip:0-se:1-hs:1")]
    same_width = dataclasses.replace(space, name="test_profiles_other_layout_2", first_block_width=8, stage_widths=(8,),
                                     first_block_stride=1)
    assert "stride:1-idskip:1" in fixed_ops(same_width, 32)[1].key
    wider = dataclasses.replace(same_width, name="test_profiles_other_layout_3", first_block_width=16)
    assert "stride:1-idskip:0" in fixed_ops(wider, 32)[1].key


def test_gene_matrices_are_checked_before_the_gather():
    space = TINY.restrict(resolutions=[16])
    table = LatencyTable({k: float(v) for k, v in TINY_KEYS_16.items()}, "mem").compile(space)
    genes = space.sample_genes(3, 0)
    expected = table.latency_genes(genes)
    assert table.latency_genes(genes.astype(float)).tolist() == expected.tolist()  # whole floats are indices
    assert table.latency_genes(genes[1]).tolist() == expected[1:2].tolist()  # one genome
    assert table.latency_genes(genes.astype(np.uint8)).tolist() == expected.tolist()
    negative, too_big = genes.copy(), genes.copy()
    negative[1, 2], too_big[2, 10] = -1, 1
    for bad, message in ((genes[None], r"expected a gene matrix of shape \(N, 11\) for space 'test_profiles_tiny', "
                                       r"got shape \(1, 3, 11\)"),
                         (genes[:, :5], r"got shape \(3, 5\)"),
                         (genes.astype(str), "genes must be integer indices into the choice lists, got dtype <U21"),
                         (negative, "gene 2 of row 1 is -1, outside \\[0, 1\\] for space 'test_profiles_tiny'"),
                         (too_big, "gene 10 of row 2 is 1, outside \\[0, 0\\]")):
        with pytest.raises(ArchError, match=message):
            table.latency_genes(bad)


def _ops_to_count(name):
    if name == "tiny":  # every operator
        return TINY, list(all_ops(TINY).values())
    space = get_space("ofa_mbv3_w1.2")  # the fixed ones and each block's largest choice at 160
    return space, fixed_ops(space, 160) + [op for _, ki, ei, op in block_ops(space, 160) if ki == ei == 2]


@pytest.mark.parametrize("name", ["tiny", "w1.2"])
def test_operator_macs_and_weights_count_the_built_operator(name):
    """Each operator's MACs and weights (calibration features) equal what its timm module does:
    MACs counted by forward hooks on every convolution and linear layer, weights summed over them."""
    import torch

    from ofa2_zoo.profiles.measure import op_input_shape, op_module

    space, ops = _ops_to_count(name)
    for op in ops:
        key = op.key
        module = op_module(op, space).eval()
        layers = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert op.weights == sum(m.weight.numel() for m in layers), key
        if op.kind == "AvgPool2D":  # no multiplications, one addition per input value
            assert op.macs == op.inp[0] * op.inp[1] * op.inp[2]
            continue
        counted = {"n": 0}

        def hook(m, inputs, out):
            counted["n"] += (m.weight.numel() * out.shape[2] * out.shape[3] if isinstance(m, torch.nn.Conv2d)
                             else m.weight.numel())

        handles = [m.register_forward_hook(hook) for m in layers]
        with torch.no_grad():
            module(torch.zeros(op_input_shape(op, 1)))
        for h in handles:
            h.remove()
        assert op.macs == counted["n"], key


def test_the_fixed_first_block_is_counted_as_depthwise_separable():
    """OFA's first block has no expansion: a depthwise 3x3 then a pointwise convolution, counted by
    hand here (the built-operator test above builds it from the same ``Op``, so it cannot tell)."""
    first = fixed_ops(TINY, 16)[1]  # 8x8x8 -> 8x8x8: 8*8*8*9 depthwise + 8*8*8*8 pointwise
    assert first.first_block and (first.macs, first.weights) == (4608 + 4096, 8 * 9 + 8 * 8)
    strided = SearchSpace(name="test_profiles_strided_first", stem_width=8, first_block_width=16, stage_widths=(16,),
                          final_expand_width=32, feature_mix_width=40, stage_strides=(1,), stage_acts=("relu",),
                          stage_se=(False,), ks_choices=(3,), expand_choices=(2,), depth_choices=(1,),
                          resolutions=(32,), first_block_stride=2)
    first = fixed_ops(strided, 32)[1]  # 16x16x8 -> 8x8x16: 8*8*8*9 depthwise + 8*8*8*16 pointwise
    assert first.first_block and (first.macs, first.weights) == (4608 + 8192, 8 * 9 + 8 * 16)
    assert not any(op.first_block for op in fixed_ops(TINY, 16)[2:])
    assert not any(op.first_block for *_, op in block_ops(TINY, 16))


def test_a_calibration_without_offset_keeps_the_one_call_overhead():
    space = TINY.restrict(resolutions=[16])
    genes = space.archs_to_genes([ArchSpec.from_dict({"ks": [5, 3, 3, 5], "e": [4, 2, 2, 2], "d": [1, 2],
                                                      "r": [16]}, space)])
    raw = HEAD + 32 + 1024 + 65536  # 9 operators
    table = LatencyTable({k: float(v) for k, v in TINY_KEYS_16.items()}, "mem", {"call_overhead": {"median": 0.25}})
    scaled = table.with_calibration({"scale": 2.0})
    assert scaled.compile(space).latency_genes(genes)[0] == 2 * (raw - 9 * 0.25) + 0.25
    assert scaled.compile(space, calibrated=False).latency_genes(genes)[0] == raw - 8 * 0.25


# (arch, sum of its operators' entries, number of operators: 6 fixed + its active blocks)
HAND_CASES = [
    # stage 0 depth 1 (k5 e4 -> 32), stage 1 depth 2 (k3 e2 -> 1024, k5 e2 -> 65536)
    ({"ks": [5, 3, 3, 5], "e": [4, 2, 2, 2], "d": [1, 2], "r": [16]}, HEAD + 32 + 1024 + 65536, 9),
    # the genes of skipped blocks (stage 0 block 1, stage 1 block 1) must not count
    ({"ks": [3, 5, 5, 5], "e": [2, 4, 4, 4], "d": [1, 1], "r": [16]}, HEAD + 4 + 8192, 8),
    ({"ks": [3, 5, 3, 3], "e": [2, 4, 2, 4], "d": [2, 2], "r": [16]}, HEAD + 4 + 512 + 1024 + 32768, 10),
]


def _tiny_json_table(path, overhead=None, statistic=None):
    """The hand table as our JSON format; each entry's median is its value, p10 and min fractions of it."""
    data = {"format": FORMAT, "unit": "ms",
            "entries": {k: {"median": v, "p10": v / 2, "min": v / 4, "iqr": 0, "n": 1} for k, v in TINY_KEYS_16.items()}}
    if overhead is not None:
        data["call_overhead"] = overhead
    if statistic is not None:
        data["statistic"] = statistic
    path.write_text(json.dumps(data))
    return LatencyTable.from_json(path)


@pytest.mark.parametrize("arch, expected, n_ops", HAND_CASES)
def test_summation_rule_on_a_hand_computed_case(tmp_path, arch, expected, n_ops):
    space = TINY.restrict(resolutions=[16])
    yaml_file = tmp_path / "16_lookup_table.yaml"
    yaml_file.write_text(yaml.safe_dump({k: {"count": 3, "mean": float(v), "std": 0.0}
                                         for k, v in TINY_KEYS_16.items()}))
    genes = space.archs_to_genes([ArchSpec.from_dict(arch, space)])
    for table in (LatencyTable.from_ofa_yaml({16: yaml_file}), _tiny_json_table(tmp_path / "tiny.json")):
        assert table.call_overhead_ms == 0.0
        assert table.compile(space).latency_genes(genes)[0] == expected


@pytest.mark.parametrize("arch, expected, n_ops", HAND_CASES)
def test_summation_rule_counts_the_call_overhead_once(tmp_path, arch, expected, n_ops):
    """Every operator entry was timed as its own call and carries one call overhead; the network
    is one call: sum(entry - overhead) + overhead. The statistic picks entries and overhead alike."""
    space = TINY.restrict(resolutions=[16])
    genes = space.archs_to_genes([ArchSpec.from_dict(arch, space)])
    overhead = {"median": 0.25, "p10": 0.125, "min": 0.0625, "iqr": 0.01, "n": 100}
    for statistic, fraction in (("median", 1), ("p10", 2), ("min", 4)):
        table = _tiny_json_table(tmp_path / f"{statistic}.json", overhead, statistic)
        o = overhead[statistic]
        assert table.call_overhead_ms == o
        assert table.compile(space).latency_genes(genes)[0] == expected / fraction - n_ops * o + o
    # without a statistic the median is used
    assert _tiny_json_table(tmp_path / "default.json", overhead).compile(space).latency_genes(genes)[0] \
        == expected - (n_ops - 1) * 0.25


def test_zero_entries_are_valid_and_the_statistic_must_be_known(tmp_path):
    path = tmp_path / "zero.json"
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "call_overhead": {"median": 0},
                                "entries": {k: {"median": 0.0} for k in TINY_KEYS_16}}))
    space = TINY.restrict(resolutions=[16])
    assert LatencyTable.from_json(path).compile(space).latency_genes(space.sample_genes(3, 0)).tolist() == [0.0] * 3
    path.write_text(json.dumps({"format": FORMAT, "unit": "ms", "statistic": "mean", "entries": {}}))
    with pytest.raises(LookupTableError, match="statistic must be median, p10 or min, got 'mean'"):
        LatencyTable.from_json(path)


def test_calibration_is_folded_into_the_gather():
    space = TINY.restrict(resolutions=[16])
    cal = {"scale": 2.0, "per_block": 0.5, "offset": 3.0}
    table = LatencyTable({k: float(v) for k, v in TINY_KEYS_16.items()}, "mem", {"calibration": cal})
    genes = space.archs_to_genes([ArchSpec.from_dict({"ks": [5, 3, 3, 5], "e": [4, 2, 2, 2], "d": [1, 2],
                                                      "r": [16]}, space)])
    raw = HEAD + 32 + 1024 + 65536
    assert table.compile(space, calibrated=False).latency_genes(genes)[0] == raw
    assert table.compile(space).latency_genes(genes)[0] == pytest.approx(2 * raw + 0.5 * 3 + 3.0, rel=1e-15)
    # with a call overhead (0.25 ms per operator, 9 operators): the calibration's offset replaces the
    # overhead's one call, the scale applies to the entries less their overhead
    timed = LatencyTable(table.entries, "mem", {"calibration": cal, "call_overhead": {"median": 0.25}})
    assert timed.compile(space, calibrated=False).latency_genes(genes)[0] == raw - 8 * 0.25
    assert timed.compile(space).latency_genes(genes)[0] == pytest.approx(2 * (raw - 9 * 0.25) + 0.5 * 3 + 3.0,
                                                                          rel=1e-15)
    # MACs and weights terms: per million of the operators' own counts
    feats = LatencyTable(table.entries, "mem", {"calibration": {"scale": 1.0, "offset": 0.0, "per_mmac": 2.0,
                                                                "per_mweight": 3.0}})
    arch = space.genes_to_archs(genes)[0]
    ops = fixed_ops(space, 16) + [op for b, ki, ei, op in block_ops(space, 16) if b in arch.active_blocks()
                                  and space.ks_choices[ki] == arch.ks[b] and space.expand_choices[ei] == arch.e[b]]
    assert len(ops) == 9
    macs, weights = sum(op.macs for op in ops), sum(op.weights for op in ops)
    assert feats.compile(space).latency_genes(genes)[0] == pytest.approx(raw + 2.0 * macs / 1e6 + 3.0 * weights / 1e6,
                                                                         rel=1e-15)


# ---------------------------------------------------------------------------- shipped profiles
def test_shipped_profiles_are_listed():
    names = list_profiles()
    for required in ("note10", "cpu-onnxruntime", "cpu-torch", "gpu-tensorrt-fp16", "digits-cpu"):
        assert required in names


@pytest.mark.parametrize("name", ["note10", "cpu-onnxruntime", "cpu-torch", "gpu-tensorrt-fp16", "digits-cpu"])
def test_shipped_profiles_load_and_name_their_space(name):
    p = load_profile(name)
    assert p.id == name and p.space.resolutions == tuple(p.spec.resolutions)
    assert p.timm_prefix == "ofa2_" + name.replace("-", "_")


@pytest.mark.parametrize("name, accuracy", [("note10", "ofa_mbv3_w1.2"), ("cpu-onnxruntime", "ofa_mbv3_w1.2"),
                                            ("cpu-torch", "ofa_mbv3_w1.2"), ("gpu-tensorrt-fp16", "ofa_mbv3_w1.2"),
                                            ("digits-cpu", "ofa2_digits")])
def test_shipped_profiles_name_an_accuracy_source_of_their_space(name, accuracy):
    from ofa2_zoo.objectives.sources import accuracy_source_info

    p = load_profile(name)
    assert p.spec.accuracy == accuracy and p.accuracy_source == accuracy
    assert accuracy_source_info(accuracy).space == p.space.name


def test_cpu_onnxruntime_table_is_shipped_with_machine_and_date():
    p = load_profile("cpu-onnxruntime")
    meta = p.table.meta
    assert meta["unit"] == "ms" and meta["space"] == "ofa_mbv3_w1.2" and meta["measurement"]["backend"] == "onnxruntime"
    assert meta["measurement"] == p.measurement.model_dump() and p.measurement.clock == "cpu"
    assert meta["machine"]["cpu"] and meta["created"] and meta["calibration"]["archs"] >= 60
    assert p.lut_sha256 == p.spec.latency.table.sha256
    lat = p.latency([p.space.smallest(160), p.space.largest(224)])
    assert 0 < lat[0] < lat[1]


def test_digits_cpu_is_the_embedded_default_with_a_shipped_table():
    from ofa2_zoo.profiles import ensure_lut

    p = load_profile("digits-cpu")
    assert p.space.name == "ofa2_digits" and p.space.in_chans == 1 and p.device_class == "cpu"
    assert p.lut_sha256 == p.spec.latency.table.sha256 and p.table.calibration is not None
    assert ensure_lut(p) == p.table_path()  # shipped: nothing to build
    lat = p.latency_genes(p.space.sample_genes(1000, 0))
    assert lat.min() > 0 and np.all(np.isfinite(lat))
    s = p.space
    assert p.latency([s.smallest(4)])[0] < p.latency([s.largest(16)])[0]


def test_tensorrt_profile_without_a_table_says_it_needs_a_gpu():
    from ofa2_zoo.profiles import ProfileError

    p = load_profile("gpu-tensorrt-fp16")
    if p.table_path().is_file():
        pytest.skip("a measured TensorRT table is present")
    with pytest.raises(ProfileError, match="build-lut gpu-tensorrt-fp16 on a machine with an NVIDIA GPU"):
        p.latency([p.space.largest(224)])


# ---------------------------------------------------------------------------- ready here
def test_every_cpu_and_mobile_profile_can_search_with_the_official_files(official_assets):
    for name in ("note10", "cpu-onnxruntime", "cpu-torch", "digits-cpu"):
        assert load_profile(name).readiness(official_assets).ready, name


def test_readiness_says_what_is_missing_and_the_fix(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = load_profile("note10").readiness(empty)
    assert not r.ready and r.reason.startswith("official files missing: note10/160_lookup_table.yaml, ")
    assert r.reason.endswith(f"acc_predictor.pth (in {empty})")
    assert r.fix == f"ofa2 assets fetch --profile note10 --assets {empty}"
    r = load_profile("cpu-onnxruntime").readiness(empty)
    assert r.reason == f"official files missing: acc_predictor.pth (in {empty})"
    assert load_profile("digits-cpu").readiness(empty).ready  # everything ships in the wheel
    if load_profile("gpu-tensorrt-fp16").table_path().is_file():
        pytest.skip("a measured TensorRT table is present")
    r = load_profile("gpu-tensorrt-fp16").readiness(empty)
    assert r.reason.startswith("GPU needed: the TensorRT table is measured on an NVIDIA GPU")
    assert r.fix == "ofa2 profile build-lut gpu-tensorrt-fp16 on a GPU"


def test_readiness_of_a_missing_table_and_a_missing_backend(tmp_path, monkeypatch):
    from _profiles_helpers import profile_dict, write_profile
    from ofa2_zoo.profiles import loader

    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    p = load_profile(write_profile(tmp_path, profile_dict(objectives=["latency_ms", "macs_m"])))
    r = p.readiness(tmp_path)
    assert (r.ready, r.reason, r.fix) == (False, f"table missing: {p.table_path()}", "ofa2 profile build-lut tiny-cpu")
    measured = load_profile(write_profile(tmp_path, profile_dict(
        id="tiny-measured", objectives=["latency_ms", "macs_m"], latency={"source": "measure"})))
    assert measured.readiness(tmp_path).ready
    top1 = load_profile(write_profile(tmp_path, profile_dict(id="tiny-top1", latency={"source": "measure"})))
    assert top1.readiness(tmp_path).reason == "no accuracy source for space test_profiles_tiny"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime"
                        else real_find_spec(name, *a))
    r = measured.readiness(tmp_path)
    assert r.reason == "backend onnxruntime not installed (no onnxruntime package here)"
    assert loader._BACKEND_FIX["onnxruntime"] == r.fix


def test_the_table_beside_the_profile_wins_over_a_cached_copy_and_the_cache_serves_when_it_is_absent(
        tmp_path, monkeypatch):
    from _profiles_helpers import profile_dict, write_profile

    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    p = load_profile(write_profile(tmp_path / "profiles", profile_dict(objectives=["latency_ms", "macs_m"])))
    beside = (p.path.parent / p.spec.latency.table.path).resolve()
    cached = tmp_path / "cache" / "luts" / p.id / beside.name
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")  # a read-only install's build went to the cache
    assert p.table_path() == cached  # nothing beside the profile: the cached copy
    beside.parent.mkdir(parents=True, exist_ok=True)
    beside.write_text('{"other": 1}')  # both present and different: the profile's own table wins
    assert p.table_path() == beside


def test_profile_list_json_and_table(capsys, official_assets, tmp_path, monkeypatch):
    from ofa2_zoo.cli import main
    from ofa2_zoo.cli import profile as profile_cli

    monkeypatch.setattr(profile_cli.console, "width", 250)

    with pytest.raises(SystemExit) as exc:
        main(["profile", "list", "--json", "--assets", str(official_assets)])
    assert exc.value.code == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert {n: rows[n]["ready"] for n in ("note10", "cpu-onnxruntime", "cpu-torch", "digits-cpu")} == \
        dict.fromkeys(("note10", "cpu-onnxruntime", "cpu-torch", "digits-cpu"), True)
    assert rows["digits-cpu"]["default"] is True and rows["cpu-torch"]["accuracy"] == "ofa_mbv3_w1.2"
    assert rows["cpu-torch"]["supernet"] == "ofa_mbv3_w1.2" and rows["cpu-torch"]["latency_source"] == "measure"
    if not rows["gpu-tensorrt-fp16"]["ready"]:
        assert rows["gpu-tensorrt-fp16"]["reason"].startswith("GPU needed")
    with pytest.raises(SystemExit):
        main(["profile", "list", "--assets", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ready here" in out and "digits-cpu *" in out and "official files missing" in out


def test_top_level_api_exports():
    import ofa2_zoo

    assert ofa2_zoo.load_profile is load_profile and ofa2_zoo.HardwareProfile is HardwareProfile


def test_a_profile_in_ofa2_profiles_wins_over_the_shipped_one_of_the_same_id(tmp_path, monkeypatch):
    """Both present and different: ``$OFA2_PROFILES/<id>.yaml`` is the one found and loaded."""
    from ofa2_zoo.profiles.loader import find_profile, profile_dirs

    shipped = find_profile("digits-cpu")
    own = tmp_path / "digits-cpu.yaml"
    spec = yaml.safe_load(shipped.read_text())
    spec["description"] = "my own digits-cpu"
    if spec.get("latency", {}).get("table", {}).get("path"):  # the table stays the shipped one
        spec["latency"]["table"]["path"] = str(shipped.parent / spec["latency"]["table"]["path"])
    own.write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("OFA2_PROFILES", str(tmp_path))
    assert profile_dirs()[0] == tmp_path and len(profile_dirs()) >= 2
    assert find_profile("digits-cpu") == own
    assert load_profile("digits-cpu").spec.description == "my own digits-cpu"
    monkeypatch.delenv("OFA2_PROFILES")
    assert find_profile("digits-cpu") == shipped
