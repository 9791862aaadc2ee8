"""The README stays a short entry point into the documentation site, and the site's generated
CLI reference covers every command (``mkdocs build --strict`` itself runs in ``.ci/run``)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_is_at_most_8_kb_and_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 8 * 1024
    blocks = re.findall(r"```bash\n(.*?)\n```", text, flags=re.DOTALL)
    assert blocks[:2] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && ofa2 run --out out",
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && python -m pytest -q -n auto",
    ]


def test_ci_runs_the_readme_test_command():
    """.ci/run installs what the README's test command installs and runs the same pytest call."""
    readme = re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), flags=re.DOTALL)[1]
    install, test = re.fullmatch(r".*?&& (pip install -e '[^']+') && (python -m pytest -q -n auto)", readme).groups()
    ci = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert f"python -m {install.replace('pip install', 'pip install -q')}" in ci
    assert test in ci and "python3 -m venv .venv" in ci  # its own environment, nothing installed by hand


def test_ci_installs_every_runtime_extra_and_requires_the_runtimes_in_their_tests():
    """The runtime tests run in CI with every runtime's extra installed, where a missing one fails."""
    from _ci import RUNTIMES_ENV
    from ofa2_zoo.package.runtimes import RUNTIMES

    ci = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    extras = sorted(r.extra for r in RUNTIMES.values() if r.extra)
    assert extras == ["executorch", "litert", "openvino"]
    assert f"python -m pip install -q -e '.[{','.join(sorted(extras, key=['litert', 'executorch', 'openvino'].index))}]'" in ci
    run = [line for line in ci if line.startswith(f"{RUNTIMES_ENV}=1 python -m pytest -q ")]
    assert len(run) == 1 and set(run[0].split()[5:]) == {"tests/test_runtimes.py", "tests/test_runtimes_int8.py",
                                                                  "tests/test_latency_litert.py"}
    assert [line for line in ci if line][-1] == run[0]  # last: the extras change the environment


def test_readme_links_resolve_to_files_and_headings():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#([^)]+))?\)", text)
    local = [(path, anchor) for path, anchor in links if not path.startswith(("http://", "https://"))]
    assert len(local) >= 12
    for path, anchor in local:
        target = ROOT / path
        assert target.exists(), f"README links to {path}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(encoding="utf-8"), flags=re.MULTILINE)
            slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README links to {path}#{anchor}; headings there: {sorted(slugs)}"


def test_every_docs_page_is_in_the_site_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert in_nav == on_disk


def _commands(group, prefix: str):
    """Every command path under a (typer's) click group."""
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        yield path
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)


def test_generated_cli_reference_documents_every_command_and_option():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs" / "hooks" / "cli_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = "# CLI reference\n\n" + hook.MARKER + "\n"
    text = hook.on_page_markdown(page, page=None)
    assert hook.MARKER not in text
    from ofa2_zoo.cli import build_app

    root = typer.main.get_command(build_app())
    paths = list(_commands(root, "ofa2"))
    assert "ofa2 front diff" in paths and "ofa2 run" in paths
    for path in paths:
        # Headings one level below the page title: '## `ofa2`', '### `ofa2 run`', '#### `ofa2 front diff`'.
        level = "#" * (path.count(" ") + 2)
        assert f"\n{level} `{path}`\n" in text, f"no heading for {path}"
    run_section = text.split("### `ofa2 run`", 1)[1].split("\n### ", 1)[0]
    for option in ("--out", "--profile", "--algorithm", "--population", "--generations", "--seed", "--members"):
        assert f"`{option}" in run_section or f", {option}" in run_section, option


def test_readme_first_example_classifies_fashion_mnist_by_name_in_a_fresh_process(tmp_path):
    """The README's Python block, pasted into a new process with a fresh HOME, offline."""
    import os
    import subprocess
    import sys

    from ofa2_zoo.catalog import FASHION_MNIST
    from ofa2_zoo.errors import DatasetError
    from ofa2_zoo.training.fashion_mnist import data_folder

    from _ci import missing

    try:
        data_folder()
    except DatasetError as exc:
        missing(f"Fashion-MNIST is not installed: {exc}")
    text = README.read_text(encoding="utf-8")
    block = re.findall(r"```python\n(.*?)\n```", text[text.index("## A first example"):], flags=re.DOTALL)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFA2_", "HF_"))}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 8
    pairs = [re.fullmatch(r"(.+?) +true: (.+)", line).groups() for line in lines]
    assert all(p in FASHION_MNIST.classes and t in FASHION_MNIST.classes for p, t in pairs)
    assert sum(p == t for p, t in pairs) >= 6  # the most accurate member is right on about 9 in 10


def test_the_readme_test_command_starts_one_worker_per_core_at_most_4(monkeypatch):
    """``-n auto`` asks ``tests/conftest.py``: one worker per core this process may use, 1 to 4."""
    import conftest

    for cores, workers in ((1, 1), (2, 2), (4, 4), (5, 4), (64, 4)):
        monkeypatch.setattr(conftest.os, "sched_getaffinity", lambda pid, n=cores: set(range(n)))
        assert conftest.pytest_xdist_auto_num_workers(None) == workers


def test_the_suite_runs_without_pytest_xdist_too():
    """The conftest's xdist hook is optional: with xdist absent (here: disabled) pytest still runs."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                           "--collect-only", "tests/test_docs.py"], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
