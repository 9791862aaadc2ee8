"""Every model name the README and the docs pages load with ``timm.create_model("ofa2_...")``
works right after install (nothing published, nothing packaged, offline): a newcomer who pastes
one never gets timm's bare "Unknown model"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a literal name (placeholders such as <profile> or ... are not names)
CALL = re.compile(r'create_model\(\s*"(ofa2_[a-z0-9_]+(?:\.[a-z0-9]+)?)"')


def test_every_literal_ofa2_name_in_the_docs_loads_in_a_fresh_install(tmp_path):
    names = sorted({n for page in PAGES for n in CALL.findall(page.read_text(encoding="utf-8"))} - {"ofa2_subnet"})
    assert "ofa2_front_4" in names and len(names) >= 3
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFA2_", "HF_"))}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    code = ("import json, timm, ofa2_zoo\n"
            f"names = {names!r}\n"
            "print(json.dumps({n: timm.create_model(n, pretrained=True).pretrained_cfg['tag'] for n in names}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tags = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(tags) == set(names) and set(tags.values()) == {"embedded"}
