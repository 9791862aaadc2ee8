"""The front as a PNG (latency vs top-1), with OFA's published nets placed in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from .._plot import figure, save_png
from .artifact import Front
from .reference import ReferencePoint


# ---------------------------------------------------------------------------- plot
def plot_front(front: Front, path: str | os.PathLike, *, highlight: int | None = None,
               packaged: Sequence[int] | None = None, references: "list[ReferencePoint] | None" = None,
               title: str | None = None) -> Path:
    """PNG of the front (latency vs top-1): the members (a step line), the dominated points of
    the final population, optional packaged / highlighted members, and OFA's published nets
    (:func:`reference_points`): where predicted, a star at the predicted point (a bar spans the
    latency interval when the profile has no table at the net's resolution); always a grey
    triangle at the published numbers (device latency, fine-tuned top-1).

    Only the packaged members (``packaged``: their front indices, labelled with their package
    ``k``, the suffix of their timm name) and OFA's nets carry text; every other member is a
    point, so a front of a hundred members stays readable.

    Args:
        front: The front to draw.
        path: The PNG file to write (atomically).
        highlight: Index of a member to circle in red, or ``None``.
        packaged: Front indices of the packaged members (green, labelled ``k``), or ``None``.
        references: OFA's published nets (:func:`reference_points`), or ``None``.
        title: The plot title (default: profile, algorithm and hypervolume).
    """
    x_name = "latency_ms" if "latency_ms" in front.objective_meta else front.objective_names[0]
    y_name = "top1" if "top1" in front.objective_meta else front.objective_names[1]
    fig, ax = figure(7.0, 4.8)
    if front.population:
        ax.scatter([p[x_name] for p in front.population], [p[y_name] for p in front.population], s=9,
                   color="lightgrey", label="final population (dominated)")
    xs, ys = front.values(x_name), front.values(y_name)
    ax.step(xs, ys, where="post", color="tab:blue", lw=1)
    ax.scatter(xs, ys, s=16, color="tab:blue", zorder=3, label=f"front ({len(xs)} members)")
    if packaged:
        picked = list(packaged)
        ax.scatter(xs[picked], ys[picked], s=36, color="tab:green", zorder=4,
                   label=f"packaged ({len(picked)}, labelled k of ..._front_k)")
        for k, i in enumerate(picked):
            ax.annotate(str(k), (xs[i], ys[i]), textcoords="offset points", xytext=(5, -11), fontsize=9,
                        color="tab:green")
    if highlight is not None:
        ax.scatter([xs[highlight]], [ys[highlight]], s=120, facecolors="none", edgecolors="red", lw=2, zorder=4,
                   label=f"member {highlight}")
    refs = references or []
    placed = [r for r in refs if r.latency_ms is not None and r.top1 is not None]
    for r in placed:
        hi = r.latency_ms_high if r.latency_ms_high is not None else r.latency_ms
        if hi > r.latency_ms:
            ax.plot([r.latency_ms, hi], [r.top1, r.top1], color="tab:orange", lw=1.5, zorder=4)
        ax.scatter([r.latency_ms], [r.top1], marker="*", s=110, color="tab:orange", zorder=5)
        ax.annotate(r.label, (r.latency_ms, r.top1), textcoords="offset points", xytext=(4, 5), fontsize=7,
                    color="tab:orange")
    if placed:
        ax.scatter([], [], marker="*", s=90, color="tab:orange", label="OFA specialized nets (predicted)")
    published = [r for r in refs if r.net.published_latency_ms is not None]
    if published and x_name == "latency_ms" and y_name == "top1":
        ax.scatter([r.net.published_latency_ms for r in published], [r.net.published_top1 for r in published],
                   marker="^", s=30, color="dimgrey", zorder=4,
                   label="OFA specialized nets (published: device, fine-tuned)")
    meta = front.objective_meta
    ax.set(xlabel=f"{x_name} ({meta[x_name]['unit']}, {meta[x_name]['source']})",
           ylabel=f"{y_name} ({meta[y_name]['unit']}, {meta[y_name]['source']})",
           title=title or f"{front.profile_id}: {front.algorithm.get('name')} front, HV {front.hypervolume:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save_png(fig, path, dpi=120)


# ---------------------------------------------------------------------------- in the background
class BackgroundPlot:
    """Draws a front's :func:`plot_front` PNG in a second Python process that imports matplotlib
    while this one is still searching, so on a machine with a free core the plot costs a shell
    command little more than the drawing itself. Used as a context manager; leaving it stops the
    child if no plot was asked for (an error or Ctrl-C in the search).

    :meth:`plot` falls back to drawing in this process when the child could not start or did not
    finish, so the PNG (the same bytes either way) or the drawing's own error always comes.
    """

    TIMEOUT_S = 300.0

    def __init__(self) -> None:
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "ofa2_zoo.front._plot_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self._proc = None

    def plot(self, front: Front, saved: str | os.PathLike, path: str | os.PathLike) -> Path:
        """Write ``front``'s PNG to ``path``; ``saved`` is the ``front.json`` it was saved to (the
        child reads it). Returns ``path``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            request = json.dumps({"front": os.fspath(Path(saved).resolve()), "png": os.fspath(Path(path).resolve())})
            try:
                out, _ = proc.communicate(request + "\n", timeout=self.TIMEOUT_S)
                if proc.returncode == 0 and out.strip() == "ok":
                    return Path(path)
            except (OSError, subprocess.SubprocessError):
                _stop(proc)
        return plot_front(front, path)

    def close(self) -> None:
        """Stop the child without drawing (nothing happens after :meth:`plot`)."""
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
