"""The zoo's catalogue: index files, recorded packages and the entries they make (no torch, no timm).

:mod:`ofa2_zoo.registry` turns these entries into timm names; ``ofa2 zoo list`` shows them.
See :mod:`.index` for the files, :mod:`.records` for local packages and :mod:`.entries` for
which version of a name is the default.
"""

from __future__ import annotations

from .entries import EMBEDDED_TAG, LOCAL_TAG, SOURCES, Zoo, ZooEntry, collect, suggest, tag_order
from .index import (INDEX_FORMAT, RegistryError, ZooIndex, ZooWarning, shipped_index_path, user_index_path)
from .records import forget, package_record, record_package

__all__ = ["Zoo", "ZooEntry", "ZooIndex", "RegistryError", "ZooWarning", "collect", "suggest", "tag_order",
           "record_package", "package_record", "forget", "shipped_index_path", "user_index_path", "LOCAL_TAG",
           "EMBEDDED_TAG", "SOURCES", "INDEX_FORMAT"]
