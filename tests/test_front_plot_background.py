"""``BackgroundPlot``: `ofa2 search` draws its PNG in a child process that imports matplotlib
while the search runs. The child's PNG is byte for byte the in-process one; when the child cannot
start, fails or hangs, the plot is drawn in this process instead; leaving without a plot stops
the child. The child is sent the front's chart (plain data), so it imports nothing of ofa2_zoo but
the drawing module."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ofa2_zoo._plot as plot_module
from ofa2_zoo._plot import BackgroundPlot
from ofa2_zoo.front import Front, plot_front
from ofa2_zoo.front.plot import front_chart

from _package_helpers import write_front


@pytest.fixture
def front(tmp_path):
    return Front.load(write_front(tmp_path / "front", n=6))


@pytest.fixture
def reference(front, tmp_path):
    return plot_front(front, tmp_path / "inprocess.png").read_bytes()


def _drawn_here(monkeypatch) -> list[str]:
    """Records in-process draws (the fallback) while a test runs."""
    drawn: list[str] = []
    real = plot_module.draw_front

    def spy(chart, path):
        drawn.append(os.fspath(path))
        return real(chart, path)

    monkeypatch.setattr(plot_module, "draw_front", spy)
    return drawn


def test_the_child_draws_the_same_bytes_as_this_process(front, reference, tmp_path, monkeypatch):
    drawn = _drawn_here(monkeypatch)
    with BackgroundPlot() as bg:
        assert bg._proc is not None
        out = bg.plot(front_chart(front), tmp_path / "bg.png")
    assert out == tmp_path / "bg.png" and out.read_bytes() == reference
    assert drawn == []  # drawn by the child, not by the fallback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.png", "front", "inprocess.png"]  # no temp files


def test_the_chart_survives_json_as_it_is(front):
    """The child gets the chart through JSON: every number must come back the same."""
    from ofa2_zoo.front import ReferencePoint, SpecializedNet

    net = SpecializedNet("note10_lat-20ms_top1-77.0_finetune-75", front.space.name, front.members[0].arch, 77.0,
                         20.0, None)
    chart = front_chart(front, highlight=1, packaged=[0, 2], references=[ReferencePoint(net, 0.1, 0.2, 80.5)])
    assert json.loads(json.dumps(chart)) == chart
    assert chart["front"] == [front.values("latency_ms").tolist(), front.values("top1").tolist()]
    assert (chart["packaged"], chart["highlight"]) == ([0, 2], 1)
    assert chart["references"] == [{"label": "lat-20ms", "x": 0.1, "x_high": 0.2, "y": 80.5}]
    assert chart["published"] == [[20.0], [77.0]]
    # a front made in this process may hold numpy numbers (float32 is not JSON): they go as floats
    import dataclasses

    import numpy as np

    made_here = dataclasses.replace(front, population=[{"latency_ms": np.float32(0.5), "top1": np.float32(60.25),
                                                        "macs_m": 1.0, "params_m": 1.0}])
    assert json.loads(json.dumps(front_chart(made_here)))["population"] == [[0.5], [60.25]]


@pytest.mark.parametrize("how", ["cannot start", "fails", "hangs"])
def test_without_a_working_child_the_plot_is_drawn_here(how, front, reference, tmp_path, monkeypatch):
    fake = tmp_path / "fake-python"
    fake.write_text({"cannot start": "", "fails": "#!/bin/sh\nexit 3\n", "hangs": "#!/bin/sh\nexec sleep 60\n"}[how])
    if how != "cannot start":
        fake.chmod(0o755)  # without the x bit the child cannot start at all
    monkeypatch.setattr(plot_module.sys, "executable", str(fake))
    monkeypatch.setattr(BackgroundPlot, "TIMEOUT_S", 1.0)
    drawn = _drawn_here(monkeypatch)
    with BackgroundPlot() as bg:
        assert (bg._proc is None) == (how == "cannot start")
        child = bg._proc
        out = bg.plot(front_chart(front), tmp_path / "bg.png")
    assert out.read_bytes() == reference and drawn == [os.fspath(tmp_path / "bg.png")]
    if child is not None:
        assert child.returncode is not None  # a hanging child was stopped, not left behind


def test_leaving_without_a_plot_stops_the_child(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with BackgroundPlot() as bg:
            child = bg._proc
            raise KeyboardInterrupt  # Ctrl-C during the search
    assert child.returncode is not None
    bg.close()  # a second close does nothing


def test_the_child_imports_matplotlib_and_nothing_heavy_and_ends_on_an_empty_request(front, reference, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plot_module.Path(plot_module.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-X", "importtime", "-m", "ofa2_zoo._plot"]
    res = subprocess.run(cmd, input="\n", capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout == ""  # nothing asked, nothing drawn
    request = json.dumps({"chart": front_chart(front), "png": str(tmp_path / "w.png")}) + "\n"
    res = subprocess.run(cmd, input=request, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout == "ok\n", res.stderr[-2000:]
    assert (tmp_path / "w.png").read_bytes() == reference
    modules = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    assert "matplotlib" in modules
    assert not {m for m in modules if m.split(".")[0] in ("torch", "pydantic", "timm", "typer", "rich")}
    assert {m for m in modules if m.startswith("ofa2_zoo")} <= {"ofa2_zoo", "ofa2_zoo._hooks", "ofa2_zoo.errors",
                                                               "ofa2_zoo._version", "ofa2_zoo._io"}
