"""Front artifacts: front.json contract, validation on load, selection rule, version ids,
diffs, plots, and OFA's published specialized nets as reference points."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from ofa2_zoo.front import (Front, FrontError, FrontMember, diff_fronts, load_specialized, plot_front,
                            reference_points)
from ofa2_zoo.search import search

from _search_helpers import ASSETS, needs_assets, official_note10_lut_sha256, official_sha256

NOTE10_YAML = Path(__file__).resolve().parents[1] / "hardware_profiles" / "note10.yaml"

pytestmark = needs_assets


@pytest.fixture(scope="module")
def front() -> Front:
    return search("note10", algorithm="nsga2", population=24, generations=8, seed=1, assets=ASSETS)


def test_front_json_follows_the_contract(front, tmp_path):
    path = front.save(tmp_path)
    data = json.loads(path.read_text())
    assert {"members", "objective_meta", "hypervolume", "reference_point", "algorithm", "seed", "evaluations",
            "timing", "space", "profile", "supernet", "accuracy", "package_version"} <= set(data)
    m = data["members"][0]
    assert set(m["arch"]) == {"ks", "e", "d", "r"} and len(m["arch"]["ks"]) == 20 and m["arch"]["r"][0] in range(160, 225)
    assert {"top1", "latency_ms", "macs_m", "params_m"} <= set(m["objectives"])
    assert data["objective_meta"]["top1"] == {"unit": "%", "source": "predicted", "direction": "max"}
    assert data["objective_meta"]["latency_ms"]["source"] == "lookup-table"
    assert data["reference_point"] == {"latency_ms": 100.0, "top1": 75.0}
    # provenance: the profile file's sha256, the official tables' and predictor's (from the assets' SHA256SUMS)
    assert data["profile"] == {"id": "note10", "sha256": hashlib.sha256(NOTE10_YAML.read_bytes()).hexdigest(),
                               "lut_sha256": official_note10_lut_sha256(),
                               "latency_by": "OFA's published lookup table (note10)", "latency_calibration": None}
    assert data["accuracy"] == {"id": "ofa-acc-predictor-mbv3-w1.2", "sha256": official_sha256("acc_predictor.pth"),
                                "source": "predicted"}
    assert data["space"]["stage_widths"] == [32, 48, 96, 136, 192]
    assert data["algorithm"]["name"] == "nsga2" and data["algorithm"]["population"] == 24
    assert list(data)[-1] == "timing" and set(data["timing"]) == {"wall_time_s"}
    lat = [mm["objectives"]["latency_ms"] for mm in data["members"]]
    assert lat == sorted(lat)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_load_round_trip(front, tmp_path):
    front.save(tmp_path)
    loaded = Front.load(tmp_path)
    assert loaded.to_dict() | {"timing": None} == front.to_dict() | {"timing": None}
    assert loaded.version_id == front.version_id
    assert loaded.timing["generation_s"] == front.timing["generation_s"]  # from timing.json
    assert Front.load(tmp_path / "front.json").members == front.members


@pytest.mark.parametrize("mutate,message", [
    (lambda d: "{not json", "not valid JSON"),
    (lambda d: {k: v for k, v in d.items() if k != "members"}, "field 'members': Field required"),
    (lambda d: d | {"format": "other/9"}, "field 'format'"),
    (lambda d: d | {"members": [{"arch": {"ks": [3]}, "objectives": {}}]}, "field .members.0"),
    (lambda d: d | {"members": [{"arch": d["members"][0]["arch"], "objectives": {"top1": 1.0}}]},
     "lacks objective"),
    (lambda d: d | {"space": d["space"] | {"stage_widths": []}}, "field 'space'"),
    (lambda d: d | {"hypervolume": "big"}, "field 'hypervolume'"),
])
def test_corrupt_front_files_give_one_line_errors(front, tmp_path, mutate, message):
    data = front.to_dict()
    bad = mutate(data)
    (tmp_path / "front.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(FrontError, match=message) as exc:
        Front.load(tmp_path)
    assert "\n" not in str(exc.value)
    with pytest.raises(FrontError, match="no front at"):
        Front.load(tmp_path / "missing")


def _synthetic(n: int, base: Front) -> Front:
    archs = base.space.sample(n, 0)
    members = [FrontMember(a, {"latency_ms": 10.0 + i, "top1": 70.0 + i}) for i, a in enumerate(archs)]
    return dataclasses.replace(base, members=members, objective_meta={k: base.objective_meta[k]
                                                                        for k in ("latency_ms", "top1")})


def test_select_spreads_along_the_front_with_both_ends(front):
    f = _synthetic(11, front)
    assert f.select(3) == [0, 5, 10]
    assert f.select(6) == [0, 2, 4, 6, 8, 10]
    assert f.select(11) == f.select(50) == list(range(11))
    assert f.select(1) == [0] and f.select(0) == []
    for k in range(2, len(front.members) + 1):
        s = front.select(k)
        assert len(s) == k and s[0] == 0 and s[-1] == len(front.members) - 1 and s == sorted(set(s))


def test_version_id_and_diff(front):
    same = dataclasses.replace(front, seed=99, timing={}, history=[])
    assert same.version_id == front.version_id
    assert diff_fronts(front, same).unchanged
    members = list(front.members)
    moved = FrontMember(members[1].arch, members[1].objectives | {"top1": members[1].objectives["top1"] + 0.5})
    new_arch = next(a for a in front.space.sample(50, 9) if a not in {m.arch for m in members})
    changed = dataclasses.replace(front, members=[members[0], moved] + members[3:] + [
        FrontMember(new_arch, members[-1].objectives)], hypervolume=front.hypervolume + 1.0)
    d = diff_fronts(front, changed)
    assert d.added == [new_arch] and d.removed == [members[2].arch]
    assert [m[0] for m in d.moved] == [members[1].arch]
    assert d.hypervolume_change == pytest.approx(1.0)
    assert changed.version_id != front.version_id
    assert "members added: 1, removed: 1" in d.to_markdown()


def _with_value(front: Front, i: int, name: str, value: float) -> Front:
    members = list(front.members)
    members[i] = FrontMember(members[i].arch, members[i].objectives | {name: value})
    return dataclasses.replace(front, members=members)


@pytest.mark.parametrize("name", ["latency_ms", "top1", "macs_m", "params_m"])
def test_version_id_changes_with_any_members_objective_value(front, name):
    """Same archs, one value moved: another front (its card and plot would differ)."""
    last = len(front.members) - 1
    for i in (0, last):
        old = front.members[i].objectives[name]
        for new in (old + 0.5, old * (1 + 1e-12), -old):
            assert _with_value(front, i, name, new).version_id != front.version_id, (i, new)
    # the same values in new objects (and another dict order) give the same id
    copied = dataclasses.replace(front, members=[FrontMember(m.arch, dict(reversed(list(m.objectives.items()))))
                                                 for m in front.members])
    assert copied.version_id == front.version_id


def test_version_id_changes_with_the_profile_alone(front):
    """The same members searched for another profile are another front (their latencies mean another
    device), and get another version id."""
    other = dataclasses.replace(front, profile={**front.profile, "id": front.profile_id + "-other"})
    assert other.profile_id == front.profile_id + "-other" and other.version_id != front.version_id
    assert dataclasses.replace(other, profile=dict(front.profile)).version_id == front.version_id


def test_specialized_nets_parse_into_the_right_space():
    nets = {n.id: n for n in load_specialized(ASSETS)}
    assert len(nets) == 11
    for net_id, net in nets.items():
        cfg = json.loads((ASSETS / "specialized" / net_id / "net.config").read_text())
        blocks = [b["mobile_inverted_conv"] for b in cfg["blocks"][1:]]
        assert sum(net.arch.d) == len(blocks)
        assert [net.arch.ks[i] for i in net.arch.active_blocks()] == [b["kernel_size"] for b in blocks]
        lat = net.published_latency_ms
        assert net.space == ("ofa_mbv3_w1.0" if lat is not None and lat <= 22 else "ofa_mbv3_w1.2")
    assert nets["note10_lat-41ms_top1-79.3_finetune-75"].arch.r == 220
    assert nets["flops-595M_top1-80.0_finetune-75"].published_flops_m == 595.0


def test_reference_points_and_plot(front, tmp_path):
    refs = {r.net.id: r for r in reference_points(front, ASSETS)}
    assert set(refs) == {n.id for n in load_specialized(ASSETS) if n.published_latency_ms is not None}
    r30 = refs["note10_lat-30ms_top1-78.4_finetune-75"]  # w1.2 at 224: a table exists
    assert r30.latency_ms == r30.latency_ms_high and 25 < r30.latency_ms < 35 and 75 < r30.top1 < 85
    r41 = refs["note10_lat-41ms_top1-79.3_finetune-75"]  # 220: between the 208 and 224 tables
    assert r41.latency_ms < r41.latency_ms_high
    assert refs["note10_lat-64ms_top1-80.2_finetune-75"].top1 is None  # 260: outside the predictor
    assert refs["note10_lat-8ms_top1-71.4_finetune-25"].latency_ms is None  # a w1.0 net
    dom = r30.dominated_by(front)
    lat, top1 = front.values("latency_ms"), front.values("top1")
    assert all(lat[i] <= r30.latency_ms and top1[i] >= r30.top1 for i in dom)
    png = plot_front(front, tmp_path / "front.png", references=list(refs.values()), packaged=[0, 1])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_points_without_a_usable_accuracy_predictor(front):
    """No accuracy id, a predictor of another checksum, a supernet without one: latency is still
    placed, top-1 never (a wrong predictor must not score OFA's nets)."""
    placed = {r.net.id: (r.latency_ms, r.latency_ms_high) for r in reference_points(front, ASSETS)}
    for changed in (dataclasses.replace(front, accuracy={"id": None}),
                    dataclasses.replace(front, accuracy={**front.accuracy, "sha256": "0" * 64}),
                    dataclasses.replace(front, supernet={**front.supernet, "id": "no_such_supernet"})):
        refs = reference_points(changed, ASSETS)
        assert {r.net.id: (r.latency_ms, r.latency_ms_high) for r in refs} == placed
        assert [r.top1 for r in refs] == [None] * len(placed)


def test_a_package_or_run_folder_is_read_from_its_front_subfolder(front, tmp_path):
    """`ofa2 front show out/package` (or `out`) finds front/front.json; a front.json right in the
    folder wins over the sub-folder's; neither is a one-line error naming both places."""
    front.save(tmp_path / "pkg" / "front")
    assert Front.load(tmp_path / "pkg").version_id == front.version_id
    other = _synthetic(3, front)
    other.save(tmp_path / "pkg")
    assert Front.load(tmp_path / "pkg").version_id == other.version_id != front.version_id
    (tmp_path / "empty" / "front").mkdir(parents=True)
    with pytest.raises(FrontError) as exc:
        Front.load(tmp_path / "empty")
    assert str(exc.value) == (f"no front at {tmp_path / 'empty' / 'front.json'} (expected a folder with front.json, "
                              "a package or `ofa2 run` folder with front/front.json, or the file itself)")
