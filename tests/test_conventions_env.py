"""Conventions with one home: the environment (``constants.py``), defaults (``defaults.py``), the
progress callback (``progress.py``), the rich console (``cli/_ui.py``), typer for every command
line, and stage facades outside ``__init__.py``.

The scans read the source of every module of ``ofa2_zoo`` (as ``tests/test_layers.py`` does), so
a copy that comes back in any module fails here; the other tests check that the one home
behaves as documented.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ofa2_zoo import constants
from ofa2_zoo.errors import AssetError

PACKAGE = Path(__file__).resolve().parents[1] / "ofa2_zoo"
ROOT = PACKAGE.parent


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _is_os_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)
            and node.value.id == "os")


#: what may be done to ``os.environ`` outside constants.py: writing it (not reading it)
_WRITES = {"setdefault", "pop", "update", "__setitem__"}


def environment_reads(tree: ast.AST, where: str) -> list[str]:
    """Every read of the environment in ``tree``: ``os.environ`` other than a write,
    ``os.getenv``, and ``from os import environ/getenv``."""
    found = []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and \
                {a.name for a in node.names} & {"environ", "getenv", "environb", "getenvb"}:
            found.append(f"{where}:{node.lineno} imports the environment from os")
        elif isinstance(node, ast.Attribute) and node.attr in ("getenv", "getenvb") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append(f"{where}:{node.lineno} os.{node.attr}")
        elif _is_os_environ(node):
            parent = parents.get(node)
            if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Store):
                continue  # os.environ[name] = value
            if isinstance(parent, ast.Attribute) and parent.attr in _WRITES:
                continue
            found.append(f"{where}:{node.lineno} reads os.environ")
    return found


def test_the_environment_is_read_only_in_constants():
    reads = [r for where, tree in _modules() if where != "ofa2_zoo/constants.py"
             for r in environment_reads(tree, where)]
    assert reads == []


def test_the_environment_scan_sees_reads_and_lets_writes_pass():
    source = ("import os\nfrom os import getenv\n"
              "a = os.environ.get('X')\nb = os.environ['X']\nc = 'X' in os.environ\nd = os.getenv('X')\n"
              "e = dict(os.environ)\n"
              "os.environ['X'] = '1'\nos.environ.setdefault('Y', '2')\nos.environ.pop('X', None)\n")
    assert sorted(r.split(" ", 1)[0] for r in environment_reads(ast.parse(source), "m")) == \
        ["m:2", "m:3", "m:4", "m:5", "m:6", "m:7"]


def test_offline_is_asked_one_way():
    """Only constants.py asks huggingface_hub whether it is offline; every other module asks constants.offline()."""
    found = [f"{where}:{node.lineno}" for where, tree in _modules() if where != "ofa2_zoo/constants.py"
             for node in ast.walk(tree)
             if (isinstance(node, ast.Attribute) and node.attr in ("is_offline_mode", "HF_HUB_OFFLINE"))
             or (isinstance(node, ast.alias) and node.name == "is_offline_mode")]
    assert found == []


def test_one_progress_type():
    """``ProgressFn`` is defined once, and every ``progress`` parameter of a function is one."""
    definitions = [f"{where}:{node.lineno}" for where, tree in _modules() for node in ast.walk(tree)
                   if (isinstance(node, ast.ClassDef) and node.name.endswith("ProgressFn"))
                   or (isinstance(node, (ast.Assign, ast.AnnAssign))
                       and any(isinstance(t, ast.Name) and "Progress" in t.id and t.id != "Progress"
                               for t in (node.targets if isinstance(node, ast.Assign) else [node.target])))]
    assert definitions == ["ofa2_zoo/progress.py:17"]
    untyped = []
    for where, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                untyped += [f"{where}:{node.lineno} {node.name}({a.arg})" for a in args
                            if (a.arg == "progress" or a.arg.endswith("_progress"))
                            and (a.annotation is None or "ProgressFn" not in ast.unparse(a.annotation))]
    assert untyped == []


def test_consoles_come_from_the_factory():
    made = [f"{where}:{node.lineno}" for where, tree in _modules() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Console"]
    assert made == ["ofa2_zoo/cli/_ui.py:38"]


def test_every_command_line_is_typer():
    argparse = [f"{where}:{node.lineno}" for where, tree in _modules() for node in ast.walk(tree)
                if (isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names))
                or (isinstance(node, ast.ImportFrom) and node.module == "argparse")]
    assert argparse == []


_BUDGET = ("population", "generations", "seed", "members")


def test_budget_defaults_are_named_not_written():
    """A ``population``/``generations``/``seed``/``members`` parameter (or typer option) of the
    search and run stages and their commands takes its default from ``defaults.py``."""
    written = []
    for where, tree in _modules():
        if not where.startswith(("ofa2_zoo/search/", "ofa2_zoo/run.py", "ofa2_zoo/cli/search.py",
                                 "ofa2_zoo/cli/run.py")):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args.posonlyargs + node.args.args
            pairs = list(zip(args[len(args) - len(node.args.defaults):], node.args.defaults))
            pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            for arg, default in pairs:
                value = default.args[0] if isinstance(default, ast.Call) and default.args else default
                if arg.arg in _BUDGET and isinstance(value, ast.Constant) and isinstance(value.value, int):
                    written.append(f"{where}:{node.lineno} {node.name}({arg.arg}={value.value})")
    assert written == []


def test_search_and_run_share_one_budget_default():
    import typer.main

    from ofa2_zoo import defaults
    from ofa2_zoo.cli.run import run as run_command
    from ofa2_zoo.cli.search import search_command
    from ofa2_zoo.profiles.schema import Package
    from ofa2_zoo.run import run_pipeline
    from ofa2_zoo.search import search

    shared = {"population": defaults.DEFAULT_POPULATION, "seed": defaults.DEFAULT_SEED}
    assert shared == {"population": 100, "seed": 1}
    # a search alone: 10,000 evaluations (benchmarks/bench_cli.py times it); ofa2 run: 200 generations
    # (what docs/training.md promises)
    assert (defaults.DEFAULT_GENERATIONS, defaults.RUN_GENERATIONS) == (100, 200)
    for fn, command, generations in ((search, search_command, defaults.DEFAULT_GENERATIONS),
                                     (run_pipeline, run_command, defaults.RUN_GENERATIONS)):
        expected = {**shared, "generations": generations}
        params = inspect.signature(fn).parameters
        assert {k: params[k].default for k in expected} == expected, fn.__name__
        params = {p.name: p.default for p in typer.main.get_command(_one(command)).params}
        assert {k: params[k] for k in expected} == expected, command.__name__
    assert Package().members == defaults.DEFAULT_MEMBERS == 5


def _one(fn):
    import typer

    app = typer.Typer()
    app.command()(fn)
    return app


# ---------------------------------------------------------------------------- constants.py itself
@pytest.fixture
def clean_env(monkeypatch):
    from huggingface_hub import constants as hf_constants

    for name in ("OFA2_OFFLINE", "HF_HUB_OFFLINE", "OFA2_MACHINE_CHECK", "OFA2_DEBUG", "OFA2_CACHE", "OFA2_ASSETS",
                 "OFA2_DOWNLOAD_STALL", "OFA2_DOWNLOAD_DEADLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return monkeypatch


@pytest.mark.parametrize("name", ["OFA2_OFFLINE", "HF_HUB_OFFLINE"])
@pytest.mark.parametrize("value, on", [("1", True), ("true", True), (" YES ", True), ("on", True),
                                       ("0", False), ("", False), ("off", False), ("2", False), ("maybe", False)])
def test_offline_switches(clean_env, name, value, on):
    assert constants.offline() is False
    clean_env.setenv(name, value)
    assert constants.offline() is on


def test_offline_follows_huggingface_hubs_own_mode(clean_env):
    from huggingface_hub import constants as hf_constants

    clean_env.setattr(hf_constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 at its import gives
    assert constants.offline() is True
    clean_env.setenv("OFA2_OFFLINE", "0")  # an explicit "no" of ours does not override the Hub library's own mode
    assert constants.offline() is True


@pytest.mark.parametrize("value, on", [(None, True), ("", True), ("1", True), ("maybe", True), ("0", False),
                                       ("off", False), (" FALSE ", False), ("no", False)])
def test_machine_check_is_on_unless_turned_off(clean_env, value, on):
    if value is not None:
        clean_env.setenv("OFA2_MACHINE_CHECK", value)
    assert constants.machine_check() is on


@pytest.mark.parametrize("value, on", [(None, False), ("", False), ("0", False), ("1", True), ("true", True)])
def test_debug_is_off_unless_turned_on(clean_env, value, on):
    if value is not None:
        clean_env.setenv("OFA2_DEBUG", value)
    assert constants.debug() is on


def test_folders_expand_the_home_and_an_empty_value_is_unset(clean_env, tmp_path):
    clean_env.setenv("HOME", str(tmp_path))
    assert constants.cache_dir() == tmp_path / ".cache" / "ofa2_zoo"
    clean_env.setenv("OFA2_CACHE", "")
    assert constants.cache_dir() == tmp_path / ".cache" / "ofa2_zoo"
    clean_env.setenv("OFA2_CACHE", "~/elsewhere")
    assert constants.cache_dir() == tmp_path / "elsewhere"
    assert constants.assets_dir() is None
    clean_env.setenv("OFA2_ASSETS", "~/assets")
    assert constants.assets_dir() == tmp_path / "assets"


@pytest.mark.parametrize("name, default", [("OFA2_DOWNLOAD_STALL", 60.0), ("OFA2_DOWNLOAD_DEADLINE", 3600.0)])
def test_download_seconds(clean_env, name, default):
    read = constants.download_stall_seconds if name.endswith("STALL") else constants.download_deadline_seconds
    assert read() == default
    clean_env.setenv(name, "0.001")
    assert read() == 0.001
    for bad in ("0", "-1", "inf", "nan", "soon"):
        clean_env.setenv(name, bad)
        with pytest.raises(AssetError) as exc:
            read()
        assert str(exc.value) == (f"{name}={bad!r} is not a number of seconds > 0 (fix: e.g. {name}={default:g}, "
                                  "or unset it)")


def test_environment_set_restores_what_was_there(clean_env):
    clean_env.setenv("OFA2_TEST_SETTING", "before")
    with constants.environment_set("OFA2_TEST_SETTING", "inside"):
        assert constants._text("OFA2_TEST_SETTING") == "inside"
    assert constants._text("OFA2_TEST_SETTING") == "before"
    clean_env.delenv("OFA2_TEST_SETTING")
    with constants.environment_set("OFA2_TEST_SETTING", "inside"):
        assert constants._text("OFA2_TEST_SETTING") == "inside"
    assert constants._text("OFA2_TEST_SETTING") is None


def test_ofa2_offline_stops_hub_pulls_and_official_downloads_alike(clean_env, tmp_path):
    """The two ways offline used to be checked (assets: ``== "1"``; Hub: huggingface_hub's mode) are one."""
    from ofa2_zoo.assets import resolve_asset
    from ofa2_zoo.registry import RegistryError, _hub_tags

    clean_env.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    clean_env.setenv("OFA2_ASSETS_URL", "http://127.0.0.1:9/")  # a download attempt would fail differently
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    from huggingface_hub import constants as hf_constants

    clean_env.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    clean_env.setattr(hf_constants, "ENDPOINT", "http://127.0.0.1:9")
    clean_env.setenv("OFA2_OFFLINE", "yes")
    with pytest.raises(AssetError, match=r"^acc_predictor\.pth is not cached and downloads are off"):
        resolve_asset("acc_predictor.pth")
    with pytest.raises(RegistryError) as exc:
        _hub_tags("org/a-front")
    assert str(exc.value) == "cannot list the versions of Hub front repo org/a-front (offline, and nothing cached)"


# ---------------------------------------------------------------------------- facades
def test_search_reports_progress_through_the_one_type(tmp_path, monkeypatch):
    from ofa2_zoo.search import search

    monkeypatch.setenv("OFA2_OFFLINE", "1")
    seen = []
    front = search(population=6, generations=3, progress=lambda *a, **values: seen.append((a, values)))
    assert [a for a, _ in seen] == [("search", 1, 3), ("search", 2, 3), ("search", 3, 3)]
    assert [sorted(v) for _, v in seen] == [["hv"]] * 3
    assert seen[-1][1]["hv"] == pytest.approx(front.hypervolume, rel=1e-12)


def test_public_functions_named_like_their_stage_stay_functions():
    """``ofa2_zoo.search(...)`` and ``ofa2_zoo.publish(...)`` whatever was imported before (the
    import system binds each loaded sub-package to its parent), and the stages' modules stay
    importable by name."""
    code = ("import sys, ofa2_zoo.publish.pull, ofa2_zoo.search.engine, ofa2_zoo.explorer\n"
            "import ofa2_zoo, json\n"
            "from ofa2_zoo.search import engine\n"
            "from ofa2_zoo.search.api import search\n"
            "from ofa2_zoo.publish.publish import publish\n"
            "from ofa2_zoo.explorer.page import write_explorer\n"
            "print(json.dumps([ofa2_zoo.search is search, ofa2_zoo.publish is publish,\n"
            "                  sys.modules['ofa2_zoo.search'].search is search,\n"
            "                  ofa2_zoo.explorer.write_explorer is write_explorer,\n"
            "                  type(sys.modules['ofa2_zoo.search']).__name__,\n"
            "                  callable(sys.modules['ofa2_zoo.search'])]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [True, True, True, True, "module", False]


@pytest.mark.parametrize("package", ["search", "explorer", "publish"])
def test_stage_packages_only_re_export(package):
    """A stage's ``__init__.py`` holds a docstring, imports and ``__all__``: no code of its own."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body[1:]}
    assert kinds <= {"ImportFrom", "Import", "Assign"}
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert assigned == ["__all__"]
