"""Docstrings of ``ofa2_zoo``: long parameter lists are described one by one, and nothing points at
a document the reader does not have.

- Every public function or method with more than :data:`MAX_UNDESCRIBED` parameters (``self`` and
  ``cls`` not counted) has a Google-style ``Args:`` section naming each of its parameters.
  Typer commands (``ofa2_zoo/cli``) are exempt: their docstring is the command's ``--help`` text,
  and each option is described by its own ``help=``.
- No docstring cites the product brief (``BRIEF``, ``§``) or a numbered ``contract``: neither is
  in the repository.

Benchmark figures belong in ``benchmarks/RESULTS.md``; docstrings say what code does.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ofa2_zoo"
MAX_UNDESCRIBED = 4
FOREIGN = re.compile(r"\bBRIEF\b|§|\b[Cc]ontract \d")


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return names[1:] if names[:1] in (["self"], ["cls"]) else names


def _is_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A typer command: decorated with ``@<app>.command(...)``/``.callback(...)``, or with a
    parameter whose default is ``typer.Option(...)``/``typer.Argument(...)``."""
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute) and target.attr in ("command", "callback"):
            return True
    for default in fn.args.defaults + [d for d in fn.args.kw_defaults if d is not None]:
        if (isinstance(default, ast.Call) and isinstance(default.func, ast.Attribute)
                and isinstance(default.func.value, ast.Name) and default.func.value.id == "typer"
                and default.func.attr in ("Option", "Argument")):
            return True
    return False


def public_functions(tree: ast.Module):
    """(qualified name, node) of every function a user can call: not nested in a function, neither
    it nor its class named with a leading underscore."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and not child.name.startswith("_"):
                yield f"{prefix}{child.name}", child

    yield from walk(tree, "")


def args_section(doc: str) -> set[str]:
    """The parameter names an ``Args:`` section describes (``name:`` or ``name (type):`` at the
    section's indentation; ``*args``/``**kwargs`` without their stars)."""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    except StopIteration:
        return set()
    names, indent = set(), None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        here = len(line) - len(line.lstrip())
        if indent is None:
            indent = here
        if here < indent:
            break
        if here == indent:
            m = re.match(r"\*{0,2}(\w+)(?:\s*\([^)]*\))?:", line.strip())
            if not m:
                break
            names.add(m.group(1))
    return names


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def undescribed(path: Path) -> list[str]:
    """``module:line name: missing params`` for each long public signature without a full Args: section."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for name, fn in public_functions(tree):
        params = _parameters(fn)
        if len(params) <= MAX_UNDESCRIBED or _is_command(fn):
            continue
        missing = [p for p in params if p not in args_section(ast.get_docstring(fn) or "")]
        if missing:
            found.append(f"{path.relative_to(PACKAGE.parent)}:{fn.lineno} {name}: {', '.join(missing)}")
    return found


def foreign_references(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False) or ""
            for m in FOREIGN.finditer(doc):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 1)} {m.group(0)!r}")
    return found


def test_long_parameter_lists_have_an_args_section_naming_each_parameter():
    assert [line for path in _modules() for line in undescribed(path)] == []


def test_no_docstring_cites_a_document_outside_the_repository():
    assert [line for path in _modules() for line in foreign_references(path)] == []


# The checks themselves, on code they must reject and code they must pass.

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ofa2_zoo" / "m.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "ofa2_zoo")
    return tmp_path


def test_five_parameters_need_args_and_four_do_not(here):
    path = _write(here, 'def four(a, b, c, d):\n    """Four."""\n\n'
                        'def five(self, a, b, c, d, *, e=1):\n    """Five, described in prose."""\n')
    assert undescribed(path) == ["ofa2_zoo/m.py:4 five: a, b, c, d, e"]


def test_an_args_section_must_name_every_parameter(here):
    path = _write(here, 'class C:\n    def f(self, a, b, c, d, *rest, **options):\n'
                        '        """F.\n\n        Args:\n            a: one.\n            b (int): two,\n'
                        '                continued: not a name.\n            c: three.\n            *rest: more.\n\n'
                        '        Returns:\n            d: not an argument.\n        """\n')
    assert undescribed(path) == ["ofa2_zoo/m.py:2 C.f: d, options"]


def test_private_nested_and_typer_functions_are_exempt(here):
    path = _write(here, 'def _f(a, b, c, d, e):\n    """Private."""\n\n'
                        'class _C:\n    def f(self, a, b, c, d, e):\n        """Private class."""\n\n'
                        'def g():\n    def inner(a, b, c, d, e):\n        """Nested."""\n\n'
                        '@app.command("x")\ndef command(a, b, c, d, e):\n    """The --help text."""\n\n'
                        'def registered(a=typer.Argument(...), b=1, c=2, d=3, e=4):\n    """Also --help text."""\n\n'
                        'def not_typer(a=other.Option(...), b=1, c=2, d=3, e=4):\n    """Prose."""\n')
    assert undescribed(path) == ["ofa2_zoo/m.py:19 not_typer: a, b, c, d, e"]


def test_references_to_the_brief_and_to_numbered_contracts_are_found(here):
    path = _write(here, '"""See BRIEF §6."""\n\ndef f():\n    """As contract 4 says."""\n\n'
                        'def g():\n    """In brief: the contract is kept; 4 contracts."""\n')
    assert foreign_references(path) == ["ofa2_zoo/m.py:1 'BRIEF'", "ofa2_zoo/m.py:1 '§'",
                                        "ofa2_zoo/m.py:3 'contract 4'"]
