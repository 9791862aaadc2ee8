"""Text a user gives that ends up in model cards, ``config.json`` and the explorer.

Such text is checked where it comes in (a profile's ``description``, a package's ``license``)
and escaped again where it goes out (the Markdown/HTML bodies of the cards): plain text stays
plain text on the Hub, whatever a reader's Markdown renderer does with markup.

- :func:`check_plain_text`: one line of printable characters, no markup. Refused (not
  stripped: a silently edited description would be a surprise) are ``<`` and ``>`` (HTML tags,
  autolinks), ``[`` and ``]`` (Markdown links and images), backticks, and the ``javascript:``,
  ``vbscript:`` and ``data:`` schemes.
- :func:`check_license`: an SPDX license id (the SPDX list shipped by the ``license-expression``
  package, case-insensitive) or ``other``; written lowercase, the form the Hub's ``license``
  metadata uses (``mit``, ``apache-2.0``, ``cc-by-4.0``).
- :func:`markdown_text`: plain text escaped for a Markdown body (HTML entities for ``<>&``,
  backslashes before the characters of emphasis, code, links and tables).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import TextError, shorten

MAX_PLAIN_TEXT = 300
_MARKUP = re.compile(r"[<>\[\]`]|(?:javascript|vbscript|data)\s*:", re.IGNORECASE)


def check_plain_text(value: str, what: str, limit: int = MAX_PLAIN_TEXT) -> str:
    """``value`` if it is one line of plain text (see the module docstring), else :class:`TextError`."""
    if len(value) > limit:
        raise TextError(f"{what} is {len(value)} characters; at most {limit} (fix: shorten it)")
    bad = next((c for c in value if not c.isprintable()), None)
    if bad is not None:
        raise TextError(f"{what} must be one line of printable text; it holds {bad!r} (fix: remove line breaks and "
                        "control characters)")
    m = _MARKUP.search(value)
    if m:
        raise TextError(f"{what} must be plain text; it holds {m.group(0)!r}, markup that would reach the model "
                        "cards (fix: remove HTML tags, Markdown links and backticks, and URL schemes like "
                        "javascript:)")
    return value


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def markdown_text(value: object) -> str:
    """``value`` as literal text inside a Markdown body: ``&<>`` as HTML entities, and the
    characters that start emphasis, code, links or table cells (``\\ ` * _ [ ] |``)
    backslash-escaped, so a renderer shows exactly the characters given."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


@lru_cache(maxsize=1)
def _spdx_ids() -> dict[str, str]:
    """lowercase -> SPDX id, every license and exception of the SPDX list (``license-expression``)."""
    from license_expression import get_license_index

    out: dict[str, str] = {}
    for entry in get_license_index():
        if entry.get("is_exception"):
            continue  # "WITH" exceptions are not licenses
        for key in (entry.get("spdx_license_key"), *(entry.get("other_spdx_license_keys") or ())):
            if key and not key.startswith("LicenseRef-"):
                out[key.lower()] = key
    return out


def check_license(value: str) -> str:
    """The license id written into cards and ``pretrained_cfg``: an SPDX id or ``other``, lowercase."""
    text = value.strip()
    if text.lower() == "other":
        return "other"
    if text.lower() not in _spdx_ids():
        raise TextError(f"license {shorten(value)} is not an SPDX license id (fix: an id from https://spdx.org/"
                        "licenses/ such as mit, apache-2.0 or cc-by-4.0, or other)")
    return text.lower()
