"""Option bounds of the CLI, each tested at the last accepted value and the first refused one:
a refused value is one line and exit code 2, never a traceback or a silent no-op."""

from __future__ import annotations

import json

import pytest

from ofa2_zoo.cli import main


def run(*args) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code or 0


@pytest.fixture(scope="module")
def front_dir(tmp_path_factory):
    from ofa2_zoo.search import search

    path = tmp_path_factory.mktemp("front")
    search("digits-cpu", population=8, generations=2, seed=0).save(path)
    return path


def test_front_show_select_needs_at_least_one_member(front_dir, capsys):
    assert run("front", "show", front_dir, "--json", "--select", 1) == 0
    assert sum(m["packaged"] for m in json.loads(capsys.readouterr().out)["members"]) == 1
    for bad in (0, -1):
        assert run("front", "show", front_dir, "--select", bad) == 2
        err = capsys.readouterr().err
        assert "--select" in err and "greater than or equal to 1" in err and "Traceback" not in err


def test_arch_sample_count_is_capped(capsys):
    assert run("arch", "sample", 1, "--space", "ofa2_digits") == 0
    assert len(capsys.readouterr().out.split()) == 1
    assert run("arch", "sample", 10_000_001, "--space", "ofa2_digits") == 2
    err = capsys.readouterr().err
    assert "less than or equal to 10000000" in err and "out of memory" not in err


def test_data_fetch_refuses_a_file_as_its_folder(tmp_path, capsys):
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    assert run("data", "fetch", "fashion-mnist", "--data", target, "--quiet") == 2
    err = capsys.readouterr().err
    assert f"--data {target} is a file, not a folder" in err
    assert target.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_search_seed_is_a_32_bit_integer(tmp_path, capsys):
    from ofa2_zoo.search import SearchError, search
    from ofa2_zoo.search.api import SEED_MAX

    assert SEED_MAX == 2**32 - 1
    front = search("digits-cpu", population=4, generations=1, seed=SEED_MAX)
    assert front.seed == SEED_MAX
    for bad in (-1, SEED_MAX + 1, 2**70, True, 1.0):
        with pytest.raises(SearchError) as exc:
            search("digits-cpu", population=4, generations=1, seed=bad)
        assert str(exc.value) == f"seed must be an integer from 0 to 4,294,967,295, got {bad!r}"
    assert run("search", "--seed", SEED_MAX + 1, "--population", 4, "--generations", 1, "--out", tmp_path / "s") == 2
    assert capsys.readouterr().err.strip() == "error: seed must be an integer from 0 to 4,294,967,295, got 4294967296"
    assert not (tmp_path / "s").exists()


def test_publish_hands_its_options_to_the_publisher(tmp_path, monkeypatch, capsys):
    """``--retries``, ``--timeout``, ``--version``, ``--no-index`` and ``--dry-run`` reach
    :func:`ofa2_zoo.publish.publish` as given (defaults checked in ``RetryPolicy``'s own tests)."""
    import importlib
    from types import SimpleNamespace

    from _bad_input_helpers import run_cli

    publish_mod = importlib.import_module("ofa2_zoo.publish")  # the package (its `publish` is the function)

    seen = {}

    def fake(package_dir, namespace, **kw):
        seen.update(kw, package_dir=package_dir, namespace=namespace)
        return SimpleNamespace(status="dry run", profile="digits-cpu", version="v3", repos=[])

    monkeypatch.setattr(publish_mod, "publish", fake)
    rc, out, err = run_cli(capsys, "publish", tmp_path, "--namespace", "org", "--retries", "3", "--timeout", "7.5",
                           "--version", "v3", "--no-index", "--dry-run", "--quiet")
    assert rc in (0, None), err
    assert seen["retry"].attempts == 3 and seen["timeout"] == 7.5 and seen["version"] == "v3"
    assert seen["update_index"] is False and seen["dry_run"] is True and seen["namespace"] == "org"
    assert "dry run: digits-cpu v3" in out
