"""The layering rule: a stage imports only stages to its left, and no module imports itself back.

Every import of every module of ``ofa2_zoo`` is read from the source: lazy imports inside
functions, ``TYPE_CHECKING`` blocks, and ``importlib.import_module("ofa2_zoo....")`` with a
literal name, so an import hidden in a function cannot break the rule unseen. ``STAGES`` below is
the one place the order is written (docs/development.md, "Where things live", shows it).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ofa2_zoo"

#: The stages from left to right: a module may import its own stage and the stages before it.
#: ``foundation`` is shared by all (errors, file writing, constants, defaults, the catalog of
#: what ships); ``ofa2_zoo`` is the package's lazy facade and the timm hook; ``cli`` the commands.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("_version", "errors", "constants", "progress", "_io", "_plot", "_litert", "_schema", "_text",
                    "_threads", "_hooks", "defaults", "catalog")),
    ("assets", ("assets",)),
    ("space", ("space",)),
    ("supernet", ("supernet",)),
    ("training", ("training",)),
    ("objectives", ("objectives",)),
    ("profiles", ("profiles",)),
    ("front", ("front",)),
    ("search", ("search",)),
    ("explorer", ("explorer",)),
    ("package", ("package",)),
    ("zoo", ("zoo",)),
    ("publish", ("publish",)),
    ("registry", ("registry",)),
    ("export", ("export",)),
    ("run", ("run",)),
    ("cli", ("cli", "__main__")),
)


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """``ofa2_zoo.x.y`` -> its file, for every module and package of the tree."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.AST, here: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = here.split(".") if is_package else here.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        return [f"{module}.{alias.name}" for alias in node.names]
    if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """module -> {imported ofa2_zoo module: first line}, lazy imports included."""
    names = module_names(package)
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for here, path in names.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node, here, is_package):
                while target and target not in names:  # `from pkg import name` -> pkg
                    target = target.rpartition(".")[0]
                if target.startswith("ofa2_zoo") and target != here:
                    graph[here].setdefault(target, node.lineno)
        graph.setdefault(here, {})
    return dict(graph)


def stage_of(module: str) -> int:
    """The position of ``module``'s stage in ``STAGES`` (the facade ``ofa2_zoo`` is last)."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(STAGES)
    for position, (_, units) in enumerate(STAGES):
        if parts[1] in units:
            return position
    raise AssertionError(f"{module} is in no stage: add it to STAGES in tests/test_layers.py")


def stage_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every import of a stage to the importer's right (the facade ``ofa2_zoo`` is right of all)."""
    found = []
    for here, targets in sorted(graph.items()):
        for target, line in sorted(targets.items()):
            if stage_of(target) > stage_of(here):
                found.append(f"{here}:{line} imports {target}, a stage to its right")
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_stage_imports_only_stages_to_its_left():
    assert stage_violations(import_graph()) == []


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_every_module_is_in_a_stage():
    for module in module_names():
        stage_of(module)


# The checker itself, on small trees it would have to reject.

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ofa2_zoo"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_lazy_import_of_a_stage_to_the_right_is_found(tmp_path):
    root = _tree(tmp_path, {"space.py": "def f():\n    from .search import run\n",
                            "search/__init__.py": "from ..space import f\n"})
    assert stage_violations(import_graph(root)) == ["ofa2_zoo.space:2 imports ofa2_zoo.search, a stage to its right"]


def test_a_type_checking_import_and_a_string_import_are_found(tmp_path):
    root = _tree(tmp_path, {"supernet/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                                     "    from ..package import Package\n",
                            "training/__init__.py": "import importlib\nimportlib.import_module('ofa2_zoo.run')\n",
                            "package/__init__.py": "", "run.py": ""})
    assert stage_violations(import_graph(root)) == [
        "ofa2_zoo.supernet:3 imports ofa2_zoo.package, a stage to its right",
        "ofa2_zoo.training:2 imports ofa2_zoo.run, a stage to its right"]


def test_left_and_same_stage_imports_pass_and_a_cycle_inside_a_stage_is_found(tmp_path):
    root = _tree(tmp_path, {"supernet/__init__.py": "from ..space import x\n", "space.py": "x = 1\n",
                            "supernet/a.py": "from .b import y\n", "supernet/b.py": "def g():\n    from . import a\n"})
    graph = import_graph(root)
    assert stage_violations(graph) == []
    assert cycles(graph) == [["ofa2_zoo.supernet.a", "ofa2_zoo.supernet.b"]]
