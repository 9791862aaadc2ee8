"""The explorer page's data read back and compared with the front it came from (the embedded
digits-cpu front, no assets, no package built): every field of ``explorer_data``, the axes of
fronts without latency or top-1, references placed or not, the previous version (same front:
left out), packaged members at the ends of the front and just past them, and the page's JSON
escaped and read back unchanged through ``write_explorer``/``read_data``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import ofa2_zoo
from ofa2_zoo.explorer import (DATA_FORMAT, ExplorerError, PackagedMember, explorer_data, plot_axes, read_data,
                               render_explorer, timm_snippet, with_packaged, with_previous, write_explorer)
from ofa2_zoo.front import Front, FrontMember, ReferencePoint, SpecializedNet

EMBEDDED = Path(ofa2_zoo.__file__).parent / "data" / "zoo" / "digits-cpu"


@pytest.fixture
def front() -> Front:
    return Front.load(EMBEDDED / "front" / "front.json")


def _with_objectives(front: Front, names: list[str]) -> Front:
    """The front with only ``names`` as its objectives, in that order."""
    meta = {n: front.objective_meta[n] for n in names}
    members = [FrontMember(m.arch, {n: m.objectives[n] for n in names}) for m in front.members]
    return dataclasses.replace(front, objective_meta=meta, members=members)


def test_every_field_is_the_fronts_own(front):
    data = explorer_data(front)
    assert data["format"] == DATA_FORMAT == "ofa2-explorer/1"
    assert data["title"] == "digits-cpu front" and data["profile"] == front.profile_id == "digits-cpu"
    assert data["version"] == front.version_id
    assert data["algorithm"] == {k: front.algorithm[k] for k in ("name", "population", "generations")}
    assert (data["seed"], data["evaluations"], data["hypervolume"]) == (front.seed, front.evaluations,
                                                                        front.hypervolume)
    assert data["space"] == front.space.name == "ofa2_digits"
    assert data["accuracy"] == front.accuracy["id"] and data["supernet"] == front.supernet["id"]
    assert data["latency_by"] == front.profile["latency_by"] and data["latency_by"]
    assert data["package_version"] == ofa2_zoo.__version__
    for axis, key in (("x", "latency_ms"), ("y", "top1")):
        meta = front.objective_meta[key]
        assert data["axes"][axis] == {"key": key, "label": {"latency_ms": "latency", "top1": "top-1"}[key],
                                      "unit": meta["unit"], "source": meta["source"], "direction": meta["direction"]}
    assert data["objectives"] == {k: {"label": {"latency_ms": "latency", "top1": "top-1", "macs_m": "MACs",
                                                "params_m": "parameters"}.get(k, k), **v}
                                  for k, v in front.objective_meta.items()}
    assert len(data["members"]) == len(front.members) >= 5
    for i, (row, m) in enumerate(zip(data["members"], front.members, strict=True)):
        assert row == {"index": i, "arch": m.arch.to_string(), "resolution": m.arch.r, "objectives": m.objectives,
                       "packaged": None}
    assert data["population"] == [{"x": p["latency_ms"], "y": p["top1"]} for p in front.population]
    assert data["references"] == [] and data["previous"] is None
    assert explorer_data(front, title="mine")["title"] == "mine"


def test_population_points_lacking_an_axis_are_left_out(front):
    front = dataclasses.replace(front, population=[{"latency_ms": 1.0, "top1": 50.0}, {"latency_ms": 2.0},
                                                   {"top1": 3.0}, {"latency_ms": 4.0, "top1": 60.0, "macs_m": 1.0}])
    assert explorer_data(front)["population"] == [{"x": 1.0, "y": 50.0}, {"x": 4.0, "y": 60.0}]


def test_latency_by_only_when_latency_was_searched(front):
    assert explorer_data(front)["latency_by"] == front.profile["latency_by"]
    no_latency = _with_objectives(front, ["top1", "macs_m"])
    assert explorer_data(no_latency)["latency_by"] is None


def test_axes_of_fronts_without_latency_or_top1(front):
    assert plot_axes(front) == ("latency_ms", "top1")
    assert plot_axes(_with_objectives(front, ["top1", "latency_ms"])) == ("latency_ms", "top1")
    assert plot_axes(_with_objectives(front, ["macs_m", "top1"])) == ("macs_m", "top1")
    assert plot_axes(_with_objectives(front, ["top1", "macs_m"])) == ("macs_m", "top1")  # was top-1 on both axes
    assert plot_axes(_with_objectives(front, ["params_m", "latency_ms", "macs_m"])) == ("latency_ms", "params_m")
    data = explorer_data(_with_objectives(front, ["macs_m", "params_m"]))
    assert data["axes"]["x"]["label"] == "MACs" and data["axes"]["y"]["label"] == "parameters"


def _ref(label: str, latency, top1, high=None, published_latency=7.5) -> ReferencePoint:
    from ofa2_zoo.space import ArchSpec, DIGITS_SPACE

    arch = DIGITS_SPACE.genes_to_archs(DIGITS_SPACE.sample_genes(1, rng=len(label)))[0]
    net = SpecializedNet(f"net-{label}", "ofa2_digits", arch, 70.0, published_latency, 100.0)
    assert isinstance(arch, ArchSpec)
    return ReferencePoint(net, latency, high, top1)


def test_references_placed_unplaced_and_skipped(front):
    refs = [_ref("a", 1.5, 80.0), _ref("bb", 1.5, 80.0, high=2.5), _ref("ccc", None, 80.0),
            _ref("dddd", 1.0, None, published_latency=None), _ref("eeeee", None, None)]
    data = explorer_data(front, references=refs)
    rows = {r["id"]: r for r in data["references"]}
    assert list(rows) == ["net-a", "net-bb", "net-ccc", "net-eeeee"]  # dddd: not placed and no published latency
    a = rows["net-a"]
    assert a == {"label": refs[0].label, "id": "net-a", "space": "ofa2_digits", "resolution": refs[0].net.arch.r,
                 "x": 1.5, "x_high": 1.5, "y": 80.0, "published": {"x": 7.5, "y": 70.0}}
    assert rows["net-bb"]["x_high"] == 2.5 and rows["net-bb"]["x"] == 1.5
    assert (rows["net-ccc"]["x"], rows["net-ccc"]["x_high"], rows["net-ccc"]["y"]) == (None, None, None)
    # references only on a latency/top-1 plot
    assert explorer_data(_with_objectives(front, ["macs_m", "top1"]), references=refs)["references"] == []
    assert explorer_data(_with_objectives(front, ["latency_ms", "macs_m"]), references=refs)["references"] == []


def test_previous_version_in_grey_unless_it_is_the_same_front(front):
    older = dataclasses.replace(front, members=front.members[:3])
    data = explorer_data(front, previous=("v1", older))
    assert data["previous"] == {"label": "v1", "version": older.version_id,
                                "points": [{"x": m.objectives["latency_ms"], "y": m.objectives["top1"],
                                            "arch": m.arch.to_string()} for m in older.members]}
    assert explorer_data(front, previous=("v1", front))["previous"] is None
    plain = explorer_data(front)
    assert with_previous(plain, "v2", older)["previous"] == {**data["previous"], "label": "v2"}
    assert with_previous(data, "v1", front)["previous"] is None
    other = _with_objectives(older, ["macs_m", "params_m"])
    with pytest.raises(ExplorerError) as err:
        explorer_data(front, previous=("v0", other))
    assert str(err.value) == "the previous front (v0) has no 'latency_ms'/'top1' objectives to compare with"
    with pytest.raises(ExplorerError):
        with_previous(plain, "v0", _with_objectives(older, ["latency_ms", "macs_m"]))


def _packaged(indices, hub=None) -> list[PackagedMember]:
    return [PackagedMember(i, k, f"ofa2_digits_cpu_front_{k}", timm_snippet(f"ofa2_digits_cpu_front_{k}", hub),
                           {"top1": 80.0 + k, "latency_ms": 0.01 * (k + 1)}, hub,
                           {"onnxruntime": 0.02 * (k + 1), "litert": 0.01 * (k + 1)} if k == 0 else {})
            for k, i in enumerate(indices)]


def test_packaged_members_at_both_ends_and_one_past(front):
    n = len(front.members)
    packaged = _packaged([0, n - 1], hub="me/repo")
    data = explorer_data(front, packaged=packaged)
    rows = [m["packaged"] for m in data["members"]]
    assert rows[0] == {"k": 0, "name": "ofa2_digits_cpu_front_0", "measured": {"top1": 80.0, "latency_ms": 0.01},
                       "snippet": packaged[0].snippet, "hub_repo": "me/repo",
                       "runtimes": {"onnxruntime": 0.02, "litert": 0.01}}
    assert rows[-1]["k"] == 1 and rows[-1]["runtimes"] == {} and rows[1:-1] == [None] * (n - 2)
    for bad in (n, -1):
        with pytest.raises(ExplorerError) as err:
            explorer_data(front, packaged=_packaged([bad]))
        assert str(err.value) == f"packaged member ofa2_digits_cpu_front_0 is front member {bad}, but the front has {n} members"
    again = with_packaged(data, _packaged([2]), title="published")
    assert [m["packaged"]["k"] if m["packaged"] else None for m in again["members"]] == [None, None, 0] + [None] * (n - 3)
    assert again["title"] == "published" and with_packaged(data, [])["title"] == data["title"]
    with pytest.raises(ExplorerError):
        with_packaged(data, _packaged([n]))


def test_the_snippet_loads_the_name_and_names_the_hub_repo():
    assert timm_snippet("ofa2_x_front_1") == ("import timm\nimport ofa2_zoo  # registers the names\n\n"
                                             "model = timm.create_model(\n    \"ofa2_x_front_1\",\n    pretrained=True,\n"
                                             ").eval()")
    assert timm_snippet("ofa2_x_front_1", "me/r").endswith(
        ").eval()\n# the same weights straight from its Hub repo:\n"
        "# timm.create_model(\"hf-hub:me/r\", pretrained=True)")


def test_the_page_carries_the_data_unchanged_and_escaped(front, tmp_path):
    hostile = '</script><!-- & \u2028 \u2029 >'
    path = write_explorer(front, tmp_path / "index.html", packaged=_packaged([0]), title=hostile)
    html = path.read_text(encoding="utf-8")
    data = explorer_data(front, packaged=_packaged([0]), title=hostile)
    assert read_data(html) == json.loads(json.dumps(data))
    blob = html.split('id="front-data">', 1)[1].split("</script>", 1)[0]
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        assert char not in blob
    assert "\\u003c/script\\u003e" in blob and "\\u0026" in blob and "\\u2028" in blob and "\\u2029" in blob
    assert render_explorer(data) == html  # deterministic
    with pytest.raises(ExplorerError) as err:
        render_explorer({**data, "hypervolume": float("nan")})
    assert str(err.value).startswith("explorer data is not valid JSON: ")


@pytest.mark.parametrize("html, message", [
    ("<html></html>", "not an ofa2 front explorer page (no front-data element)"),
    ('<script type="application/json" id="front-data">{</script>', "the explorer page's data is not valid JSON: "),
    ('<script type="application/json" id="front-data">[]</script>', "the explorer page's data is not ofa2-explorer/1"),
    ('<script type="application/json" id="front-data">{"format": "x"}</script>',
     "the explorer page's data is not ofa2-explorer/1")])
def test_read_data_refuses_other_pages(html, message):
    with pytest.raises(ExplorerError) as err:
        read_data(html)
    assert str(err.value).startswith(message)


def test_packaged_members_keep_each_members_front_index_and_k_apart():
    """The shipped Fashion-MNIST package: 5 of 100 front members, so front index and package k
    differ; the explorer's rows carry each from the manifest (a swap highlights another member)."""
    from ofa2_zoo.package import read_manifest
    from ofa2_zoo.package.plots import packaged_members
    from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR

    manifest = read_manifest(EMBEDDED_ZOO_DIR / "fmnist-cpu")
    rows = packaged_members(manifest)
    assert [(r.front_index, r.k, r.name) for r in rows] == [(m.front_index, m.k, m.name) for m in manifest.members]
    assert any(m.front_index != m.k for m in manifest.members)
