"""The ``ofa2`` command starts instantly: help and list commands import no torch/timm/onnx.

One fresh interpreter runs ``--help`` of the root, of every group and of every command, then
every group's ``list`` command, and reports which heavy modules each invocation pulled in
(a module stays imported, so the first invocation that needs it is the one named). A new
command module that imports torch at module level fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "torchvision", "timm", "onnx", "onnxruntime", "matplotlib")

SCRIPT = r"""
import contextlib, io, json, sys
import typer.main
from ofa2_zoo.cli import build_app, main

HEAVY = set(sys.argv[1].split(","))
if len(sys.argv) > 2:  # the command lines to run, as JSON
    runs = json.loads(sys.argv[2])
else:  # every --help, then every list command
    app = typer.main.get_command(build_app())
    calls = [["--help"]]
    lists = []
    for name, cmd in sorted(app.commands.items()):
        calls.append([name, "--help"])
        for sub in sorted(getattr(cmd, "commands", {})):
            calls.append([name, sub, "--help"])
            if sub == "list":
                lists.append([name, sub])
    runs = calls + lists
report = []
for argv in runs:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
    report.append({"argv": argv, "code": code, "chars": len(out.getvalue()), "err": err.getvalue(),
                   "heavy": sorted(HEAVY & set(sys.modules))})
print(json.dumps(report))
"""


def test_help_and_list_commands_import_no_heavy_module():
    res = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(HEAVY)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    argvs = [r["argv"] for r in report]
    assert ["profile", "list"] in argvs and ["search", "--help"] in argvs and ["profile", "show", "--help"] in argvs
    for r in report:
        assert r["code"] == 0 and r["chars"] > 0, r
        assert r["heavy"] == [], f"`ofa2 {' '.join(r['argv'])}` imported {r['heavy']}"


def test_import_ofa2_zoo_is_light_and_timm_still_finds_the_zoo():
    """``import ofa2_zoo`` loads no torch/timm; importing timm afterwards registers the names."""
    code = ("import sys, ofa2_zoo; heavy = sorted(set(sys.argv[1].split(',')) & set(sys.modules)); "
            "a = ofa2_zoo.ArchSpec; import timm; "
            "print(heavy, 'ofa2_subnet' in timm.list_models('ofa2_*'), 'ofa2_zoo.registry' in sys.modules)")
    res = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code, ",".join(HEAVY)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["[]", "True", "True"]


def test_timm_imported_first_or_by_ofa2_zoo_itself_registers_the_zoo():
    for code in ("import timm, ofa2_zoo",  # timm first: registered at once
                 "import ofa2_zoo; from ofa2_zoo.supernet import load_supernet; import timm",  # our own import of timm
                 "import ofa2_zoo.registry as r, timm"):
        res = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                              code + "; import sys; print('ofa2_subnet' in timm.list_models('ofa2_*'), "
                                     "'ofa2_zoo.registry' in sys.modules)"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0 and res.stdout.split() == ["True", "True"], (code, res.stderr[-3000:])


def test_a_wrong_profile_in_ofa2_run_fails_before_anything_heavy_loads(tmp_path):
    code = ("import sys\nfrom ofa2_zoo.cli import main\ntry:\n    main(['run', '--profile', 'nope', '--out', sys.argv[1]])\n"
            "except SystemExit as exc:\n    print(exc.code, sorted(set(sys.argv[2].split(',')) & set(sys.modules)))\n")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out"), ",".join(HEAVY)], capture_output=True,
                         text=True, timeout=300)
    assert res.stdout.strip().splitlines()[-1] == "2 []", res.stderr[-2000:]
    assert res.stderr.startswith("error: unknown hardware profile 'nope'; known: ") and res.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()



def test_a_typo_in_a_heavy_command_fails_before_torch_is_imported(tmp_path):
    """A missing front for `package`, an unknown dataset for `train-supernet`, an unknown runtime,
    name or version for `export`, an output that is a file for `run`: one line, exit 2, nothing written, and none of the
    heavy modules loaded (they take seconds to import on a busy machine)."""
    (tmp_path / "rfile").write_text("x")
    cases = {
        "no front at": ["package", str(tmp_path / "missing-front"), "--out", str(tmp_path / "pkg")],
        "dataset folder": ["train-supernet", "cifar-typo", "--out", str(tmp_path / "train")],
        "unknown runtime 'tvm'": ["export", "ofa2_front_0", "-r", "tvm", "--out", str(tmp_path / "exp")],
        "is a file, not a folder": ["run", "--out", str(tmp_path / "rfile")],
        "unknown ofa2 model 'ofa2_fron_0' (did you mean ofa2_front_0": [
            "export", "ofa2_fron_0", "-r", "onnxruntime", "--out", str(tmp_path / "exp")],
        "ofa2_front_0 has no version 'v99'; known: ": [
            "export", "ofa2_front_0.v99", "-r", "onnxruntime", "--out", str(tmp_path / "exp")],
    }
    res = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(HEAVY), json.dumps(list(cases.values()))],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    for expected, r in zip(cases, report):
        assert r["code"] == 2 and expected in r["err"], r
        assert r["heavy"] == [], f"`ofa2 {' '.join(r['argv'])}` imported {r['heavy']} before failing"
    assert "built-in datasets: fashion-mnist, digits" in report[1]["err"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rfile"]  # nothing written
    assert (tmp_path / "rfile").read_text() == "x"
