"""Arch specs and search spaces: validation, canonical form, round trips, gene encoding."""

import dataclasses
import itertools
import json
import re

import numpy as np
import pytest

from ofa2_zoo import ArchError, ArchSpec, SearchSpace, SpaceError, get_space
from ofa2_zoo.space import list_spaces, make_divisible, ofa_mobilenet_v3_space, register_space, resolve_space

from _oracle import require_oracle

W12 = get_space("ofa_mbv3_w1.2")
W10 = get_space("ofa_mbv3_w1.0")


def good(**over):
    d = {"ks": [3, 5, 7, 3] * 5, "e": [3, 4, 6, 6] * 5, "d": [2, 3, 4, 2, 3], "r": [224]}
    d.update(over)
    return d


def test_official_widths_match_the_brief():
    assert (W10.stem_width, W10.first_block_width, *W10.stage_widths, W10.final_expand_width,
            W10.feature_mix_width) == (16, 16, 24, 40, 80, 112, 160, 960, 1280)
    assert (W12.stem_width, W12.first_block_width, *W12.stage_widths, W12.final_expand_width,
            W12.feature_mix_width) == (24, 24, 32, 48, 96, 136, 192, 1152, 1536)
    assert W12.n_genes == 46 and W12.n_blocks == 20
    assert 1e19 < W12.size() < 3e19  # "about 2x10^19 sub-networks per resolution"


def test_make_divisible_matches_ofa():
    ofa_make_divisible = require_oracle("ofa.utils").make_divisible
    for v in [1, 7.5, 16 * 1.2, 40 * 1.2, 112 * 1.2, 960 * 1.2, 33.3, 200.1]:
        assert make_divisible(v, 8) == ofa_make_divisible(v, 8)


def test_canonical_form_ignores_genes_beyond_depth():
    a = ArchSpec.from_dict(good())
    other = good()
    other["ks"][3] = 7  # stage 0 has depth 2: block 3 is inactive
    other["e"][2] = 6
    b = ArchSpec.from_dict(other)
    assert a == b and hash(a) == hash(b)
    assert a.ks[2] == a.ks[3] == 3 and a.e[2] == 3


def test_genes_of_skipped_blocks_may_hold_any_value():
    """OFA arch dicts carry arbitrary filler for blocks beyond a stage's depth."""
    d = good()
    d["ks"][19], d["e"][19] = 9, 5  # stage 4 has depth 3: block 19 is skipped
    assert ArchSpec.from_dict(d) == ArchSpec.from_dict(good())


def test_round_trips():
    for arch in W12.sample(50, 0):
        assert ArchSpec.from_dict(arch.to_dict()) == arch
        assert ArchSpec.from_string(arch.to_string()) == arch
        assert ArchSpec.from_json(arch.to_json()) == arch
        assert json.loads(arch.to_json()) == arch.to_dict()
    d = good()
    d["image_size"] = d.pop("r")
    assert ArchSpec.from_dict(d) == ArchSpec.from_dict(good())
    assert ArchSpec.from_dict({**good(), "r": 224}) == ArchSpec.from_dict(good())


def test_string_is_short_and_path_safe():
    s = W12.largest().to_string()
    assert s == "r224-d44444-k77777777777777777777-e66666666666666666666"
    assert all(c.isalnum() or c == "-" for c in s)
    assert ArchSpec.from_dict(good()).to_string().count("x") == 2 * (20 - 14)


def test_genes_round_trip_and_vectorised_decode():
    genes = W12.sample_genes(500, 1)
    archs = W12.genes_to_archs(genes)
    np.testing.assert_array_equal(W12.archs_to_genes(archs), genes)
    v = W12.decode(genes)
    for i in (0, 17, 499):
        assert list(v["ks"][i]) == list(archs[i].ks) and int(v["r"][i]) == archs[i].r
        assert list(np.flatnonzero(v["active"][i])) == archs[i].active_blocks()
    assert genes.shape == (500, 46) and genes.min() == 0
    assert (genes <= W12.gene_upper_bounds).all()


def test_canonicalize_genes_makes_duplicates_equal():
    g = W12.archs_to_genes([W12.smallest(224), W12.largest(160)])  # depth 2 everywhere: 10 skipped blocks; none
    noisy = g.copy()
    inactive = ~W12.decode(g)["active"]
    assert inactive.sum(axis=1).tolist() == [10, 0]
    noisy[:, :20][inactive] = 2  # kernel 7
    noisy[:, 20:40][inactive] = 1  # expand 4
    assert (noisy != g).sum() == 20
    np.testing.assert_array_equal(W12.canonicalize_genes(noisy), g)
    np.testing.assert_array_equal(g[0, :40].reshape(2, 5, 4)[:, :, 2:], 0)  # skipped blocks' genes are 0


def test_restrict_resolutions():
    sub = W12.restrict(resolutions=[160, 176, 192, 208, 224])
    assert sub.resolutions == (160, 176, 192, 208, 224)
    with pytest.raises(SpaceError, match="not in space"):
        W12.restrict(resolutions=[150])
    with pytest.raises(ArchError, match="resolution 128 is not allowed"):
        ArchSpec.from_dict(good(r=[128]), space=sub)


