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


W12_ARCH = "r192-d32222-k755x33xx37xx55xx55xx-e366x46xx66xx36xx33xx"
DIGITS_ARCH = "r16-d123-k3xx35x355-e3xx34x444"


def test_show_valid_arch(capsys):
    assert run("arch", "show", "--json", W12_ARCH, "--space", "ofa_mbv3_w1.2") == 0
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


def test_default_space_is_the_default_profiles(capsys):
    """A member of the default front (digits-cpu, space ofa2_digits) needs no --space; sample uses it too."""
    assert run("arch", "show", "--json", DIGITS_ARCH) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["space"] == "ofa2_digits" and info["string"] == DIGITS_ARCH
    assert run("arch", "sample", "3", "--seed", "1") == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 3 and all(line.count("-") == 3 and len(line.split("-")[1]) == 4 for line in lines)


def test_arch_of_another_space_is_recognised_or_the_fitting_spaces_named(capsys):
    assert run("arch", "show", "--json", '{"ks": [3, 5, 3, 3, 3, 3, 5, 5, 3], "e": [2, 3, 4, 2, 2, 2, 3, 3, 2], '
                                         '"d": [2, 1, 3], "r": [12]}') == 0
    assert json.loads(capsys.readouterr().out)["space"] == "ofa2_digits"
    assert run("arch", "show", W12_ARCH) == 2
    err = capsys.readouterr().err
    assert "the arch fits several spaces (ofa_mbv3_w1.0, ofa_mbv3_w1.2); pass --space with one of them" in err
    assert run("arch", "show", W12_ARCH, "--space", "ofa2_digits") == 2
    err = capsys.readouterr().err
    assert "'ks' has 20 values; space 'ofa2_digits' needs 9; the arch's shape fits --space ofa_mbv3_w1.0 or " \
           "ofa_mbv3_w1.2" in err
    # the shape fits the space given, a value does not: the error is the value's, with no --space advice
    assert run("arch", "show", '{"ks": [9, 5, 3, 3, 3, 3, 5, 5, 3], "e": [2, 3, 4, 2, 2, 2, 3, 3, 2], '
                               '"d": [2, 1, 3], "r": [12]}', "--space", "ofa2_digits") == 2
    err = capsys.readouterr().err
    assert err == "error: kernel size of block 0 ('ks[0]') is 9; allowed: {3, 5}\n"
    assert run("arch", "show", "r16-d12-k3xx35x-e3xx34x") == 2
    err = capsys.readouterr().err
    assert "the arch has 6 blocks in 2 stages; no registered space has that shape (known: ofa2_digits (9 blocks, " \
           "3 stages)" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("arch,message", [
    ("x", "not an arch string"),
    ('{"ks": [3], "e": [3], "d": [2], "r": 224}', "the arch has 1 blocks in 1 stages; no registered space has that"),
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
