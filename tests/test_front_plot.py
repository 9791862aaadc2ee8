"""What ``plot_front`` draws, element by element, read back from the matplotlib figure it made
(the embedded digits-cpu front: no assets needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.markers import MarkerStyle

import ofa2_zoo
from ofa2_zoo.front import Front, ReferencePoint, SpecializedNet, plot_front

EMBEDDED = Path(ofa2_zoo.__file__).parent / "data" / "zoo" / "digits-cpu" / "front" / "front.json"


@pytest.fixture
def figures(monkeypatch):
    """Every figure plot_front draws, kept for inspection."""
    import ofa2_zoo._plot as plot_module

    kept, make = [], plot_module.figure

    def keep(*size):
        fig, ax = make(*size)
        kept.append(fig)
        return fig, ax

    monkeypatch.setattr(plot_module, "figure", keep)
    return kept


def _net(net_id: str, front: Front, top1: float | None, latency: float | None) -> SpecializedNet:
    return SpecializedNet(net_id, "ofa_mbv3_w1.2", front.members[0].arch, top1, latency, None)


def _by_label(ax) -> dict:
    return {c.get_label(): c for c in ax.collections}


def _style(c) -> tuple:
    """(offsets, sizes, face colour, edge colour, line width, z-order) of a scatter."""
    face = tuple(c.get_facecolor()[0]) if len(c.get_facecolor()) else "none"
    return (c.get_offsets().tolist(), c.get_sizes().tolist(), face, tuple(c.get_edgecolor()[0]),
            c.get_linewidths().tolist(), c.get_zorder())


def _shape(path) -> list:
    """A marker's outline whatever its scale."""
    v = path.vertices
    return np.round(v / np.abs(v).max(), 6).tolist()


def test_every_element_of_a_front_plot(figures, tmp_path):
    front = Front.load(EMBEDDED)
    xs, ys = front.values("latency_ms"), front.values("top1")
    population = [{"latency_ms": 0.05, "top1": 60.0}, {"latency_ms": 0.06, "top1": 61.5}]
    front = dataclasses.replace(front, population=population)
    refs = [ReferencePoint(_net("note10_lat-20ms_top1-77.0_finetune-75", front, 77.0, 20.0), 0.04, 0.045, 80.0),
            ReferencePoint(_net("note10_lat-30ms_top1-78.4_finetune-75", front, 78.4, 30.0), 0.07, 0.07, 81.0),
            ReferencePoint(_net("flops-595M_top1-80.0_finetune-75", front, 80.0, None), None, None, None),
            ReferencePoint(_net("note10_lat-25ms_top1-70.0_x", front, 70.0, 25.0), 0.05, None, None),  # no top1: not placed
            ReferencePoint(_net("note10_lat-26ms_top1-70.0_x", front, 70.0, 26.0), None, None, 79.0)]  # no latency
    out = tmp_path / "front.png"
    assert plot_front(front, out, highlight=1, packaged=[0, 2], references=refs) == out
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"Matplotlib" not in png  # no version stamp: stable bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.png"]  # written atomically
    (fig,) = figures
    ax = fig.axes[0]
    assert fig.get_size_inches().tolist() == [7.0, 4.8]
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (840, 576)  # at 120 dpi
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("latency_ms (ms, lookup-table)", "top1 (%, predicted)")
    assert ax.get_title() == f"digits-cpu: pals front, HV {front.hypervolume:.4g}" == "digits-cpu: pals front, HV 20.05"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "final population (dominated)", f"front ({len(xs)} members)", "packaged (2, labelled k of ..._front_k)",
        "member 1", "OFA specialized nets (predicted)", "OFA specialized nets (published: device, fine-tuned)"]
    assert legend._loc == 4 and legend.get_texts()[0].get_fontsize() == 7  # lower right
    assert all(line.get_visible() and line.get_alpha() == 0.3 for line in ax.get_xgridlines() + ax.get_ygridlines())

    c = _by_label(ax)
    member = lambda i: [float(xs[i]), float(ys[i])]  # noqa: E731
    blue, green, orange = to_rgba("tab:blue"), to_rgba("tab:green"), to_rgba("tab:orange")
    assert _style(c["final population (dominated)"]) == ([[0.05, 60.0], [0.06, 61.5]], [9.0], to_rgba("lightgrey"),
                                                         to_rgba("lightgrey"), [1.0], 1)
    assert _style(c[f"front ({len(xs)} members)"]) == ([member(i) for i in range(len(xs))], [16.0], blue, blue,
                                                       [1.0], 3)
    assert _style(c["packaged (2, labelled k of ..._front_k)"]) == ([member(0), member(2)], [36.0], green, green,
                                                                    [1.0], 4)
    assert _style(c["member 1"]) == ([member(1)], [120.0], "none", to_rgba("red"), [2.0], 4)
    stars = [s for s in ax.collections if s.get_label().startswith("_")]
    assert [_style(s) for s in stars] == [([[0.04, 80.0]], [110.0], orange, orange, [1.0], 5),
                                         ([[0.07, 81.0]], [110.0], orange, orange, [1.0], 5)]
    assert _style(c["OFA specialized nets (predicted)"]) == ([], [90.0], orange, orange, [1.0], 1)
    grey = to_rgba("dimgrey")
    assert _style(c["OFA specialized nets (published: device, fine-tuned)"]) == (
        [[20.0, 77.0], [30.0, 78.4], [25.0, 70.0], [26.0, 70.0]], [30.0], grey, grey, [1.0], 4)
    star, triangle = _shape(MarkerStyle("*").get_path()), _shape(MarkerStyle("^").get_path())
    assert star != triangle
    assert [_shape(s.get_paths()[0]) for s in stars] == [star, star]
    assert _shape(c["OFA specialized nets (predicted)"].get_paths()[0]) == star
    assert _shape(c["OFA specialized nets (published: device, fine-tuned)"].get_paths()[0]) == triangle

    step, bar = ax.lines  # the front as a step line; one latency bar (only the net with an interval has one)
    assert (step.get_xdata().tolist(), step.get_ydata().tolist()) == (xs.tolist(), ys.tolist())
    assert (step.get_drawstyle(), step.get_color(), step.get_linewidth()) == ("steps-post", "tab:blue", 1.0)
    assert (list(bar.get_xdata()), list(bar.get_ydata())) == ([0.04, 0.045], [80.0, 80.0])
    assert (bar.get_color(), bar.get_linewidth(), bar.get_zorder()) == ("tab:orange", 1.5, 4)

    texts = [(t.get_text(), tuple(map(float, t.xy)), t.get_position(), t.get_fontsize(), t.get_color(), t.anncoords)
             for t in ax.texts]
    assert texts == [("0", tuple(member(0)), (5, -11), 9.0, "tab:green", "offset points"),
                     ("1", tuple(member(2)), (5, -11), 9.0, "tab:green", "offset points"),
                     ("lat-20ms", (0.04, 80.0), (4, 5), 7.0, "tab:orange", "offset points"),
                     ("lat-30ms", (0.07, 81.0), (4, 5), 7.0, "tab:orange", "offset points")]


