"""mkdocs hook: render the ``ofa2`` CLI reference from the typer app at build time.

``docs/cli.md`` holds the marker below; this hook replaces it with typer's own Markdown for
every command and sub-command (the text ``--help`` prints), one heading level below the
page title. Generated, never hand-copied: an option added to a command shows up in the next
build, and a command that fails to build breaks ``mkdocs build --strict``.
"""

from __future__ import annotations

import re

MARKER = "<!-- ofa2-cli-reference -->"


def render_cli_reference() -> str:
    """Markdown for ``ofa2`` and all its commands, headings demoted by one level."""
    import typer
    from typer.cli import get_docs_for_click

    from ofa2_zoo.cli import build_app

    command = typer.main.get_command(build_app())
    text = get_docs_for_click(obj=command, ctx=typer.Context(command), name="ofa2")
    return re.sub(r"^(#+) ", r"#\1 ", text.strip(), flags=re.MULTILINE) + "\n"


def on_page_markdown(markdown: str, page, **_) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_cli_reference())
