"""The front as a PNG (latency vs top-1), with OFA's published nets placed in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .._plot import draw_front
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
    return draw_front(front_chart(front, highlight=highlight, packaged=packaged, references=references,
                                  title=title), path)


def front_chart(front: Front, *, highlight: int | None = None, packaged: Sequence[int] | None = None,
                references: "list[ReferencePoint] | None" = None, title: str | None = None) -> dict:
    """What :func:`plot_front` draws, as plain JSON-able data for :func:`ofa2_zoo._plot.draw_front`.

    Keys: ``population`` (``[xs, ys]`` of the dominated points, or ``None``), ``front``
    (``[xs, ys]`` of the members), ``packaged`` and ``highlight`` (member indices),
    ``references`` (OFA's nets placed by prediction: ``label``, ``x``, ``x_high``, ``y``),
    ``published`` (``[xs, ys]`` of their published numbers, or ``None``), ``xlabel``,
    ``ylabel`` and ``title``.

    Args:
        front: The front to draw.
        highlight: Index of a member to circle in red, or ``None``.
        packaged: Front indices of the packaged members, or ``None``.
        references: OFA's published nets (:func:`reference_points`), or ``None``.
        title: The plot title (default: profile, algorithm and hypervolume).
    """
    x_name = "latency_ms" if "latency_ms" in front.objective_meta else front.objective_names[0]
    y_name = "top1" if "top1" in front.objective_meta else front.objective_names[1]
    pop = front.population
    refs = references or []
    placed = [r for r in refs if r.latency_ms is not None and r.top1 is not None]
    published = [r for r in refs if r.net.published_latency_ms is not None]
    meta = front.objective_meta
    return {
        "population": [[float(p[x_name]) for p in pop], [float(p[y_name]) for p in pop]] if pop else None,
        "front": [front.values(x_name).tolist(), front.values(y_name).tolist()],
        "packaged": [int(i) for i in packaged] if packaged else [],
        "highlight": None if highlight is None else int(highlight),
        "references": [{"label": r.label, "x": float(r.latency_ms), "y": float(r.top1),
                        "x_high": float(r.latency_ms_high if r.latency_ms_high is not None else r.latency_ms)}
                       for r in placed],
        "published": ([[float(r.net.published_latency_ms) for r in published],
                       [float(r.net.published_top1) for r in published]]
                      if published and x_name == "latency_ms" and y_name == "top1" else None),
        "xlabel": f"{x_name} ({meta[x_name]['unit']}, {meta[x_name]['source']})",
        "ylabel": f"{y_name} ({meta[y_name]['unit']}, {meta[y_name]['source']})",
        "title": title or f"{front.profile_id}: {front.algorithm.get('name')} front, HV {front.hypervolume:.4g}",
    }
