"""The one progress-callback type every long step of the pipeline reports through.

A step calls ``progress(step, done, total, **values)``: ``step`` says what is happening (a
training phase, ``"search"``, ``"measuring"``, the member being packaged), ``done`` of ``total``
units are finished (``total`` is None while unknown, as for a download
without a size), and ``values`` carries the step's running figures by name (the search's
``hv``, training's ``loss``). The arguments match a rich progress bar's
``update(task, description=..., completed=..., total=..., **fields)``, which is what the ``ofa2``
commands pass on to.
"""

from __future__ import annotations

from typing import Protocol


class ProgressFn(Protocol):
    """``progress(step, done, total, **values)``; see the module docstring."""

    def __call__(self, step: str, done: int, total: int | None, /, **values: float) -> None: ...


def no_progress(step: str, done: int, total: int | None, /, **values: float) -> None:
    """A :class:`ProgressFn` that reports nothing."""
