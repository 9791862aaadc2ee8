"""What every validated file format shares: the pydantic base model, the one way a validation error
becomes a one-line message, and the version-tag pattern.

Every pydantic model of ofa2-zoo derives from :class:`Schema`; each keeps its own ``model_config``
(which fields are refused, frozen or not), so the base adds no validation rule of its own. A reader
that refuses a file raises its stage's error with :func:`field_error` (``field 'a.b': what is
wrong``) or, where its message has another shape, with the parts of :func:`first_problem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import clip

#: A Hub repository id, ``namespace/name`` (letters, digits, ``.``, ``_``, ``-``; neither part
#: starts with a punctuation mark).
REPO_ID = r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"

#: A published version's tag: ``v1``, ``v2``, ... (no ``v0``, no leading zero).
VERSION_TAG = r"v[1-9]\d*"
_VERSION_TAG_RE = re.compile(VERSION_TAG)


def is_version_tag(tag: str) -> bool:
    """Whether ``tag`` is a whole version tag (``v<N>``, N >= 1 without leading zeros)."""
    return isinstance(tag, str) and _VERSION_TAG_RE.fullmatch(tag) is not None


def version_number(tag: str) -> int:
    """``N`` of a ``v<N>`` tag, 0 for anything else (so versions sort after other tags)."""
    return int(tag[1:]) if is_version_tag(tag) else 0


class Schema(BaseModel):
    """The base of every pydantic model of ofa2-zoo (file formats, settings)."""


@dataclass(frozen=True)
class FieldProblem:
    """The first error of a pydantic validation, in the parts messages are made of."""

    loc: tuple  # the path to the bad field, e.g. ("members", 0, "arch")
    kind: str  # pydantic's error type, e.g. "extra_forbidden", "value_error"
    msg: str  # what is wrong, without pydantic's "Value error, " prefix
    input: Any  # the value refused

    @property
    def where(self) -> str:
        """The field's dotted path (``a.0.b``), ``(top level)`` for the whole document."""
        return ".".join(str(x) for x in self.loc) or "(top level)"

    def __str__(self) -> str:
        return f"field '{clip(self.where)}': {self.msg}"


def first_problem(exc: ValidationError, prefix: tuple = ()) -> FieldProblem:
    """The first error of ``exc``; ``prefix`` is put before its path (a record inside a file)."""
    err = exc.errors()[0]
    return FieldProblem((*prefix, *err["loc"]), err["type"], err["msg"].removeprefix("Value error, "),
                        err.get("input"))


def field_error(exc: ValidationError, prefix: tuple = ()) -> str:
    """``field 'a.b': what is wrong`` for the first error of a pydantic validation."""
    return str(first_problem(exc, prefix))


__all__ = ["Schema", "FieldProblem", "first_problem", "field_error", "VERSION_TAG", "is_version_tag",
           "version_number"]
