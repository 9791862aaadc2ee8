"""Post-import hooks: run a function on a module the moment it has been imported.

The standard library has none (PEP 369 was withdrawn). wrapt has one, but importing wrapt 2
imports asyncio and ssl, about 0.1 s that every ``ofa2`` command and every ``import ofa2_zoo``
paid (``benchmarks/RESULTS.md``); this module is the part of it ofa2-zoo uses. It hooks

- ``timm``: the zoo's names are registered when timm is imported (``ofa2_zoo/__init__.py``);
- ``typer.rich_utils``: the CLI folds long help text (:func:`.cli._ui.fold_help`), and typer
  imports that module only to draw help or an error, so other commands never load it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Callable

Hook = Callable[[ModuleType], None]


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` now if module ``name`` is imported, else right after its import
    (once; a failed import calls nothing and the hook stays for the next try). Asking again for
    the same hook while it waits changes nothing (the CLI asks on every ``main()`` call)."""
    if name in sys.modules:
        hook(sys.modules[name])
    elif not any(isinstance(f, _Finder) and f.name == name and f.hook is hook for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(name, hook))


class _Finder:
    """The first finder on ``sys.meta_path`` for one module name: hands the import system the
    spec the other finders give, with a loader that calls the hook after the module ran."""

    def __init__(self, name: str, hook: Hook) -> None:
        self.name, self.hook, self._finding = name, hook, False

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != self.name or self._finding:
            return None
        self._finding = True  # the finders after this one find the module's real spec
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, self)
        return spec


class _Loader:
    """Runs the module with its own loader in place (the module sees what it always sees), then
    removes the finder and calls the hook."""

    def __init__(self, loader, finder: _Finder) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        self.finder.hook(module)
