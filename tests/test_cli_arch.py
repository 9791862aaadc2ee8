"""The CLI turns user errors into one line and exit code 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from ofa2_zoo import ArchSpec, create_subnet, get_space
from ofa2_zoo.cli import main

from test_efficiency import counted_macs


def run(*args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return exc.value.code


def test_show_valid_arch(capsys):
    assert run("arch", "show", "--json", "r192-d32222-k755x33xx37xx55xx55xx-e366x46xx66xx36xx33xx") == 0
    info = json.loads(capsys.readouterr().out)
    # skipped blocks ('x') read as the smallest choice, index 0
    assert info["arch"] == {"ks": [7, 5, 5, 3, 3, 3, 3, 3, 3, 7, 3, 3, 5, 5, 3, 3, 5, 5, 3, 3],
                            "e": [3, 6, 6, 3, 4, 6, 3, 3, 6, 6, 3, 3, 3, 6, 3, 3, 3, 3, 3, 3],
                            "d": [3, 2, 2, 2, 2], "r": [192]}
    assert info["genes"] == ([2, 1, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
                             + [0, 2, 2, 0, 1, 2, 0, 0, 2, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 16])
    # MACs and parameters counted on the built network (forward hooks, parameter sizes)
    space = get_space(info["space"])
    net = create_subnet(ArchSpec.from_dict(info["arch"], space), space)
    assert info["macs_m"] == pytest.approx(counted_macs(net, 3, 192) / 1e6, abs=1e-6)
    assert info["params_m"] == pytest.approx(sum(t.numel() for t in net.parameters()) / 1e6, abs=1e-6)


@pytest.mark.parametrize("arch,message", [
    ("x", "not an arch string"),
    ('{"ks": [3], "e": [3], "d": [2], "r": 224}', "'ks' has 1 values"),
    ("r100-d44444-k" + "7" * 20 + "-e" + "6" * 20, "resolution 100 is not allowed"),
    ("@/nonexistent/arch.json", "does not exist"),
])
def test_bad_arch_is_one_line_exit_2(capsys, arch, message):
    assert run("arch", "show", arch) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_space_and_usage_errors(capsys):
    assert run("arch", "show", "x", "--space", "nope") == 2
    assert "unknown search space 'nope'" in capsys.readouterr().err
    assert run("arch", "shw") == 2


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "ofa2_zoo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "arch" in out.stdout
