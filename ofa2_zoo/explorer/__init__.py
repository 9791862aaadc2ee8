"""The front explorer: one self-contained HTML page (``index.html``) to choose a front member.

The page is built by :mod:`.page`; its script, style and template are the files of this folder.
"""

from __future__ import annotations

from .page import (DATA_FORMAT, FILENAME, LABELS, ExplorerError, PackagedMember, explorer_data, plot_axes, read_data,
                   render_explorer, timm_snippet, with_packaged, with_previous, write_explorer, write_page)

__all__ = ["PackagedMember", "ExplorerError", "explorer_data", "render_explorer", "write_explorer", "write_page",
           "read_data", "with_previous", "with_packaged", "timm_snippet", "plot_axes", "FILENAME", "DATA_FORMAT",
           "LABELS"]
