"""Front rules with exact answers, on the embedded digits-cpu front (no assets needed): value
ranges, what a valid front is, its recorded version id, member selection on hand-computed
fronts, file errors, diffs and the comparability check, each message word for word."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

import ofa2_zoo
from ofa2_zoo.front import (FIX_FRONT, MAX_FRONT_BYTES, Front, FrontError, FrontMember, ReferencePoint, SpecializedNet,
                            check_comparable, check_front_values, diff_fronts, objective_range_error)
from ofa2_zoo.front.reference import _parse_specialized

EMBEDDED = Path(ofa2_zoo.__file__).parent / "data" / "zoo" / "digits-cpu"


@pytest.fixture(scope="module")
def front() -> Front:
    return Front.load(EMBEDDED / "front" / "front.json")


def _two_objectives(front: Front, points: list[tuple[float, float]]) -> Front:
    members = [FrontMember(front.members[i].arch, {"latency_ms": lat, "top1": top1})
               for i, (lat, top1) in enumerate(points)]
    return dataclasses.replace(front, members=members,
                               objective_meta={k: front.objective_meta[k] for k in ("latency_ms", "top1")})


@pytest.mark.parametrize("name, unit, value, why", [
    ("top1", None, 150.0, "150 % is outside the valid range [0, 100]"),  # unit from the name
    ("top1", None, -0.5, "-0.5 % is outside the valid range [0, 100]"),
    ("top1", "%", 100.5, "100.5 % is outside the valid range [0, 100]"),
    ("latency_ms", None, 0.0, "0 ms is outside the valid range > 0"),
    ("latency_ms", None, -2.0, "-2 ms is outside the valid range > 0"),
    ("macs_m", "M", -1.5, "-1.5 M is outside the valid range >= 0"),
    ("custom", None, -2.0, "-2 is outside the valid range >= 0"),
    ("top1", "%", float("nan"), "nan is not a finite number"),
    ("latency_ms", "ms", float("inf"), "inf is not a finite number"),
    ("top1", None, 0.0, None), ("top1", "%", 100.0, None), ("latency_ms", None, 1e-6, None),
    ("macs_m", "M", 0.0, None), ("custom", None, 0.0, None), ("params_m", "M", 1e9, None),
])
def test_objective_ranges(name, unit, value, why):
    assert objective_range_error(name, unit, value) == why


def _check(front: Front, members: list[FrontMember], searched=("latency_ms", "top1"), where="f") -> None:
    check_front_values(members, front.objective_meta, list(searched), where)


def test_member_values_are_checked_with_their_units(front):
    arch = front.members[0].arch
    ok = dict(front.members[0].objectives)
    with pytest.raises(FrontError) as exc:
        _check(front, [FrontMember(arch, ok | {"params_m": -1.0})])
    assert str(exc.value) == ("f: field 'members.0.objectives.params_m': -1 M is outside the valid range >= 0 "
                              f"({FIX_FRONT})")
    # an objective outside objective_meta: its unit comes from its name, a long name is clipped to 40 characters
    with pytest.raises(FrontError) as exc:
        _check(front, [FrontMember(arch, ok | {"top1": 50.0, "x" * 60: -3.0})])
    assert str(exc.value) == (f"f: field 'members.0.objectives.{'x' * 37}...': -3 is outside the valid range >= 0 "
                              f"({FIX_FRONT})")
    with pytest.raises(FrontError) as exc:
        check_front_values([FrontMember(arch, {"latency_ms": 1.0, "top1": 101.0})], {}, [], "f")
    assert str(exc.value) == ("f: field 'members.0.objectives.top1': 101 % is outside the valid range [0, 100] "
                              f"({FIX_FRONT})")
    with pytest.raises(FrontError) as exc:
        _check(front, [FrontMember(arch, ok)], searched=("latency_ms", "energy", "watts"))
    assert str(exc.value) == f"f: field 'algorithm.objectives': ['energy', 'watts'] not in objective_meta ({FIX_FRONT})"


def test_dominance_is_checked_on_the_searched_objectives_only(front):
    f = _two_objectives(front, [(1.0, 70.0), (2.0, 60.0)])  # member 1 is dominated
    with pytest.raises(FrontError) as exc:
        _check(f, f.members)
    assert str(exc.value) == ("f: field 'members.1': dominated by member 0 on latency_ms, top1 (a Pareto front holds "
                              f"only non-dominated members; {FIX_FRONT})")
    _check(f, f.members, searched=("latency_ms",))  # one searched objective: nothing to compare
    _check(f, f.members[:1])


def test_the_dominating_member_is_named(front):
    # member 0 is dominated by member 2 only (1 is better on latency alone; 2 ties 0 on latency)
    f = _two_objectives(front, [(2.0, 70.0), (1.0, 60.0), (2.0, 75.0), (3.0, 80.0)])
    with pytest.raises(FrontError, match=r"^f: field 'members.0': dominated by member 2 on latency_ms, top1 "):
        _check(f, f.members)
    # two members with the same values (different networks) are both on the front
    _check(f, _two_objectives(front, [(1.0, 60.0), (1.0, 60.0), (3.0, 80.0)]).members)


def test_version_id_is_the_one_recorded_when_the_front_was_packaged(front):
    recorded = json.loads((EMBEDDED / "package.json").read_text())["front_version_id"]
    assert front.version_id == recorded == "767b72229c8d860ad7d1b47bfed59068d2575b1591c34498b9a7b33797f17aa5"


# Hand-computed selections: each objective is scaled to [0, 1] over the front, members are
# taken nearest to equally spaced points of the path length along the front. For A the scaled
# points are (0, 0), (.05, .625), (.1, .75), (.5, .875), (1, 1): path lengths 0, .627, .762,
# 1.181, 1.696, so k=3 aims at .848 (member 2) and k=4 at .565 and 1.131 (members 1 and 3).
SELECT_CASES = [
    ([(0, 0), (1, 50), (2, 60), (10, 70), (20, 80)], {3: [0, 2, 4], 4: [0, 1, 3, 4]}),  # A
    ([(0, 0), (.001, 50), (.002, 60), (.01, 70), (.02, 80)], {3: [0, 2, 4], 4: [0, 1, 3, 4]}),  # A, latency / 1000
    ([(1, 70), (2, 70), (3, 70), (4, 70), (5, 70)], {3: [0, 2, 4], 4: [0, 1, 3, 4]}),  # one constant objective
]


@pytest.mark.parametrize("points, expected", SELECT_CASES, ids=["scales-differ", "span-below-1", "constant"])
def test_select_on_hand_computed_fronts(front, points, expected):
    f = _two_objectives(front, points)
    assert {k: f.select(k) for k in expected} == expected
    assert f.select(5) == f.select(6) == [0, 1, 2, 3, 4]


def test_save_names_the_folder_of_a_bad_front(front, tmp_path):
    f = _two_objectives(front, [(1.0, 70.0), (2.0, 60.0)])
    with pytest.raises(FrontError) as exc:
        f.save(tmp_path)
    assert str(exc.value).startswith(f"front for {tmp_path}: field 'members.1': dominated by member 0 ")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def saved(front, tmp_path) -> Path:
    shutil.copy(EMBEDDED / "front" / "front.json", tmp_path / "front.json")
    return tmp_path / "front.json"


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_front_file_size_limit(saved):
    with open(saved, "r+b") as fh:
        fh.truncate(MAX_FRONT_BYTES)  # exactly the limit: read (and found not to be JSON)
    with pytest.raises(FrontError, match=r"not valid JSON"):
        Front.load(saved)
    with open(saved, "r+b") as fh:
        fh.truncate(MAX_FRONT_BYTES + 1)
    with pytest.raises(FrontError) as exc:
        Front.load(saved)
    assert str(exc.value) == (f"{saved}: 67,108,865 bytes is too large for a front.json (at most 67,108,864; "
                              f"{FIX_FRONT})")


def test_front_file_errors_word_for_word(saved):
    saved.write_text("[1, 2]")
    with pytest.raises(FrontError) as exc:
        Front.load(saved)
    assert str(exc.value).startswith(f"{saved}: field '(top level)': Input should be a valid dictionary")
    shutil.copy(EMBEDDED / "front" / "front.json", saved)
    _edit(saved, lambda d: d["algorithm"].update(objectives="latency_ms"))
    with pytest.raises(FrontError) as exc:
        Front.load(saved)
    assert str(exc.value) == f"{saved}: field 'algorithm.objectives': not a list ({FIX_FRONT})"
    shutil.copy(EMBEDDED / "front" / "front.json", saved)
    _edit(saved, lambda d: d["members"][3]["objectives"].update(top1=0.0))
    with pytest.raises(FrontError) as exc:
        Front.load(saved)
    assert str(exc.value).startswith(f"{saved}: field 'members.3': dominated by member ")


def test_without_searched_objectives_the_first_two_of_objective_meta_are_used(saved):
    # objective_meta is stored with sorted keys: latency_ms, macs_m, params_m, top1
    def change(d):
        del d["algorithm"]["objectives"]
        d["members"][1]["objectives"].update(latency_ms=d["members"][0]["objectives"]["latency_ms"],
                                             macs_m=d["members"][0]["objectives"]["macs_m"] + 1.0,
                                             params_m=d["members"][0]["objectives"]["params_m"] / 2)
        # member 1: dominated by member 0 on (latency_ms, macs_m), not on all three

    _edit(saved, change)
    with pytest.raises(FrontError, match=r"field 'members.1': dominated by member 0 on latency_ms, macs_m \("):
        Front.load(saved)


def test_a_timing_file_that_is_not_a_mapping_is_ignored(saved, front):
    (saved.parent / "timing.json").write_text("[1, 2]")
    assert Front.load(saved).timing == front.to_dict()["timing"]
    (saved.parent / "timing.json").write_text(json.dumps({"generation_s": [1.0], "wall_time_s": -1}))
    assert Front.load(saved).timing == {"generation_s": [1.0], **front.to_dict()["timing"]}


def test_diff_reports_each_kind_of_change(front):
    members = list(front.members)
    only_removed = diff_fronts(front, dataclasses.replace(front, members=members[1:]))
    only_added = diff_fronts(dataclasses.replace(front, members=members[1:]), front)
    assert not only_removed.unchanged and not only_added.unchanged
    moved = [FrontMember(m.arch, m.objectives | {"top1": m.objectives["top1"] + 1.0}) if i % 10 == 0 else m
             for i, m in enumerate(members)]
    d = diff_fronts(front, dataclasses.replace(front, members=moved, hypervolume=front.hypervolume + 0.25))
    expected = sorted((m.arch for i, m in enumerate(members) if i % 10 == 0), key=lambda a: a.to_string())
    assert [t[0] for t in d.moved] == expected and len(expected) == 10 and not d.unchanged
    first = next(t for t in d.moved if t[0] == expected[0])
    assert d.to_markdown() == "\n".join(
        ["- hypervolume change: +0.2500", "- members added: 0, removed: 0, objective values changed: 10"]
        + [f"  - moved `{a.to_string()}`: {old} → {new}" for a, old, new in d.moved])
    assert first[2]["top1"] == first[1]["top1"] + 1.0


def test_which_fronts_compare_word_for_word(front):
    def refused(new: Front) -> str:
        with pytest.raises(FrontError) as exc:
            check_comparable(front, new, "a.json", "b.json")
        return str(exc.value)

    tail = "; fix: diff two versions of the same profile's front"
    assert refused(dataclasses.replace(front, profile={**front.profile, "id": "other-cpu"})) == (
        "cannot compare a.json and b.json: their profile differs ('digits-cpu' vs 'other-cpu')" + tail)
    assert refused(dataclasses.replace(front, algorithm={**front.algorithm, "objectives": ["latency_ms", "macs_m"]})) \
        == ("cannot compare a.json and b.json: their objectives differs (['latency_ms', 'top1'] vs "
            "['latency_ms', 'macs_m'])" + tail)
    assert refused(dataclasses.replace(front, reference_point={"latency_ms": 1.0, "top1": 0.0})) == (
        "cannot compare a.json and b.json: their reference point differs ({'latency_ms': 0.23885952373272892, "
        "'top1': 0.0} vs {'latency_ms': 1.0, 'top1': 0.0})" + tail)
    other_space = dataclasses.replace(front.space, name="ofa2_digits_2")
    assert refused(dataclasses.replace(front, space=other_space)) == (
        "cannot compare a.json and b.json: their space differs ('ofa2_digits' vs 'ofa2_digits_2')" + tail)
    same_name = dataclasses.replace(front.space, num_classes=front.space.num_classes + 1)
    assert refused(dataclasses.replace(front, space=same_name)) == (
        "cannot compare a.json and b.json: their space differs ('ofa2_digits' (one definition) vs 'ofa2_digits' "
        "(another definition))" + tail)
    long_id = "p" * 80  # quoted in at most 60 characters
    assert refused(dataclasses.replace(front, profile={**front.profile, "id": long_id})) == (
        f"cannot compare a.json and b.json: their profile differs ('digits-cpu' vs '{'p' * 27}...{'p' * 28}')" + tail)
    check_comparable(front, dataclasses.replace(front, seed=7, members=front.members[:3]))
    with pytest.raises(FrontError, match=r"^cannot compare old and new: their profile differs"):
        check_comparable(front, dataclasses.replace(front, profile={"id": "x"}))


def test_a_member_that_lost_an_objective_is_not_reported_as_moved(front):
    lost = [FrontMember(m.arch, {k: v for k, v in m.objectives.items() if k != "macs_m"}) for m in front.members]
    assert diff_fronts(front, dataclasses.replace(front, members=lost)).unchanged


def test_reference_point_dominated_by_is_inclusive_and_needs_both_values(front):
    f = _two_objectives(front, [(1.0, 70.0), (2.0, 75.0), (3.0, 80.0)])
    net = SpecializedNet("note10_lat-20ms_top1-77.0_finetune-75", "ofa_mbv3_w1.0", front.members[0].arch, 77.0, 20.0,
                         None)
    assert ReferencePoint(net, 2.5, 2.5, 72.0).dominated_by(f) == [1]
    assert ReferencePoint(net, 2.0, 2.0, 75.0).dominated_by(f) == [1]  # as fast and as accurate counts
    assert ReferencePoint(net, 3.0, 3.0, 60.0).dominated_by(f) == [0, 1, 2]
    assert ReferencePoint(net, 0.5, 0.5, 60.0).dominated_by(f) == []
    assert ReferencePoint(net, 3.0, 3.0, None).dominated_by(f) == []
    assert ReferencePoint(net, None, None, 60.0).dominated_by(f) == []


def _net_config(stem: int, widths: tuple[int, ...], depths: tuple[int, ...], key: str = "mobile_inverted_conv") -> dict:
    blocks = [{key: {"out_channels": stem, "kernel_size": 3, "expand_ratio": 1}}]  # OFA's fixed first block
    for s, (width, depth) in enumerate(zip(widths, depths)):
        blocks += [{key: {"out_channels": width, "kernel_size": (3, 5, 7)[(s + b) % 3],
                          "expand_ratio": (3, 4, 6)[b % 3]}} for b in range(depth)]
    return {"first_conv": {"out_channels": stem}, "blocks": blocks}


def test_published_net_configs_parse_into_their_space():
    w10, w12 = (16, (24, 40, 80, 112, 160)), (24, (32, 48, 96, 136, 192))  # stem and stage widths of each space
    depths = (2, 3, 4, 2, 3)
    net = _parse_specialized("note10_lat-22ms_top1-70.5_finetune-25", _net_config(*w10, depths), {"image_size": 176})
    assert (net.space, net.published_latency_ms, net.published_top1, net.published_flops_m) == ("ofa_mbv3_w1.0", 22.0,
                                                                                               70.5, None)
    assert net.arch.d == depths and net.arch.r == 176
    assert net.arch.ks[:4] == (3, 5, 3, 3) and net.arch.e[:4] == (3, 4, 3, 3)  # stage 0: two blocks, then padding
    older = _parse_specialized("note10_lat-23ms_top1-71.0_x", _net_config(*w12, depths, key="conv"),
                               {"image_size": [236]})  # older configs call the block "conv"
    assert (older.space, older.arch.d, older.arch.r) == ("ofa_mbv3_w1.2", depths, 236)
    flops = _parse_specialized("flops-595M_top1-80.0_finetune-75", _net_config(*w12, depths), {"image_size": 224})
    assert (flops.space, flops.published_flops_m, flops.published_latency_ms) == ("ofa_mbv3_w1.2", 595.0, None)
    with pytest.raises(FrontError) as exc:
        _parse_specialized("bogus_top1-1", _net_config(*w12, depths), {"image_size": 224})
    assert str(exc.value) == "not an OFA specialized-net id: 'bogus_top1-1'"
    with pytest.raises(FrontError) as exc:
        _parse_specialized("note10_lat-8ms_top1-71.4_finetune-25", _net_config(*w12, depths), {"image_size": 224})
    assert str(exc.value) == "note10_lat-8ms_top1-71.4_finetune-25: stem width 24 does not match ofa_mbv3_w1.0"
    wrong = _net_config(*w12, depths)
    wrong["blocks"].append({"mobile_inverted_conv": {"out_channels": 7, "kernel_size": 3, "expand_ratio": 3}})
    with pytest.raises(FrontError) as exc:
        _parse_specialized("flops-1M_top1-1.0_x", wrong, {"image_size": 224})
    assert str(exc.value) == "flops-1M_top1-1.0_x: blocks do not follow the stage widths of ofa_mbv3_w1.2"


def test_reference_points_only_for_profiles_with_ofas_note10_tables(front, tmp_path):
    from ofa2_zoo.front import reference_points

    assert reference_points(front) == []  # digits-cpu: our own table
    assert reference_points(dataclasses.replace(front, profile={"id": "cpu-torch"})) == []  # measured: no table
    assert reference_points(dataclasses.replace(front, profile={"id": "no-such-profile"})) == []
    other = (Path(__file__).resolve().parents[1] / "hardware_profiles" / "note10.yaml").read_text()
    other = other.replace("asset_prefix: note10", "asset_prefix: pixel1").replace("id: note10", "id: pixel1")
    (tmp_path / "pixel1.yaml").write_text(other)
    assert reference_points(dataclasses.replace(front, profile={"id": str(tmp_path / "pixel1.yaml")})) == []
    assert reference_points(dataclasses.replace(front, objective_meta={"latency_ms": {}, "macs_m": {}})) == []


def test_loaded_fronts_keep_their_package_version_and_searched_objectives(saved, front):
    _edit(saved, lambda d: d.update(package_version="0.0.1"))
    assert Front.load(saved).package_version == "0.0.1" != ofa2_zoo.__version__
    assert front.searched_objectives == ["latency_ms", "top1"]
    assert dataclasses.replace(front, algorithm={}).searched_objectives == ["latency_ms", "macs_m"]
