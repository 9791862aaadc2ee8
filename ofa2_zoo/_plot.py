"""The one way ofa2-zoo starts a plot: a matplotlib ``Figure`` made directly, without pyplot.

pyplot keeps a global list of figures and picks a GUI backend; a command that writes one PNG
needs neither. A ``Figure`` saves itself through the Agg canvas for its file format, and
importing it costs about a quarter less than importing pyplot (``benchmarks/RESULTS.md``).
matplotlib is imported on the first call only: commands that write no plot never load it.

A front's chart is drawn here too (:func:`draw_front`, from plain data), so that ``ofa2
search`` can draw it in a second process (:class:`BackgroundPlot`, running :func:`serve`) that
imports matplotlib while the search runs and nothing of ``ofa2_zoo`` but this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._io import atomic_path


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A new ``(figure, axes)`` pair of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def save_png(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    """Lay ``fig`` out and write it to ``path`` as a PNG, atomically and without matplotlib's
    version stamp (the same figure gives the same bytes with any matplotlib)."""
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    return path


# ---------------------------------------------------------------------------- a front chart
def draw_front(chart: dict, path: str | os.PathLike) -> Path:
    """Draw a front chart, plain data made by :func:`ofa2_zoo.front.plot.front_chart`, to ``path`` (PNG).

    The chart is plain JSON-able data, so the process that searched can hand it to
    :func:`serve` in a process that imported matplotlib meanwhile and nothing of ``ofa2_zoo``
    but this module: the same chart gives the same bytes in either process.
    """
    import numpy as np

    fig, ax = figure(7.0, 4.8)
    if chart["population"] is not None:
        ax.scatter(*chart["population"], s=9, color="lightgrey", label="final population (dominated)")
    xs, ys = (np.asarray(v, dtype=float) for v in chart["front"])
    ax.step(xs, ys, where="post", color="tab:blue", lw=1)
    ax.scatter(xs, ys, s=16, color="tab:blue", zorder=3, label=f"front ({len(xs)} members)")
    if chart["packaged"]:
        picked = chart["packaged"]
        ax.scatter(xs[picked], ys[picked], s=36, color="tab:green", zorder=4,
                   label=f"packaged ({len(picked)}, labelled k of ..._front_k)")
        for k, i in enumerate(picked):
            ax.annotate(str(k), (xs[i], ys[i]), textcoords="offset points", xytext=(5, -11), fontsize=9,
                        color="tab:green")
    if chart["highlight"] is not None:
        i = chart["highlight"]
        ax.scatter([xs[i]], [ys[i]], s=120, facecolors="none", edgecolors="red", lw=2, zorder=4, label=f"member {i}")
    for r in chart["references"]:
        if r["x_high"] > r["x"]:
            ax.plot([r["x"], r["x_high"]], [r["y"], r["y"]], color="tab:orange", lw=1.5, zorder=4)
        ax.scatter([r["x"]], [r["y"]], marker="*", s=110, color="tab:orange", zorder=5)
        ax.annotate(r["label"], (r["x"], r["y"]), textcoords="offset points", xytext=(4, 5), fontsize=7,
                    color="tab:orange")
    if chart["references"]:
        ax.scatter([], [], marker="*", s=90, color="tab:orange", label="OFA specialized nets (predicted)")
    if chart["published"]:
        ax.scatter(*chart["published"], marker="^", s=30, color="dimgrey", zorder=4,
                   label="OFA specialized nets (published: device, fine-tuned)")
    ax.set(xlabel=chart["xlabel"], ylabel=chart["ylabel"], title=chart["title"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save_png(fig, path, dpi=120)


def serve() -> int:
    """The child process of :class:`BackgroundPlot` (``python -m ofa2_zoo._plot``).

    It imports matplotlib while its parent is still searching, then reads one request, a JSON
    line ``{"chart": CHART, "png": PNG}``, draws it with :func:`draw_front` and prints ``ok``. An
    empty line (the parent needs no plot after all) ends it without drawing.
    """
    figure(1, 1)  # matplotlib's modules are imported on the first figure: import them now
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    draw_front(request["chart"], request["png"])
    print("ok", flush=True)
    return 0


class BackgroundPlot:
    """Draws a chart (:func:`draw_front`) in a second Python process that imports matplotlib
    while this one is still working (``ofa2 search``: searching), so on a machine with a free
    core the plot costs a shell command little more than the drawing itself. Start it first,
    before the heavy imports. Used as a context manager; leaving it stops the child if no plot
    was asked for (an error or Ctrl-C in the search).

    :meth:`plot` falls back to drawing in this process when the child could not start or did not
    finish, so the PNG (the same bytes either way) or the drawing's own error always comes.
    """

    TIMEOUT_S = 300.0

    def __init__(self) -> None:
        self._request: tuple[dict, str | os.PathLike] | None = None
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "ofa2_zoo._plot"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self._proc = None

    def plot(self, chart: dict, path: str | os.PathLike) -> Path:
        """Write ``chart``'s PNG to ``path``; returns ``path``."""
        self.send(chart, path)
        return self.wait()

    def send(self, chart: dict, path: str | os.PathLike) -> None:
        """Ask for ``chart``'s PNG at ``path`` and return at once; :meth:`wait` waits for it, so
        this process can go on (print its summary) while the child draws."""
        self._request = (chart, path)
        if self._proc is not None:
            request = json.dumps({"chart": chart, "png": os.fspath(Path(path).resolve())}) + "\n"
            try:
                self._proc.stdin.write(request)
                self._proc.stdin.flush()  # the child reads one line; communicate() closes the pipe
            except (OSError, ValueError):
                _stop(self._proc)
                self._proc = None

    def wait(self) -> Path:
        """The PNG asked for by :meth:`send`, drawn here if the child did not draw it."""
        (chart, path), self._request = self._request, None
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                out, _ = proc.communicate(timeout=self.TIMEOUT_S)
                if proc.returncode == 0 and out.strip() == "ok":
                    return Path(path)
            except (OSError, subprocess.SubprocessError):
                _stop(proc)
        return draw_front(chart, path)

    def close(self) -> None:
        """Stop the child without drawing (nothing happens after :meth:`plot` or :meth:`wait`)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc)

    def __enter__(self) -> "BackgroundPlot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


if __name__ == "__main__":
    raise SystemExit(serve())