def test_a_plain_plot_and_other_axes(figures, tmp_path):
    front = Front.load(EMBEDDED)
    plot_front(front, tmp_path / "plain.png")
    ax = figures[-1].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"front ({len(front.members)} members)"]
    assert len(ax.lines) == 1 and not ax.texts
    # without top1 the second objective is the y axis; OFA's published points need latency and top1
    published_only = [ReferencePoint(_net("note10_lat-20ms_top1-77.0_finetune-75", front, 77.0, 20.0), None, None,
                                     None)]
    meta = {k: front.objective_meta[k] for k in ("latency_ms", "macs_m")}
    plot_front(dataclasses.replace(front, objective_meta=meta), tmp_path / "lat_macs.png", references=published_only,
               title="a title")
    ax = figures[-1].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("latency_ms (ms, lookup-table)",
                                                                 "macs_m (M, analytic)", "a title")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"front ({len(front.members)} members)"]
    assert ax.collections[0].get_offsets().tolist() == np.column_stack(
        [front.values("latency_ms"), front.values("macs_m")]).tolist()
    meta = {k: front.objective_meta[k] for k in ("macs_m", "top1")}
    plot_front(dataclasses.replace(front, objective_meta=meta), tmp_path / "macs_top1.png", references=published_only)
    ax = figures[-1].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("macs_m (M, analytic)", "top1 (%, predicted)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"front ({len(front.members)} members)"]
    # latency and top1 are the axes wherever they sit in objective_meta
    meta = {k: front.objective_meta[k] for k in ("top1", "macs_m", "latency_ms")}
    plot_front(dataclasses.replace(front, objective_meta=meta), tmp_path / "reordered.png")
    ax = figures[-1].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("latency_ms (ms, lookup-table)", "top1 (%, predicted)")


def test_a_placed_net_without_a_latency_interval_has_no_bar(figures, front_with_one_net, tmp_path):
    front, ref = front_with_one_net
    plot_front(front, tmp_path / "one.png", references=[ref])
    ax = figures[-1].axes[0]
    assert len(ax.lines) == 1 and [t.get_text() for t in ax.texts] == ["lat-20ms"]


@pytest.fixture
def front_with_one_net():
    front = Front.load(EMBEDDED)
    return front, ReferencePoint(_net("note10_lat-20ms_top1-77.0_finetune-75", front, 77.0, 20.0), 0.04, None, 80.0)
