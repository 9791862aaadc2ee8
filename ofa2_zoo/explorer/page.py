"""The explorer page: renders a front (and its extras) into one self-contained ``index.html``.

Part of the front stage: it renders a :class:`~ofa2_zoo.front.Front` (latency vs top-1, every
member hoverable, a latency-budget slider that highlights the best member within the budget,
a log-latency toggle), optionally with the members a package made of it
(:class:`PackagedMember`: timm name, measured values, a ``timm.create_model`` snippet), OFA's
published nets placed by :func:`~ofa2_zoo.front.reference_points`, and an earlier version of
the front in grey. Later stages supply those extras (``ofa2 package`` the packaged members,
``ofa2 publish`` the previous published version), so this module imports nothing to its right.

The page needs no network: its CSS and JavaScript (vanilla SVG, in this folder) are inlined
and its data is one JSON document in a ``<script type="application/json">`` element, escaped
so that no string from a front (arch strings, names) can close the element or be parsed as
markup; the script only ever inserts such strings as text. The output is deterministic: the
same inputs give the same bytes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .._version import __version__
from .._io import canonical_json, write_text_atomic
from ..errors import ExplorerError
from ..front import Front, ReferencePoint

FILENAME = "index.html"
DATA_FORMAT = "ofa2-explorer/1"
_HERE = Path(__file__).resolve().parent
_DATA_RE = re.compile(r'<script type="application/json" id="front-data">(.*?)</script>', re.DOTALL)
# Display names of the objectives a front can carry (others are shown by their key).
LABELS = {"latency_ms": "latency", "top1": "top-1", "macs_m": "MACs", "params_m": "parameters"}


@dataclass(frozen=True)
class PackagedMember:
    """A front member that was packaged as a timm model.

    ``front_index`` is its position in ``front.members``; ``measured`` holds what packaging
    measured in the front's objective names (``top1`` on real images, ``latency_ms``);
    ``snippet`` is the Python that loads it (see :func:`timm_snippet`); ``runtimes`` its measured
    batch-1 latency (ms) in each deployment runtime it was timed in.
    """

    front_index: int
    k: int
    name: str
    snippet: str
    measured: dict[str, float] = field(default_factory=dict)
    hub_repo: str | None = None
    runtimes: dict[str, float] = field(default_factory=dict)


def timm_snippet(name: str, hub_repo: str | None = None) -> str:
    """The lines a user pastes to load a packaged member with timm."""
    lines = ["import timm", "import ofa2_zoo  # registers the names", "",
             "model = timm.create_model(", f"    {json.dumps(name)},", "    pretrained=True,", ").eval()"]
    if hub_repo:
        lines += ["# the same weights straight from its Hub repo:",
                  f"# timm.create_model({json.dumps('hf-hub:' + hub_repo)}, pretrained=True)"]
    return "\n".join(lines)


def plot_axes(front: Front) -> tuple[str, str]:
    """The objectives on the x and y axes: latency and top-1 where the front has them (top-1 stays
    on the y axis of a front without latency)."""
    names = front.objective_names
    x = "latency_ms" if "latency_ms" in names else next(n for n in names if n != "top1")
    y = "top1" if "top1" in names else next(n for n in names if n != x)
    return x, y


def _axis(front: Front, name: str) -> dict[str, Any]:
    meta = front.objective_meta[name]
    return {"key": name, "label": LABELS.get(name, name), "unit": meta["unit"], "source": meta["source"],
            "direction": meta["direction"]}


def _previous(label: str, front: Front, x: str, y: str) -> dict[str, Any]:
    if x not in front.objective_meta or y not in front.objective_meta:
        raise ExplorerError(f"the previous front ({label}) has no {x!r}/{y!r} objectives to compare with")
    return {"label": label, "version": front.version_id,
            "points": [{"x": m.objectives[x], "y": m.objectives[y], "arch": m.arch.to_string()}
                       for m in front.members]}


def explorer_data(front: Front, *, packaged: Sequence[PackagedMember] = (),
                  references: Iterable[ReferencePoint] = (), previous: tuple[str, Front] | None = None,
                  title: str | None = None) -> dict[str, Any]:
    """The page's data: everything it shows, as JSON-ready values.

    ``previous`` is ``(label, front)`` of an earlier version (e.g. ``("v1", front_v1)``), drawn
    in grey; it is left out when it is the same front version. References that cannot be
    placed in the front's objective space (``None`` values) are skipped.

    Args:
        front: The front the page shows.
        packaged: Its members packaged as timm models (highlighted, with their loading snippet).
        references: OFA's published nets placed in the front's objective space.
        previous: ``(label, front)`` of an earlier version, or ``None``.
        title: The page title (default ``"<profile id> front"``).
    """
    x, y = plot_axes(front)
    by_index = _by_index(packaged, len(front.members))
    members = []
    for i, m in enumerate(front.members):
        row: dict[str, Any] = {"index": i, "arch": m.arch.to_string(), "resolution": m.arch.r,
                               "objectives": dict(m.objectives), "packaged": None}
        if i in by_index:
            row["packaged"] = _packaged_row(by_index[i])
        members.append(row)
    refs = []
    if x == "latency_ms" and y == "top1":
        for r in references:
            placed = r.latency_ms is not None and r.top1 is not None
            if not placed and r.net.published_latency_ms is None:
                continue
            refs.append({"label": r.label, "id": r.net.id, "space": r.net.space, "resolution": r.net.arch.r,
                         "x": r.latency_ms if placed else None,
                         "x_high": (r.latency_ms_high if r.latency_ms_high is not None else r.latency_ms)
                         if placed else None,
                         "y": r.top1 if placed else None,
                         "published": {"x": r.net.published_latency_ms, "y": r.net.published_top1}})
    prev = None
    if previous is not None and previous[1].version_id != front.version_id:
        prev = _previous(previous[0], previous[1], x, y)
    return {
        "format": DATA_FORMAT,
        "title": title or f"{front.profile_id} front",
        "profile": front.profile_id,
        "version": front.version_id,
        "algorithm": {k: front.algorithm.get(k) for k in ("name", "population", "generations")},
        "seed": front.seed,
        "evaluations": front.evaluations,
        "hypervolume": front.hypervolume,
        "space": front.space.name,
        "accuracy": front.accuracy.get("id"),
        "supernet": front.supernet.get("id"),
        # which machine's measurements and calibration gave the latencies (None: not recorded / not searched)
        "latency_by": front.profile.get("latency_by") if "latency_ms" in front.objective_meta else None,
        "package_version": __version__,
        "axes": {"x": _axis(front, x), "y": _axis(front, y)},
        "objectives": {k: {"label": LABELS.get(k, k), **v} for k, v in front.objective_meta.items()},
        "members": members,
        "population": [{"x": p[x], "y": p[y]} for p in front.population if x in p and y in p],
        "references": refs,
        "previous": prev,
    }


def _by_index(packaged: Sequence[PackagedMember], n_members: int) -> dict[int, PackagedMember]:
    by_index = {}
    for p in packaged:
        if not 0 <= p.front_index < n_members:
            raise ExplorerError(f"packaged member {p.name} is front member {p.front_index}, but the front has "
                                f"{n_members} members")
        by_index[p.front_index] = p
    return by_index


def _packaged_row(p: PackagedMember) -> dict[str, Any]:
    return {"k": p.k, "name": p.name, "measured": dict(p.measured), "snippet": p.snippet, "hub_repo": p.hub_repo,
            "runtimes": dict(p.runtimes)}


def _script_json(data: dict[str, Any]) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>``, ``&`` or line separators
    appear literally, so no string can end the element or open a comment."""
    text = canonical_json(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def render_explorer(data: dict[str, Any]) -> str:
    """The complete page for ``data`` (from :func:`explorer_data`)."""
    page = (_HERE / "page.html").read_text(encoding="utf-8")
    css = (_HERE / "explorer.css").read_text(encoding="utf-8")
    js = (_HERE / "explorer.js").read_text(encoding="utf-8")
    head, rest = page.split("/*CSS*/", 1)
    mid, tail = rest.split("/*JS*/", 1)
    before, after = mid.split("{/*DATA*/}", 1)
    try:
        blob = _script_json(data)
    except ValueError as exc:  # NaN or infinity somewhere in the data
        raise ExplorerError(f"explorer data is not valid JSON: {exc}") from None
    return head + css + before + blob + after + js + tail


def write_explorer(front: Front, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write the explorer page of ``front`` to ``path`` atomically (keyword arguments as for
    :func:`explorer_data`) and return the path."""
    return write_page(explorer_data(front, **kwargs), path)


def write_page(data: dict[str, Any], path: str | os.PathLike) -> Path:
    path = Path(path)
    write_text_atomic(path, render_explorer(data))
    return path


def read_data(html: str) -> dict[str, Any]:
    """The data embedded in an explorer page (to re-render it with more, e.g. a previous version)."""
    m = _DATA_RE.search(html)
    if m is None:
        raise ExplorerError("not an ofa2 front explorer page (no front-data element)")
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError as exc:
        raise ExplorerError(f"the explorer page's data is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise ExplorerError(f"the explorer page's data is not {DATA_FORMAT}")
    return data


def with_previous(data: dict[str, Any], label: str, previous: Front) -> dict[str, Any]:
    """``data`` with ``previous`` drawn in grey as version ``label`` (unchanged if it is the same front)."""
    if previous.version_id == data["version"]:
        return {**data, "previous": None}
    return {**data, "previous": _previous(label, previous, data["axes"]["x"]["key"], data["axes"]["y"]["key"])}


def with_packaged(data: dict[str, Any], packaged: Sequence[PackagedMember], title: str | None = None) -> dict[str, Any]:
    """``data`` with its packaged members replaced (e.g. by their published, version-tagged names)."""
    by_index = _by_index(packaged, len(data["members"]))
    members = [{**m, "packaged": _packaged_row(by_index[i]) if i in by_index else None}
               for i, m in enumerate(data["members"])]
    return {**data, "members": members, "title": title or data["title"]}


__all__ = ["PackagedMember", "ExplorerError", "explorer_data", "render_explorer", "write_explorer", "write_page",
           "read_data", "with_previous", "with_packaged", "timm_snippet", "plot_axes", "FILENAME"]
