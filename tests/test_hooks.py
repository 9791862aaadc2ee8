"""Post-import hooks (``ofa2_zoo._hooks``): timm's names register on timm's import, typer's help
folding happens only when typer draws help, and neither costs a command that needs neither."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ofa2_zoo._hooks import _Finder, when_imported


@pytest.fixture
def fresh_module(tmp_path, monkeypatch):
    """A module name nobody has imported, on a path the test controls."""
    name = f"ofa2_hook_probe_{tmp_path.name.replace('-', '_')}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, tmp_path / f"{name}.py"
    sys.modules.pop(name, None)
    sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, _Finder) and f.name == name)]


def test_the_hook_runs_once_right_after_the_import_with_the_modules_own_loader(fresh_module):
    name, path = fresh_module
    path.write_text("VALUE = 41\n")
    seen = []
    when_imported(name, lambda m: seen.append((m.__name__, m.VALUE, type(m.__loader__).__name__)))
    assert seen == [] and any(isinstance(f, _Finder) for f in sys.meta_path)
    module = __import__(name)
    assert seen == [(name, 41, "SourceFileLoader")]  # timm sees its own loader, as without the hook
    assert module.__spec__.loader is module.__loader__
    assert not any(isinstance(f, _Finder) and f.name == name for f in sys.meta_path)
    import importlib

    importlib.reload(module)  # a reload is not an import: the hook does not run again
    assert len(seen) == 1


def test_an_imported_module_gets_the_hook_at_once(fresh_module):
    name, path = fresh_module
    path.write_text("VALUE = 7\n")
    module = __import__(name)
    seen = []
    when_imported(name, lambda m: seen.append(m))
    assert seen == [module] and not any(isinstance(f, _Finder) and f.name == name for f in sys.meta_path)


def test_a_failed_import_calls_nothing_and_the_next_import_still_runs_the_hook(fresh_module):
    name, path = fresh_module
    seen = []
    when_imported(name, lambda m: seen.append(m.VALUE))
    with pytest.raises(ModuleNotFoundError):
        __import__(name)  # not there yet
    path.write_text("raise RuntimeError('broken')\n")
    with pytest.raises(RuntimeError, match="broken"):
        __import__(name)  # there, but its code fails
    assert seen == []
    sys.modules.pop(name, None)
    path.write_text("VALUE = 3\n")
    import importlib

    importlib.invalidate_caches()
    __import__(name)
    assert seen == [3]


def test_other_modules_import_untouched_and_a_waiting_hook_is_registered_once(fresh_module, tmp_path):
    name, _ = fresh_module
    calls = []
    hook = calls.append
    for _ in range(3):  # the CLI registers its hook on every main() call
        when_imported(name, hook)
    assert sum(isinstance(f, _Finder) and f.name == name for f in sys.meta_path) == 1
    other = f"{name}_other"
    (tmp_path / f"{other}.py").write_text("VALUE = 1\n")
    try:
        module = __import__(other)  # a module the hook does not name: the import system's own loader
        assert type(module.__loader__).__name__ == "SourceFileLoader" and calls == []
    finally:
        sys.modules.pop(other, None)
    (tmp_path / f"{name}.py").write_text("VALUE = 2\n")
    __import__(name)
    assert [m.__name__ for m in calls] == [name]  # called once, not once per registration


_PROBE = """
import json, sys, ofa2_zoo
after_import = sorted(m for m in ("wrapt", "asyncio", "ssl", "timm", "typer.rich_utils") if m in sys.modules)
from ofa2_zoo.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"after_import": after_import, "code": code,
                  "rich_utils": "typer.rich_utils" in sys.modules}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv, rich_utils", [(["profile", "list"], False), (["profile", "--help"], True),
                                              (["profile", "show", "--bogus"], False)])
def test_import_is_light_and_typer_draws_help_only_when_asked(argv, rich_utils):
    res = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True)
    out = json.loads(res.stderr.strip().splitlines()[-1])
    assert out["after_import"] == []  # no wrapt, asyncio or ssl: ~0.1 s that every command paid
    # a usage error is ofa2's own one line (cli/guard.py), so it does not draw typer's panels either
    assert out["rich_utils"] is rich_utils and out["code"] == (2 if "--bogus" in argv else 0)
    if argv[-1] == "--help":  # typer's help came out, folded by the hook (no "…")
        assert "list" in res.stdout and "…" not in res.stdout