def test_space_dict_round_trip_and_errors():
    assert SearchSpace.from_dict(W10.to_dict()) == W10
    with pytest.raises(SpaceError, match="unknown search-space field"):
        SearchSpace.from_dict({**W10.to_dict(), "bogus": 1})
    with pytest.raises(SpaceError, match="odd"):
        SearchSpace.from_dict({**W10.to_dict(), "ks_choices": [2, 4]})
    with pytest.raises(SpaceError, match="stage_strides"):
        SearchSpace.from_dict({**W10.to_dict(), "stage_strides": [2, 2]})
    with pytest.raises(SpaceError, match="unknown search space"):
        get_space("ofa_resnet50")


BAD = [
    ("not a dict", "must be a dict"),
    (["ks"], "must be a dict"),
    ({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5}, "missing key"),
    ({**good(), "x": 1}, "unknown arch key"),
    ({**good(), "image_size": [224]}, "not both"),
    (good(ks=[3] * 19), "'ks' has 19 values"),
    (good(ks=[3] * 21), "'ks' has 21 values"),
    (good(e=[3] * 5), "'e' has 5 values"),
    (good(d=[2] * 4), "'d' has 4 values"),
    (good(d=[2] * 6), "'d' has 6 values"),
    (good(ks="3333"), "must be a list"),
    (good(ks=None), "must be a list"),
    (good(ks=[9] + [3] * 19), "kernel size of block 0"),
    (good(ks=[3] * 16 + [4] + [3] * 3), "kernel size of block 16 \\('ks\\[16\\]'\\) is 4"),
    (good(e=[5] + [3] * 19), "expand ratio of block 0"),
    (good(e=[3.5] + [3] * 19), "'e\\[0\\]' must be an integer"),
    (good(e=["6"] + [3] * 19), "'e\\[0\\]' must be an integer"),
    (good(d=[1, 2, 2, 2, 2]), "depth of stage 0"),
    (good(d=[2, 2, 2, 2, 5]), "depth of stage 4"),
    (good(d=[True, 2, 2, 2, 2]), "must be an integer"),
    (good(r=[225]), "resolution 225 is not allowed"),
    (good(r=[96]), "resolution 96 is not allowed"),
    (good(r=[224, 160]), "one resolution"),
    (good(r="224"), "must be an integer"),
    (good(r=[224.5]), "must be an integer"),
    ({**good(), "wid": [1, 2]}, "elastic width"),
]


@pytest.mark.parametrize("value,message", BAD)
def test_bad_arch_dicts_give_one_clear_error(value, message):
    with pytest.raises(ArchError, match=message):
        ArchSpec.from_dict(value)


@pytest.mark.parametrize("text,message", [
    ("", "not an arch string"),
    ("r224", "not an arch string"),
    ("r224-d4444-k" + "7" * 20 + "-e" + "6" * 20, "'d' has 4 values"),
    ("r224-d44444-k" + "7" * 19 + "-e" + "6" * 20, "'ks' has 19 values"),
    ("r224-d44444-k" + "8" * 20 + "-e" + "6" * 20, "kernel size of block 0"),
    ("r999-d44444-k" + "7" * 20 + "-e" + "6" * 20, "resolution 999"),
    ("{not json", "does not parse"),
])
def test_bad_arch_strings(text, message):
    with pytest.raises(ArchError, match=message):
        ArchSpec.parse(text)


def test_bad_genes():
    with pytest.raises(ArchError, match="expected 46 genes"):
        W12.canonicalize_genes(np.zeros((2, 45), dtype=int))
    g = np.zeros((1, 46), dtype=int)
    g[0, 0] = 3
    with pytest.raises(ArchError, match="outside"):
        W12.canonicalize_genes(g)


# ---------------------------------------------------------------------------- the OFA spaces, by the brief
BRIEF_WIDTHS = {1.0: (16, 16, 24, 40, 80, 112, 160, 960, 1280), 1.2: (24, 24, 32, 48, 96, 136, 192, 1152, 1536)}


@pytest.mark.parametrize("width", [1.0, 1.2])
def test_ofa_space_factory_builds_the_briefs_space(width):
    s = ofa_mobilenet_v3_space(width)
    assert s.name == f"ofa_mbv3_w{width}" and f"width multiplier {width}" in s.description
    assert (s.stem_width, s.first_block_width, *s.stage_widths, s.final_expand_width,
            s.feature_mix_width) == BRIEF_WIDTHS[width]
    assert s.stage_strides == (2, 2, 2, 1, 2) and (s.stem_stride, s.first_block_stride) == (2, 1)
    assert s.stage_acts == ("relu", "relu", "h_swish", "h_swish", "h_swish") and s.first_block_act == "relu"
    assert s.stage_se == (False, True, False, True, True)
    assert (s.ks_choices, s.expand_choices, s.depth_choices) == ((3, 5, 7), (3, 4, 6), (2, 3, 4))
    assert s.resolutions == tuple(range(128, 225, 4))  # trained on 128-224 in steps of 4
    assert (s.in_chans, s.num_classes, s.dropout, s.bn_momentum, s.bn_eps) == (3, 1000, 0.1, 0.1, 1e-5)
    # the registered spaces are these, under both names
    assert get_space(f"ofa_mbv3_w{width}") == s == get_space(f"ofa_mbv3_d234_e346_k357_w{width}")
    assert ofa_mobilenet_v3_space(width, name="mine").name == "mine"


