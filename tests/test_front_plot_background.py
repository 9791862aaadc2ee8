"""``BackgroundPlot``: `ofa2 search` draws its PNG in a child process that imports matplotlib
while the search runs. The child's PNG is byte for byte the in-process one; when the child cannot
start, fails or hangs, the plot is drawn in this process instead; leaving without a plot stops
the child."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ofa2_zoo.front.plot as plot_module
from ofa2_zoo.front import Front, plot_front
from ofa2_zoo.front.plot import BackgroundPlot

from _package_helpers import write_front


@pytest.fixture
def front(tmp_path):
    folder = write_front(tmp_path / "front", n=6)
    return Front.load(folder), folder / "front.json"


@pytest.fixture
def reference(front, tmp_path):
    return plot_front(front[0], tmp_path / "inprocess.png").read_bytes()


def _children_drawn(monkeypatch) -> list[str]:
    """Records in-process draws (the fallback) while a test runs."""
    drawn: list[str] = []
    real = plot_module.plot_front

    def spy(front, path, **kw):
        drawn.append(os.fspath(path))
        return real(front, path, **kw)

    monkeypatch.setattr(plot_module, "plot_front", spy)
    return drawn


def test_the_child_draws_the_same_bytes_as_this_process(front, reference, tmp_path, monkeypatch):
    drawn = _children_drawn(monkeypatch)
    with BackgroundPlot() as bg:
        assert bg._proc is not None
        out = bg.plot(front[0], front[1], tmp_path / "bg.png")
    assert out == tmp_path / "bg.png" and out.read_bytes() == reference
    assert drawn == []  # drawn by the child, not by the fallback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.png", "front", "inprocess.png"]  # no temp files


@pytest.mark.parametrize("how", ["cannot start", "fails", "hangs"])
def test_without_a_working_child_the_plot_is_drawn_here(how, front, reference, tmp_path, monkeypatch):
    fake = tmp_path / "fake-python"
    fake.write_text({"cannot start": "", "fails": "#!/bin/sh\nexit 3\n", "hangs": "#!/bin/sh\nexec sleep 60\n"}[how])
    if how != "cannot start":
        fake.chmod(0o755)  # without the x bit the child cannot start at all
    monkeypatch.setattr(plot_module.sys, "executable", str(fake))
    monkeypatch.setattr(BackgroundPlot, "TIMEOUT_S", 1.0)
    drawn = _children_drawn(monkeypatch)
    with BackgroundPlot() as bg:
        assert (bg._proc is None) == (how == "cannot start")
        child = bg._proc
        out = bg.plot(front[0], front[1], tmp_path / "bg.png")
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


def test_the_worker_imports_matplotlib_and_no_torch_and_ends_on_an_empty_request(front, reference, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plot_module.Path(plot_module.__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-X", "importtime", "-m", "ofa2_zoo.front._plot_worker"]
    res = subprocess.run(cmd, input="\n", capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout == ""  # nothing asked, nothing drawn
    request = f'{{"front": "{front[1]}", "png": "{tmp_path / "w.png"}"}}\n'
    res = subprocess.run(cmd, input=request, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout == "ok\n", res.stderr[-2000:]
    assert (tmp_path / "w.png").read_bytes() == reference
    modules = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in res.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    assert "matplotlib" in modules and "torch" not in modules
