"""A cache of evaluated (arch, objective source) pairs, looked up for whole populations.

Keys are the *values* of a canonical arch (kernel sizes, expand ratios, depths, resolution),
not its gene indices, so two spaces that differ only in their allowed resolutions (two
profiles of one supernet) share entries. Each objective source has its own namespace, e.g.
``top1:<predictor id>:<sha256>`` or ``latency_ms:<profile id>:<table sha256>``: running
another profile with the same accuracy source re-uses every accuracy value.

Lookups and inserts are vectorised: keys are fixed-width byte strings kept sorted per
namespace, found with ``np.searchsorted``. ``save``/``load`` keep the cache on disk (one
``.npz`` per namespace), so a re-run in a new process re-evaluates nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .._io import atomic_path
from ..space import SearchSpace


def arch_keys(space: SearchSpace, genes: np.ndarray) -> np.ndarray:
    """One fixed-width byte key per row of ``genes`` (canonical arch values), shape ``(N,)``."""
    v = space.decode(genes)
    vals = np.column_stack([v["ks"], v["e"], v["d"], v["r"][:, None]]).astype("<i2")
    vals = np.ascontiguousarray(vals)
    return vals.view(np.dtype((np.void, vals.shape[1] * 2))).ravel()


class ObjectiveCache:
    """``namespace -> runs of (sorted keys, values)``; values are float64.

    Each namespace is a short list of sorted runs, merged like a binary counter (a run is
    merged into its predecessor once it is at least half as long), so an insert costs
    amortised O(log N) copies per key and a lookup one ``searchsorted`` per run.
    """

    def __init__(self) -> None:
        self._runs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def __len__(self) -> int:
        return sum(len(k) for runs in self._runs.values() for k, _ in runs)

    def namespaces(self) -> list[str]:
        return sorted(self._runs)

    def lookup(self, namespace: str, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values, found)`` for ``keys``; values of missing keys are NaN."""
        values = np.full(len(keys), np.nan)
        found = np.zeros(len(keys), bool)
        for stored, vals in self._runs.get(namespace, ()):
            if not len(keys) or stored.dtype != keys.dtype:
                continue
            pos = np.minimum(np.searchsorted(stored, keys), len(stored) - 1)
            hit = stored[pos] == keys
            values[hit] = vals[pos[hit]]
            found |= hit
        return values, found

    def insert(self, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
        """Add ``keys -> values`` (keys not yet in the namespace, no duplicates among them)."""
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        runs = self._runs.setdefault(namespace, [])
        runs.append((keys[order], np.asarray(values, dtype=float)[order]))
        while len(runs) > 1 and 2 * len(runs[-1][0]) >= len(runs[-2][0]):
            (k2, v2), (k1, v1) = runs.pop(), runs.pop()
            if k1.dtype != k2.dtype:  # another key width: keep the newer run only
                runs.append((k2, v2))
                continue
            pos = np.searchsorted(k1, k2)
            runs.append((np.insert(k1, pos, k2), np.insert(v1, pos, v2)))

    def _merged(self, namespace: str) -> tuple[np.ndarray, np.ndarray]:
        runs = self._runs[namespace]
        keys = np.concatenate([k for k, _ in runs])
        vals = np.concatenate([v for _, v in runs])
        order = np.argsort(keys, kind="stable")
        return keys[order], vals[order]

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def _file(folder: Path, namespace: str) -> Path:
        return folder / f"{hashlib.sha256(namespace.encode()).hexdigest()[:24]}.npz"

    def save(self, folder: str | os.PathLike) -> None:
        """Write every namespace to ``folder`` (atomically, one file each)."""
        folder = Path(folder)
        for ns in self._runs:
            keys, vals = self._merged(ns)
            raw = keys.view(np.uint8).reshape(len(keys), -1)
            with atomic_path(self._file(folder, ns)) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, namespace=np.array(ns), keys=raw, values=vals)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "ObjectiveCache":
        """A cache with every namespace saved in ``folder`` (empty if there is none)."""
        cache = cls()
        folder = Path(folder)
        if not folder.is_dir():
            return cache
        for path in sorted(folder.glob("*.npz")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    ns, raw, vals = str(data["namespace"]), data["keys"], data["values"]
            except (OSError, ValueError, KeyError, EOFError):  # (EOFError: an empty file)
                continue  # a damaged entry is only a cache miss
            raw = np.ascontiguousarray(raw, dtype=np.uint8)
            keys = raw.view(np.dtype((np.void, raw.shape[1]))).ravel() if raw.ndim == 2 and len(raw) else None
            if keys is not None and len(keys) == len(vals):
                cache.insert(ns, keys, vals)
        return cache