def test_sizes_and_gene_bounds_of_ofas_space():
    assert (W12.n_stages, W12.max_depth, W12.n_blocks, W12.n_genes) == (5, 4, 20, 46)
    assert W12.gene_upper_bounds.tolist() == [2] * 20 + [2] * 20 + [2] * 5 + [24]
    # per stage 9^2 + 9^3 + 9^4 networks (9 kernel/expand pairs per block), five stages
    assert W12.size() == (9 ** 2 + 9 ** 3 + 9 ** 4) ** 5 == 21_758_655_492_572_485_851  # "about 2x10^19"


def test_block_layout_follows_the_stage_table():
    space = ofa_mobilenet_v3_space(1.0)  # built here: the layout is computed when a space is made
    layout = [(b.index, b.stage, b.position, b.in_channels, b.out_channels, b.stride, b.act, b.use_se, b.identity_skip)
              for b in space.blocks]
    assert len(layout) == 20 and isinstance(space.blocks, tuple)
    assert layout[:5] == [(0, 0, 0, 16, 24, 2, "relu", False, False), (1, 0, 1, 24, 24, 1, "relu", False, True),
                          (2, 0, 2, 24, 24, 1, "relu", False, True), (3, 0, 3, 24, 24, 1, "relu", False, True),
                          (4, 1, 0, 24, 40, 2, "relu", True, False)]
    assert layout[12] == (12, 3, 0, 80, 112, 1, "h_swish", True, False)  # stride 1 but 80 -> 112: no skip
    assert layout[19] == (19, 4, 3, 160, 160, 1, "h_swish", True, True)


