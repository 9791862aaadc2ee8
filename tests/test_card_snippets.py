"""The model cards' "Use it with timm" code runs as written, in a new process: for a package that
``ofa2 run`` just made (found through the local zoo) and for the version published to the
loopback Hub (found through the zoo index, weights downloaded by timm). Every code block of the
section runs verbatim, in order; a check appended after them compares the loaded weights with
the package and the accuracy the snippet prints with the card's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ofa2_zoo.package import read_manifest

pytestmark = pytest.mark.skipif(
    not Path(__file__).resolve().parents[1].joinpath("ofa2_zoo/data/embedded/ofa2_digits.safetensors").is_file(),
    reason="the embedded weights are not built in this checkout")

_CHECK = """
# --- appended by the test: what did the card's code load?
import json as _json, torch as _torch
from safetensors.torch import load_file as _load
_ref = _load({weights!r})
print("CHECK " + _json.dumps({{"tag": model.pretrained_cfg["tag"], "name": model.pretrained_cfg["architecture"],
    "same_weights": set(_ref) == set(model.state_dict())
                    and all(_torch.equal(v, _ref[k]) for k, v in model.state_dict().items()),
    "input_size": list(config["input_size"])}}))
"""


def timm_blocks(card: str) -> list[str]:
    """The python code blocks of the card's "Use it with timm" section, in order."""
    section = re.search(r"^## Use it with timm\n(.*?)(?=^## )", card, flags=re.MULTILINE | re.DOTALL)
    assert section, "the card has no 'Use it with timm' section"
    return re.findall(r"^```python\n(.*?)^```", section.group(1), flags=re.MULTILINE | re.DOTALL)


def run_card(card: str, weights: Path, env: dict[str, str], cwd: Path) -> tuple[dict, str]:
    blocks = timm_blocks(card)
    assert len(blocks) == 2  # load + transform, then the accuracy check on the digits
    code = "\n".join(blocks) + _CHECK.format(weights=str(weights))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = json.loads(proc.stdout.split("CHECK ", 1)[1].splitlines()[0])
    return check, proc.stdout


def _card_top1(card: str) -> float:
    return float(re.search(r"top-1 accuracy \| \*\*([0-9.]+) %\*\* measured", card).group(1))


def _printed_top1(stdout: str) -> float:
    return float(re.search(r"^top-1 ([0-9.]+) %$", stdout, flags=re.MULTILINE).group(1))


@pytest.fixture(scope="module")
def run_dir(digits_run):
    """The session's ``ofa2 run`` (conftest's ``digits_run``: a new process, small budget, its package
    recorded in a user index of its own, ``user_index.json`` in this folder)."""
    assert "recorded in the local zoo" in digits_run.stdout
    assert digits_run.index == digits_run.root / "user_index.json"
    return digits_run.root


def test_card_code_runs_for_a_package_from_ofa2_run(run_dir):
    package = run_dir / "out" / "package"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFA2_")}
    env.update(OFA2_USER_INDEX=str(run_dir / "user_index.json"), HF_HUB_OFFLINE="1")
    for m in read_manifest(package).members:
        card = (package / m.folder / "README.md").read_text()
        check, stdout = run_card(card, package / m.folder / "model.safetensors", env, run_dir)
        r = m.arch["r"][0]
        assert check == {"tag": "local", "name": m.name, "same_weights": True, "input_size": [1, r, r]}
        assert _printed_top1(stdout) == pytest.approx(_card_top1(card), abs=0.01) == m.measured["top1"]
    # the accuracy block also runs on its own, pasted into a new process
    proc = subprocess.run([sys.executable, "-c", timm_blocks(card)[1]], capture_output=True, text=True, env=env,
                          cwd=run_dir, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _printed_top1(proc.stdout) == pytest.approx(_card_top1(card), abs=0.01)


def test_card_code_runs_for_a_version_pulled_from_the_hub(run_dir, tmp_path):
    from _hub_helpers import NAMESPACE, make_server, subprocess_env, use_hub

    from ofa2_zoo.publish import publish

    package = run_dir / "out" / "package"
    index = tmp_path / "zoo_index.json"
    server = make_server()
    try:
        with use_hub(server, tmp_path / "hf-publish"):
            result = publish(package, NAMESPACE, index_path=index)
        assert result.status == "published" and result.version == "v1"
        # a new user: the zoo index lists v1 (as the shipped one would), empty local zoo and HF cache
        env = {k: v for k, v in subprocess_env(server, tmp_path / "hf-user").items() if not k.startswith("OFA2_")}
        env.update(OFA2_ZOO_INDEX=str(index), OFA2_USER_INDEX=str(tmp_path / "empty.json"))
        (tmp_path / "hf-user" / "hub").mkdir(parents=True)
        for m in read_manifest(package).members:
            card = server.files(f"{NAMESPACE}/ofa2-digits-cpu-front-{m.k}", "v1")["README.md"].decode()
            check, stdout = run_card(card, package / m.folder / "model.safetensors", env, tmp_path)
            r = m.arch["r"][0]
            assert check == {"tag": "v1", "name": m.name, "same_weights": True, "input_size": [1, r, r]}
            assert _printed_top1(stdout) == pytest.approx(_card_top1(card), abs=0.01)
    finally:
        server.stop()
