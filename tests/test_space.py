"""Arch specs and search spaces: validation, canonical form, round trips, gene encoding."""

import json

import numpy as np
import pytest

from ofa2_zoo import ArchError, ArchSpec, SearchSpace, SpaceError, get_space
from ofa2_zoo.space import make_divisible

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
    from _oracle import require_oracle

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