def test_mid_and_se_channels_follow_ofas_rounding():
    ofa_make_divisible = require_oracle("ofa.utils").make_divisible
    for space in (W10, W12):
        for b in space.blocks:
            for e in space.expand_choices:
                mid = space.mid_channels(b.in_channels, e)
                assert mid == ofa_make_divisible(round(b.in_channels * e), 8), (b, e)
                assert space.se_channels(mid) == ofa_make_divisible(mid // 4, 8), mid
    # OFA's SE width for any channel count, not only the multiples of 8 the spaces produce
    assert [W12.se_channels(c) for c in range(1, 2000)] == [ofa_make_divisible(c // 4, 8) for c in range(1, 2000)]
    # the brief: w1.0's first elastic block holds a 96-channel 7x7 depthwise weight at expand 6
    assert W10.mid_channels(16, 6) == 96 and W12.mid_channels(136, 4) == 544 and W12.se_channels(544) == 136


def test_feature_size_is_the_input_over_the_total_stride_rounded_up():
    assert [W12.feature_size(r) for r in (128, 160, 224, 225, 97)] == [4, 5, 7, 8, 4]
    digits = SearchSpace(name="t", stem_width=8, first_block_width=8, stage_widths=(8, 16), final_expand_width=16,
                         feature_mix_width=16, stage_strides=(2, 1), stage_acts=("relu", "relu"),
                         stage_se=(False, False), stem_stride=1, first_block_stride=2, resolutions=(16,))
    assert digits.feature_size(16) == 4 and digits.feature_size(15) == 4 and digits.feature_size(17) == 5


def test_make_divisible_rounds_to_the_nearest_multiple_but_never_below_90_percent():
    ofa_make_divisible = require_oracle("ofa.utils").make_divisible
    # 8 / 0.9 etc.: the rounded value is exactly 90 % of the input, the edge of the rule
    for v in [0.5, 3, 4, 11, 12, 19.9, 20, 35.9, 36, 100, 1535.9, 8 / 0.9, 16 / 0.9, 24 / 0.9, 32 / 0.9]:
        for divisor, floor in ((8, None), (8, 16), (4, None)):
            assert make_divisible(v, divisor, floor) == ofa_make_divisible(v, divisor, floor), (v, divisor, floor)
    assert [make_divisible(v) for v in (3, 11, 12, 20)] == [8, 16, 16, 24]  # 11 -> 8 is below 90 %: 16
    assert make_divisible(3, 8, min_value=4) == 4 and isinstance(make_divisible(33.3), int)
    assert [make_divisible(x / 0.9) for x in (8, 16, 24, 32)] == [8, 16, 24, 32]  # exactly 90 %: kept


def test_size_counts_distinct_networks_by_enumeration():
    """Every gene vector of a tiny space, canonicalised: the distinct networks per resolution."""
    space = SearchSpace(name="t", stem_width=8, first_block_width=8, stage_widths=(8, 16), final_expand_width=16,
                        feature_mix_width=16, stage_strides=(1, 2), stage_acts=("relu", "h_swish"),
                        stage_se=(False, True), ks_choices=(3, 5), expand_choices=(1, 2), depth_choices=(1, 2),
                        resolutions=(16, 24))
    ranges = [range(u + 1) for u in space.gene_upper_bounds]
    genes = np.array(list(itertools.product(*ranges)))  # 2^4 kernels x 2^4 expands x 2^2 depths x 2 resolutions
    networks = {a for a in space.genes_to_archs(genes)}
    assert len(genes) == 2048 and len(networks) == len(space.resolutions) * space.size() == 2 * (4 + 4 ** 2) ** 2


def test_validate_checks_an_arch_against_this_space():
    a = W12.largest(224)
    assert W12.validate(a) == a
    with pytest.raises(ArchError, match=r"resolution 224 is not allowed in space 'ofa_mbv3_w1.2' \(allowed: \{160\}\)"):
        W12.restrict(resolutions=[160]).validate(a)
    with pytest.raises(ArchError, match=r"resolution 100 is not allowed in space 'ofa_mbv3_w1.2' "
                                        r"\(allowed: 128..224 in steps of 4\)"):
        W12.validate(ArchSpec(a.ks, a.e, a.d, 100))
    with pytest.raises(ArchError, match=r"kernel size of block 0 \('ks\[0\]'\) is 4; allowed: \{3, 5, 7\}"):
        W12.archs_to_genes([ArchSpec((4,) + a.ks[1:], a.e, a.d, 224)])


def test_largest_smallest_and_sampling():
    assert W12.largest() == ArchSpec((7,) * 20, (6,) * 20, (4,) * 5, 224)
    assert W12.smallest() == ArchSpec((3,) * 20, (3,) * 20, (2,) * 5, 128)
    assert W12.largest(160).r == 160 and W12.smallest(160).r == 160
    tiny = SearchSpace(name="t", stem_width=8, first_block_width=8, stage_widths=(8, 16), final_expand_width=16,
                       feature_mix_width=16, stage_strides=(1, 2), stage_acts=("relu", "relu"), stage_se=(False, False),
                       ks_choices=(3, 5), expand_choices=(1, 2), depth_choices=(1, 2), resolutions=(16, 24))
    assert tiny.largest() == ArchSpec((5,) * 4, (2,) * 4, (2, 2), 24)
    assert tiny.smallest() == ArchSpec((3,) * 4, (1,) * 4, (1, 1), 16)
    # archs given as dicts or strings are read in this space (not the default one)
    a = tiny.largest()
    assert tiny.archs_to_genes([a, a.to_dict(), a.to_string()]).tolist() == [[1] * 8 + [1, 1, 1]] * 3
    assert W12.sample_genes(5, 3).tolist() == W12.sample_genes(5, np.random.default_rng(3)).tolist()
    genes = W12.sample_genes(2000, 0)
    assert genes.shape == (2000, 46) and genes.dtype == np.int64
    # uniform over each gene's choices: every value of every gene appears (resolution: 25 values)
    assert all(set(np.unique(genes[:, g])) == set(range(u + 1)) for g, u in enumerate(W12.gene_upper_bounds)
               if g >= 40)
    assert [a.to_string() for a in W12.sample(3, 7)] == [a.to_string() for a in W12.genes_to_archs(W12.sample_genes(3, 7))]


def test_decode_gives_values_and_indices():
    g = W12.archs_to_genes([W12.largest(160), W12.smallest(224)])
    v = W12.decode(g)
    assert v["ks"][0].tolist() == [7] * 20 and v["e"][1].tolist() == [3] * 20
    assert v["d"].tolist() == [[4] * 5, [2] * 5] and v["r"].tolist() == [160, 224]
    assert v["d_idx"].tolist() == [[2] * 5, [0] * 5] and v["r_idx"].tolist() == [8, 24]
    assert v["ks_idx"][0].tolist() == [2] * 20 and v["e_idx"][1].tolist() == [0] * 20
    assert v["active"].sum(axis=1).tolist() == [20, 10]
    np.testing.assert_array_equal(W12.active_mask(np.array([[0, 1, 2, 0, 1]])),
                                  [[1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0]])


def test_smallest_valid_choices_and_widths():
    """1x1 kernels (odd), width-1 layers, depth 1 and expand 1 are all allowed."""
    s = SearchSpace.from_dict({**W10.to_dict(), "name": "t", "ks_choices": (1, 3), "expand_choices": (1,),
                               "depth_choices": (1,), "stem_width": 1, "feature_mix_width": 1})
    assert s.ks_choices == (1, 3) and s.stem_width == 1 and [b.stride for b in s.blocks] == [2, 2, 2, 1, 2]


@pytest.mark.parametrize("resolutions, shown", [
    ([128, 132, 136, 140, 144, 148], "{128, 132, 136, 140, 144, 148}"),  # six values: listed
    ([128, 132, 136, 140, 144, 148, 152], "128..152 in steps of 4"),  # seven evenly spaced: a range
    ([128, 132, 136, 140, 144, 148, 160], "{128, 132, 136, 140, 144, 148, 160}"),  # seven, uneven: listed
])
def test_allowed_resolutions_in_messages(resolutions, shown):
    with pytest.raises(ArchError, match=re.escape(f"resolution 224 is not allowed in space 'ofa_mbv3_w1.2' "
                                                  f"(allowed: {shown})")):
        ArchSpec.from_dict(good(), space=W12.restrict(resolutions=resolutions))


@pytest.mark.parametrize("field, value, message", [
    ("ks_choices", (), "ks_choices is empty"),
    ("resolutions", (160, 160), r"resolutions must be strictly increasing, got \(160, 160\)"),
    ("expand_choices", (6, 3), r"expand_choices must be strictly increasing, got \(6, 3\)"),
    ("depth_choices", (2.0, 3.0), r"depth_choices must hold integers, got \(2.0, 3.0\)"),
    ("depth_choices", (True, 2), "depth_choices must hold integers"),
    ("ks_choices", (1, 3, 4), r"kernel sizes must be odd, got \(1, 3, 4\)"),
    ("ks_choices", (-1, 3), "kernel sizes must be odd"),
    ("depth_choices", (0, 2), r"depths must be >= 1, got \(0, 2\)"),
    ("expand_choices", (0, 2), r"expand ratios must be >= 1, got \(0, 2\)"),
    ("stage_acts", ("relu", "relu", "gelu", "h_swish", "h_swish"), "unknown activation 'gelu'"),
    ("first_block_act", "swish", "unknown activation 'swish'; use one of \\('relu', 'h_swish'\\)"),
    ("feature_mix_width", 0, r"widths must be positive, got \(16, 16, 24, 40, 80, 112, 160, 960, 0\)"),
    ("stage_se", (True,), "stage_se has 1 entries, stage_widths has 5"),
    ("stage_widths", (), "needs at least one stage"),
])
def test_bad_space_definitions(field, value, message):
    with pytest.raises(SpaceError, match=f"space 'ofa_mbv3_w1.0': {message}"):
        SearchSpace.from_dict({**W10.to_dict(), field: value})


def test_space_lookup_and_registration(monkeypatch):
    import ofa2_zoo.space as space_module

    monkeypatch.setattr(space_module, "_SPACES", dict(space_module._SPACES))  # registered here, gone afterwards
    monkeypatch.setattr(space_module, "_ALIASES", dict(space_module._ALIASES))
    assert resolve_space(None) is get_space("ofa_mbv3_w1.2") and resolve_space("ofa_mbv3_w1.0") is W10
    assert resolve_space(W10) is W10 and resolve_space(W10.to_dict()) == W10
    with pytest.raises(SpaceError, match="cannot use int as a search space"):
        resolve_space(3)
    with pytest.raises(SpaceError, match="bad search-space definition: .*missing"):
        SearchSpace.from_dict({"name": "x"})
    with pytest.raises(SpaceError, match=r"unknown search-space field\(s\) \['_layout'\]"):  # private: not a field
        SearchSpace.from_dict({**W10.to_dict(), "_layout": []})
    mine = register_space(dataclasses.replace(W10, name="test_space_mine"), "test_space_alias")
    assert get_space("test_space_alias") is mine and "test_space_mine" in list_spaces()
    assert list_spaces() == sorted(list_spaces()) and "test_space_alias" not in list_spaces()
    assert W10.restrict(name="renamed").name == "renamed" and W10.restrict(resolutions=[224, 128]).resolutions == (128, 224)
    assert SearchSpace.from_dict(W12.to_dict()).to_dict() == W12.to_dict()
    assert "_layout" not in W12.to_dict() and W12.to_dict()["stage_widths"] == [32, 48, 96, 136, 192]


def test_arch_spec_readers_and_writers():
    a = ArchSpec.from_dict(good())
    assert ArchSpec.parse(a) == a == ArchSpec.parse(a.to_dict()) == ArchSpec.parse(a.to_json())
    assert ArchSpec.parse("  " + a.to_json()) == a == ArchSpec.parse(a.to_string())
    assert ArchSpec.from_dict(a) == a and str(a) == a.to_string()
    assert a.to_json() == json.dumps(a.to_dict(), separators=(",", ":"))
    assert ArchSpec.from_dict({**good(), "wid": None}) == a == ArchSpec.from_dict({**good(), "wid": []})
    assert ArchSpec.from_dict({**good(), "wid": 0}) == a
    assert ArchSpec.from_dict(good(r=224)) == a == ArchSpec.from_dict(good(r=(224,)))
    assert a.active_blocks() == [0, 1, 4, 5, 6, 8, 9, 10, 11, 12, 13, 16, 17, 18]
    assert [W12.blocks[i].position for i in a.active_blocks()] == [0, 1, 0, 1, 2, 0, 1, 2, 3, 0, 1, 0, 1, 2]
    with pytest.raises(ArchError, match="cannot read an arch from int"):
        ArchSpec.parse(5)
    with pytest.raises(ArchError, match="an arch string must be a str, got bytes"):
        ArchSpec.from_string(b"r224")
    with pytest.raises(ArchError, match="single-digit"):
        ArchSpec((11,) * 20, (3,) * 20, (4,) * 5, 224).to_string()
    # only active genes are written: two-digit values in skipped blocks do not matter
    assert ArchSpec((3, 5, 11, 11) * 5, (6, 4, 10, 10) * 5, (2,) * 5, 224).to_string() == \
        "r224-d22222-k35xx35xx35xx35xx35xx-e64xx64xx64xx64xx64xx"
    with pytest.raises(ArchError, match=r"'r' must be one resolution, got \[\]"):
        ArchSpec.from_dict(good(r=[]))
    with pytest.raises(ArchError, match=r"arch is missing key\(s\) \['d', 'r'\]"):
        ArchSpec.from_dict({"ks": [3] * 20, "e": [3] * 20})


# ---------------------------------------------------------------------------- exact messages and edges
def _no_r(**over):
    d = good(**over)
    del d["r"]
    return d


EXACT = [
    ("not a dict", "an arch must be a dict with keys ks, e, d, r; got str"),
    ({**good(), "x": 1}, "unknown arch key(s) ['x']; expected ks, e, d and r (or image_size)"),
    ({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5}, "arch is missing key(s) ['r']; expected ks, e, d and r (or image_size)"),
    ({**good(), "image_size": [224]}, "an arch gives the resolution as 'r' or 'image_size', not both"),
    ({**good(), "wid": [1]}, "elastic width ('wid') is not part of the MobileNetV3 search spaces"),
    (good(ks=[3] * 19), "'ks' has 19 values; space 'ofa_mbv3_w1.2' needs 20"),
    (good(e=[3] * 21), "'e' has 21 values; space 'ofa_mbv3_w1.2' needs 20"),
    (good(d=[2] * 4), "'d' has 4 values; space 'ofa_mbv3_w1.2' needs 5"),
    (good(ks="3333"), "'ks' must be a list of 20 integers, got str"),
    (good(d=None), "'d' must be a list of 5 integers, got NoneType"),
    (good(e=[3.5] + [3] * 19), "'e[0]' must be an integer, got 3.5"),
    (good(ks=[3] * 19 + ["7"]), "'ks[19]' must be an integer, got '7'"),
    (good(r="224"), "'r' must be an integer, got '224'"),
    (good(r=[None]), "'r' must be an integer, got None"),
    (good(r=True), "'r' must be an integer, got True"),
    (good(r=[224.5]), "'r' must be an integer, got 224.5"),
    (_no_r(image_size="big"), "'image_size' must be an integer, got 'big'"),
    (_no_r(image_size=[224, 160]), "'image_size' must be one resolution, got [224, 160]"),
    (good(d=[2, 2, 2, 1, 2]), "depth of stage 3 ('d[3]') is 1; allowed: {2, 3, 4}"),
    (good(ks=[3] * 4 + [9] + [3] * 15), "kernel size of block 4 ('ks[4]') is 9; allowed: {3, 5, 7}"),
    (good(e=[3] * 8 + [5] + [3] * 11), "expand ratio of block 8 ('e[8]') is 5; allowed: {3, 4, 6}"),
    (good(r=[225]), "resolution 225 is not allowed in space 'ofa_mbv3_w1.2' (allowed: 128..224 in steps of 4)"),
]


@pytest.mark.parametrize("value,message", EXACT)
def test_bad_arch_dicts_exact_messages(value, message):
    with pytest.raises(ArchError) as info:
        ArchSpec.from_dict(value)
    assert str(info.value) == message


def test_integral_floats_and_numpy_integers_are_accepted():
    a = ArchSpec.from_dict(good())
    assert ArchSpec.from_dict(good(r=224.0, d=[np.int64(2), 3, 4, 2, 3])) == a
    assert type(ArchSpec.from_dict(good(r=224.0)).r) is int


def test_arch_strings_allow_single_digits_only_in_active_blocks():
    nine = ArchSpec((9,) * 20, (9,) * 20, (4,) * 5, 224)  # no space check: to_string only formats
    assert nine.to_string() == "r224-d44444-k" + "9" * 20 + "-e" + "9" * 20
    for ks, e in (((10,) * 20, (3,) * 20), ((3,) * 20, (10,) * 20)):
        with pytest.raises(ArchError) as info:
            ArchSpec(ks, e, (4,) * 5, 224).to_string()
        assert str(info.value) == "arch strings need single-digit kernel sizes and expand ratios"


def test_arch_readers_use_the_space_they_are_given():
    tiny = SearchSpace(name="tiny", stem_width=8, first_block_width=8, stage_widths=(8, 16), final_expand_width=16,
                       feature_mix_width=16, stage_strides=(1, 2), stage_acts=("relu", "relu"), stage_se=(False, False),
                       ks_choices=(3, 5), expand_choices=(1, 2), depth_choices=(1, 2), resolutions=(16, 24))
    a = ArchSpec((5, 3, 3, 3), (2, 1, 1, 1), (2, 1), 24)
    assert ArchSpec.from_json(a.to_json(), tiny) == a == ArchSpec.from_json(a.to_json(), space=tiny)
    assert ArchSpec.parse(a.to_string(), tiny) == a == ArchSpec.parse(a.to_dict(), tiny)
    assert ArchSpec.parse(a, tiny) == a == ArchSpec.parse(a.to_json(), tiny) == ArchSpec.parse(" " + a.to_json(), tiny)
    one_choice = dataclasses.replace(tiny, name="one", ks_choices=(3,), expand_choices=(1,))
    b = ArchSpec((3,) * 4, (1,) * 4, (2, 1), 16)  # block 3 skipped: 'x' reads as the only choice
    assert b.to_string() == "r16-d21-k333x-e111x" and ArchSpec.from_string(b.to_string(), one_choice) == b
    with pytest.raises(ArchError) as info:
        ArchSpec.from_json(a.to_json())  # the default space has 20 blocks
    assert str(info.value) == "'ks' has 4 values; space 'ofa_mbv3_w1.2' needs 20"


def test_canonicalize_genes_copies_and_returns_a_2d_int64_matrix():
    g = W12.archs_to_genes([W12.smallest(224)])
    noisy = g.copy()
    noisy[0, 3] = 2  # kernel gene of a skipped block
    before = noisy.copy()
    out = W12.canonicalize_genes(noisy)
    assert out.tolist() == g.tolist() and noisy.tolist() == before.tolist()  # the caller's array is untouched
    as_float = W12.canonicalize_genes(noisy.astype(float) + 0.0)
    assert as_float.dtype == np.int64 and as_float.tolist() == g.tolist()  # pymoo hands over floats
    one = W12.canonicalize_genes(noisy[0])  # one genome as a 1-D vector
    assert one.shape == (1, 46) and one.tolist() == g.tolist()
    assert W12.canonicalize_genes(noisy[0].tolist()).tolist() == g.tolist()
    assert W12.archs_to_genes([W12.largest()]).dtype == np.int64


def test_every_shipped_supernet_has_its_space_registered_on_import():
    """The catalog's supernets are found by name with nothing else imported (no lazy module)."""
    import subprocess
    import sys

    code = ("import sys; from ofa2_zoo.catalog import EMBEDDED; from ofa2_zoo.space import get_space; "
            "print(sorted(get_space(n).name for n in EMBEDDED)); "
            "print(sorted(m for m in sys.modules if m.startswith('ofa2_zoo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['ofa2_digits', 'ofa2_fmnist']"
    assert out[1] == ("['ofa2_zoo', 'ofa2_zoo._hooks', 'ofa2_zoo._io', 'ofa2_zoo._version', 'ofa2_zoo.catalog', "
                      "'ofa2_zoo.constants', 'ofa2_zoo.errors', 'ofa2_zoo.space']")


def test_the_fashion_mnist_space_is_cheap_at_28_px():
    sp = get_space("ofa2_fmnist")
    assert (sp.in_chans, sp.num_classes, sp.stem_stride, sp.resolutions) == (1, 10, 2, (16, 20, 24, 28))
    assert (sp.ks_choices, sp.expand_choices, sp.depth_choices) == ((3, 5), (2, 3, 4), (1, 2, 3))
    assert [sp.feature_size(r) for r in sp.resolutions] == [2, 3, 3, 4]  # the first stage keeps 14x14 at 28 px
    assert sp.stage_strides == (1, 2, 2, 1)
    assert sp.n_genes == 2 * 12 + 4 + 1


def test_unknown_space_message_lists_the_known_ones():
    with pytest.raises(SpaceError) as info:
        get_space("ofa_resnet50")
    known = list_spaces()
    assert {"ofa_mbv3_w1.0", "ofa_mbv3_w1.2"} <= set(known)
    assert str(info.value) == f"unknown search space 'ofa_resnet50'; known: {', '.join(known)}"


DIGITS_ARCH = "r16-d123-k3xx35x355-e3xx34x444"  # 9 blocks in 3 stages: the embedded space's shape
W12_ARCH = "r192-d32222-k755x33xx37xx55xx55xx-e366x46xx66xx36xx33xx"  # 20 in 5: both OFA spaces' shape


@pytest.fixture
def builtin_spaces(monkeypatch):
    """The registry holding only the three shipped spaces (other tests register more)."""
    import ofa2_zoo.space as space_module

    get_space("ofa2_digits")  # loads the embedded module's space
    monkeypatch.setattr(space_module, "_SPACES", {n: space_module._SPACES[n]
                                                   for n in ("ofa2_digits", "ofa_mbv3_w1.0", "ofa_mbv3_w1.2")})


def test_spaces_of_shape(builtin_spaces):
    from ofa2_zoo.space import spaces_of_shape

    w12 = ArchSpec.parse(W12_ARCH)
    assert spaces_of_shape(W12_ARCH) == ["ofa_mbv3_w1.0", "ofa_mbv3_w1.2"] == spaces_of_shape(" " + W12_ARCH + "\n")
    assert spaces_of_shape(w12.to_dict()) == spaces_of_shape(w12.to_json()) == ["ofa_mbv3_w1.0", "ofa_mbv3_w1.2"]
    assert spaces_of_shape(DIGITS_ARCH) == ["ofa2_digits"] == spaces_of_shape('{"ks": [3,3,3,3,3,3,3,3,3], "d": [1,1,1]}')
    for shapeless in ("x", "{not json", '{"ks": [3]}', '{"ks": "333", "d": [1]}', {"ks": [3] * 9, "d": "111"}, 5,
                      '[1, 2]', "r16-d12-k3xx35x-e3xx34x"):
        assert spaces_of_shape(shapeless) == [], shapeless


def test_find_space(builtin_spaces):
    from ofa2_zoo.space import find_space

    digits, w10, w12 = get_space("ofa2_digits"), W10, W12
    assert find_space(W12_ARCH, w12) == (ArchSpec.parse(W12_ARCH, w12), w12)  # fits the default: read there
    assert find_space(W12_ARCH, "ofa_mbv3_w1.0")[1] is w10
    assert find_space(W12_ARCH)[1] is w12  # no default given: OFA w1.2
    assert find_space(DIGITS_ARCH, w12) == (ArchSpec.parse(DIGITS_ARCH, digits), digits)  # the one space of its shape
    with pytest.raises(ArchError) as info:
        find_space("x", digits)  # no shape: read in the default, whose error it gets
    assert str(info.value) == ("not an arch string: 'x'; expected 'r<res>-d<depths>-k<kernels>-e<expands>' with one "
                               "digit per gene and 'x' for blocks beyond a stage's depth")
    with pytest.raises(ArchError, match=r"^resolution 192 is not allowed in space 'ofa_mbv3_w1.0' \(allowed: \{224\}\)$"):
        find_space(W12_ARCH, dataclasses.replace(W10, resolutions=(224,)))  # read in the default given, not w1.2
    with pytest.raises(ArchError) as info:
        find_space(W12_ARCH, digits)
    assert str(info.value) == "the arch fits several spaces (ofa_mbv3_w1.0, ofa_mbv3_w1.2); pass --space with one of them"
    with pytest.raises(ArchError) as info:
        find_space("r16-d12-k3xx35x-e3xx34x", digits)
    assert str(info.value) == ("the arch has 6 blocks in 2 stages; no registered space has that shape (known: ofa2_digits "
                               "(9 blocks, 3 stages), ofa_mbv3_w1.0 (20 blocks, 5 stages), ofa_mbv3_w1.2 (20 blocks, "
                               "5 stages))")
    with pytest.raises(ArchError) as info:
        find_space(W12_ARCH.replace("r192", "r100"), digits)  # fits both by shape, neither by resolution
    assert str(info.value) == ("resolution 100 is not allowed in space 'ofa_mbv3_w1.0' (allowed: 128..224 in steps of 4) "
                               "(in spaces ofa_mbv3_w1.0, ofa_mbv3_w1.2)")
    narrow = dataclasses.replace(W10, resolutions=(224,))  # w1.0 without 192: only w1.2 reads the arch
    import ofa2_zoo.space as space_module

    space_module._SPACES["ofa_mbv3_w1.0"] = narrow  # the fixture restores the registry
    assert find_space(W12_ARCH, digits) == (ArchSpec.parse(W12_ARCH, w12), w12)


def test_arch_strings_may_carry_surrounding_blanks():
    a = ArchSpec.parse(W12_ARCH)
    assert ArchSpec.from_string("  " + W12_ARCH + "\n") == a


def test_derived_arrays_are_read_only_and_made_again_for_a_restricted_space():
    with pytest.raises(ValueError):
        W12.gene_upper_bounds[0] = 5  # shared by every caller: nobody may change it
    sub = W12.restrict(resolutions=[160, 224])
    assert sub.gene_upper_bounds.tolist() == [2] * 45 + [1] and W12.gene_upper_bounds[-1] == 24
    genes = np.zeros((2, sub.n_genes), dtype=np.int64)
    genes[:, -1] = [0, 1]
    genes[1, 2 * sub.n_blocks:-1] = [0, 1, 2, 0, 1]  # depths 2 3 4 2 3
    v = sub.decode(genes)
    assert v["r"].tolist() == [160, 224] and v["d"][1].tolist() == [2, 3, 4, 2, 3]
    assert v["active"][1].reshape(5, 4).sum(axis=1).tolist() == [2, 3, 4, 2, 3]
