"""The one way ofa2-zoo starts a plot: a matplotlib ``Figure`` made directly, without pyplot.

pyplot keeps a global list of figures and picks a GUI backend; a command that writes one PNG
needs neither. A ``Figure`` saves itself through the Agg canvas for its file format, and
importing it costs about a quarter less than importing pyplot (``benchmarks/RESULTS.md``).
matplotlib is imported on the first call only: commands that write no plot never load it.
"""

from __future__ import annotations

from typing import Any


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A new ``(figure, axes)`` pair of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()
