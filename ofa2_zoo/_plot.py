"""The one way ofa2-zoo starts a plot: a matplotlib ``Figure`` made directly, without pyplot.

pyplot keeps a global list of figures and picks a GUI backend; a command that writes one PNG
needs neither. A ``Figure`` saves itself through the Agg canvas for its file format, and
importing it costs about a quarter less than importing pyplot (``benchmarks/RESULTS.md``).
matplotlib is imported on the first call only: commands that write no plot never load it.
"""

from __future__ import annotations

import os
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
