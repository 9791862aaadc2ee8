"""`ofa2 search` and `ofa2 front show|plot|diff` end to end (tiny budgets), and their errors."""

from __future__ import annotations

import json
import re

import pytest

from ofa2_zoo.cli import main

from _search_helpers import ASSETS, needs_assets

pytestmark = needs_assets


def run(*args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code


def test_search_then_front_show_plot_diff(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("search", "--profile", "note10", "--population", 10, "--generations", 3, "--seed", 1,
               "--assets", ASSETS, "--out", a) == 0
    out = capsys.readouterr().out
    assert "hypervolume" in out and "note10 front" in out
    data = json.loads((a / "front.json").read_text())
    assert data["algorithm"]["name"] == "pals" and (a / "front.png").is_file()  # the default
    assert run("search", "-p", "note10", "-a", "random", "--population", 10, "--generations", 3,
               "--assets", ASSETS, "--out", b, "--no-plot") == 0
    capsys.readouterr()
    assert run("front", "show", a, "--select", 3) == 0
    out = capsys.readouterr().out
    assert "packaged" in out and "hypervolume" in out
    assert run("front", "plot", a, "--assets", ASSETS, "--out", tmp_path / "p.png") == 0
    out = capsys.readouterr().out
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert "note10_lat-30ms" in out
    assert run("front", "diff", a, b) == 0
    out = capsys.readouterr().out
    # the change, counted from the two front.json files
    fa, fb = (json.loads((f / "front.json").read_text()) for f in (a, b))
    archs_a, archs_b = ({json.dumps(m["arch"], sort_keys=True) for m in f["members"]} for f in (fa, fb))
    assert len(re.findall(r"\badded\b", out)) == len(archs_b - archs_a)
    assert len(re.findall(r"\bremoved\b", out)) == len(archs_a - archs_b)
    assert len(archs_a ^ archs_b) > 0
    ha, hb = fa["hypervolume"], fb["hypervolume"]
    assert (f"members: {len(fa['members'])} → {len(fb['members'])}; hypervolume {ha:.6g} → {hb:.6g} "
            f"({hb - ha:+.6g})") in out
    assert run("front", "diff", a, a) == 0
    assert "identical" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--algorithm", "nsga9"], "unknown algorithm 'nsga9'"),
    (["--population", "0"], "population must be an integer from 2 to 1,000,000, got 0"),
    (["--generations", "0"], "generations must be an integer from 1 to 1,000,000, got 0"),
    (["--profile", "mars"], "unknown hardware profile 'mars'"),
    (["--executor", "cloud"], "unknown executor 'cloud'"),
])
def test_search_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    assert run("search", "--assets", ASSETS, "--out", tmp_path / "o", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_assets_and_front_errors(tmp_path, capsys):
    assert run("search", "-p", "note10", "--assets", tmp_path, "--population", 4, "--generations", 1,
               "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "is not in the assets folder" in err and f"ofa2 assets fetch --assets {tmp_path}" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    assert run("front", "show", tmp_path / "nowhere") == 2
    assert "no front at" in capsys.readouterr().err
    (tmp_path / "front.json").write_text("{")
    assert run("front", "plot", tmp_path) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_search_defaults_to_the_zoos_default_profile_offline(tmp_path, capsys, monkeypatch):
    """A bare `ofa2 search` searches digits-cpu: no official files, no network."""
    monkeypatch.setenv("OFA2_OFFLINE", "1")
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "empty-cache"))
    assert run("search", "--population", 6, "--generations", 2, "--out", tmp_path / "o", "--no-plot") == 0
    front = json.loads((tmp_path / "o" / "front.json").read_text())
    assert front["profile"]["id"] == "digits-cpu" and front["accuracy"]["id"] == "fitted:ofa2_digits"


def test_help_texts(capsys):
    for args in (["search", "--help"], ["front", "--help"], ["front", "show", "--help"],
                 ["front", "plot", "--help"], ["front", "diff", "--help"]):
        assert run(*args) == 0
    out = capsys.readouterr().out
    assert "--population" in out and "--generations" in out and "what changed" in out.lower()


class _Recorded:
    """Every BackgroundPlot made while a test runs, and what became of its child."""

    def __init__(self, monkeypatch):
        import ofa2_zoo._plot as plot_module

        self.made, real = [], plot_module.BackgroundPlot
        recorder = self

        class Recording(real):
            def __init__(self):
                super().__init__()
                recorder.made.append(self._proc)

        monkeypatch.setattr(plot_module, "BackgroundPlot", Recording)


@pytest.mark.parametrize("args, early", [(["search", "-p", "note10"], True), (["search", "--no-plot"], False),
                                         (["search", "-h"], False), (["search", "--help"], False), (["run"], False),
                                         ([], False), (["front", "plot", "search"], False)])
def test_the_plot_process_starts_before_the_app_only_for_a_search_that_plots(monkeypatch, args, early):
    from ofa2_zoo.cli import _start_plot_early

    recorded = _Recorded(monkeypatch)
    plotter = _start_plot_early(args)
    assert (plotter is not None) == early and len(recorded.made) == int(early)
    if plotter is not None:
        plotter.close()
        assert recorded.made[0].returncode is not None


def test_the_search_draws_with_the_early_plot_process_and_a_failed_one_stops_it(tmp_path, monkeypatch, capsys):
    recorded = _Recorded(monkeypatch)
    assert run("search", "--profile", "note10", "--population", 6, "--generations", 2, "--assets", ASSETS,
               "--out", tmp_path / "a") == 0
    assert len(recorded.made) == 1 and recorded.made[0].returncode == 0  # one child, and it drew
    assert (tmp_path / "a" / "front.png").read_bytes()[:4] == b"\x89PNG"
    assert run("search", "--profile", "note10", "--population", "many") == 2  # a usage error: no search
    assert len(recorded.made) == 2 and recorded.made[1].returncode is not None  # its child was stopped
    assert run("search", "--profile", "note10", "--population", 6, "--generations", 2, "--assets", ASSETS,
               "--out", tmp_path / "b", "--plot") == 0
    assert len(recorded.made) == 3 and (tmp_path / "b" / "front.png").is_file()
