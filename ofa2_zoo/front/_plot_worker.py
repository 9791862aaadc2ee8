"""The child process of :class:`ofa2_zoo.front.plot.BackgroundPlot`: it imports matplotlib and
the front module while its parent is still searching, then reads one request, a JSON line
``{"front": FRONT_JSON, "png": PNG}``, draws the front with :func:`plot_front` and prints
``ok``. An empty line (the parent needs no plot after all) ends it without drawing."""

from __future__ import annotations

import json
import sys


def main() -> int:
    from ofa2_zoo._plot import figure  # noqa: F401
    from ofa2_zoo.front import Front, plot_front

    figure(1, 1)  # matplotlib's modules are imported on the first figure: import them now
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    plot_front(Front.load(request["front"]), request["png"])
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
