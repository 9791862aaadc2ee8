"""The front explorer page without a browser: self-contained, safely escaped, deterministic, the
data it shows, ``ofa2 front html``, and what packaging and publishing put on it. The page's
behaviour in a real browser is tested in ``test_explorer_browser.py``."""

from __future__ import annotations

import ast
import json
import shutil
import re

import pytest

from ofa2_zoo.cli import main
from ofa2_zoo.explorer import (ExplorerError, PackagedMember, explorer_data, read_data, render_explorer,
                               timm_snippet, with_packaged, with_previous, write_explorer)
from ofa2_zoo.front import Front

from _package_helpers import write_front

HOSTILE = '</script><script>alert(1)</script><!-- <img src=x onerror=alert(2)> & \u2028'


@pytest.fixture()
def front(tmp_path) -> Front:
    return Front.load(write_front(tmp_path / "front", n=9, seed=3, top1_step=5))


def _packaged(front: Front, indices=(0, 4, 8)) -> list[PackagedMember]:
    return [PackagedMember(i, k, f"ofa2_tiny_test_front_{k}", timm_snippet(f"ofa2_tiny_test_front_{k}"),
                           {"top1": 60.0 + k, "latency_ms": 0.2 + k})
            for k, i in enumerate(indices)]


def _loaded_names(snippet: str) -> list[str]:
    """The model names a snippet passes to ``timm.create_model`` (it must be valid Python)."""
    calls = [n for n in ast.walk(ast.parse(snippet)) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "create_model"]
    assert all(kw.arg == "pretrained" and kw.value.value is True for c in calls for kw in c.keywords)
    return [c.args[0].value for c in calls]


def test_page_is_one_self_contained_file(front, tmp_path):
    path = write_explorer(front, tmp_path / "index.html", packaged=_packaged(front))
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # Nothing is fetched at view time: no src attributes, no stylesheet links, no CSS imports or urls.
    assert not re.search(r"\ssrc\s*=", html)
    assert re.findall(r'href="([^"]*)"', html) == ["data:,"]
    assert "@import" not in html and "url(" not in html
    assert "/*CSS*/" not in html and "/*JS*/" not in html and "{/*DATA*/}" not in html
    assert html.count("<script") == 2 and "function" in html and "#plot" in html


def test_data_lists_every_member_with_what_a_user_compares(front):
    data = explorer_data(front, packaged=_packaged(front))
    assert data["axes"]["x"] == {"key": "latency_ms", "label": "latency", "unit": "ms", "source": "measured",
                                 "direction": "min"}
    assert data["axes"]["y"]["key"] == "top1" and data["axes"]["y"]["unit"] == "%"
    assert [m["index"] for m in data["members"]] == list(range(9))
    for m, member in zip(data["members"], front.members):
        assert m["arch"] == member.arch.to_string() and m["objectives"] == member.objectives
        assert m["resolution"] == member.arch.r
    assert [m["packaged"]["name"] for m in data["members"] if m["packaged"]] == [
        "ofa2_tiny_test_front_0", "ofa2_tiny_test_front_1", "ofa2_tiny_test_front_2"]
    assert data["members"][4]["packaged"]["measured"] == {"top1": 61.0, "latency_ms": 1.2}
    assert _loaded_names(data["members"][4]["packaged"]["snippet"]) == ["ofa2_tiny_test_front_1"]
    assert data["previous"] is None and data["references"] == []


def test_packaged_member_outside_the_front_is_refused(front):
    bad = [PackagedMember(9, 0, "ofa2_tiny_test_front_0", "", {})]
    with pytest.raises(ExplorerError, match="front member 9, but the front has 9 members"):
        explorer_data(front, packaged=bad)


def test_untrusted_strings_cannot_escape_the_data_element(front):
    hostile = [PackagedMember(2, 0, HOSTILE, timm_snippet(HOSTILE), {})]
    html = render_explorer(explorer_data(front, packaged=hostile, title=HOSTILE))
    blob = re.search(r'<script type="application/json" id="front-data">(.*?)</script>', html, re.DOTALL).group(1)
    assert "<" not in blob and ">" not in blob and "&" not in blob and "\u2028" not in blob
    assert html.count("</script>") == 2  # the data element's and the code's, nothing injected
    data = read_data(html)  # the strings survive exactly
    assert data["title"] == HOSTILE and data["members"][2]["packaged"]["name"] == HOSTILE
    assert json.dumps(HOSTILE)[1:-1] not in html  # JSON of the string is escaped further, not verbatim


def test_script_inserts_data_as_text_only():
    from ofa2_zoo import explorer

    js = (explorer.__path__[0] + "/explorer.js")
    code = open(js, encoding="utf-8").read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink


def test_rendering_is_deterministic(front, tmp_path):
    a = write_explorer(front, tmp_path / "a.html", packaged=_packaged(front)).read_bytes()
    b = write_explorer(Front.load(tmp_path / "front"), tmp_path / "b.html", packaged=_packaged(front)).read_bytes()
    assert a == b


def test_previous_version_and_republished_names(front, tmp_path):
    older = Front.load(write_front(tmp_path / "older", n=5, seed=11, top1_step=9))
    data = explorer_data(front, previous=("v1", older))
    assert data["previous"]["label"] == "v1" and data["previous"]["version"] == older.version_id
    assert [p["arch"] for p in data["previous"]["points"]] == [m.arch.to_string() for m in older.members]
    assert explorer_data(front, previous=("v1", front))["previous"] is None  # the same version: no diff
    assert with_previous(data, "v1", front)["previous"] is None
    tagged = [PackagedMember(0, 0, "ofa2_tiny_test_front_0.v2", timm_snippet("ofa2_tiny_test_front_0.v2", "o/r-0@v2"),
                             {}, "o/r-0@v2")]
    renamed = with_packaged(data, tagged, "tiny front v2")
    assert renamed["title"] == "tiny front v2" and renamed["previous"] == data["previous"]
    assert renamed["members"][0]["packaged"]["name"] == "ofa2_tiny_test_front_0.v2"
    snippet = renamed["members"][0]["packaged"]["snippet"]
    assert _loaded_names(snippet) == ["ofa2_tiny_test_front_0.v2"] and '"hf-hub:o/r-0@v2", pretrained=True)' in snippet
    assert [m["packaged"] for m in renamed["members"][1:]] == [None] * 8


def test_read_data_refuses_other_pages():
    with pytest.raises(ExplorerError, match="no front-data element"):
        read_data("<html><body>hello</body></html>")
    with pytest.raises(ExplorerError, match="not valid JSON"):
        read_data('<script type="application/json" id="front-data">{nope</script>')


def test_cli_front_html_writes_the_page_and_refuses_a_foreign_package(front, tmp_path, capsys):
    older = write_front(tmp_path / "older", n=5, seed=11, top1_step=9)
    with pytest.raises(SystemExit) as exc:
        main(["front", "html", str(tmp_path / "front"), "--previous", str(older), "--previous-label", "v1"])
    assert exc.value.code == 0
    assert "wrote" in capsys.readouterr().out
    data = read_data((tmp_path / "front" / "index.html").read_text(encoding="utf-8"))
    assert len(data["members"]) == 9 and data["previous"]["label"] == "v1"
    # A package.json of another front version beside front.json is refused with one line, exit 2.
    member = {"k": 0, "name": "ofa2_tiny_test_front_0", "folder": "members/front_0", "front_index": 0,
              "arch": front.members[0].arch.to_dict(), "objectives": front.members[0].objectives,
              "files": {"model.safetensors": "0" * 64},
              "parity": {"n_images": 1, "max_abs_diff": 0.0, "tolerance": 1e-4, "top1_agreement": 1.0,
                         "top1_mismatches": 0, "unexplained_mismatches": 0, "passed": True}}
    manifest = {"format": "ofa2-package/1", "profile": front.profile_id, "front_version_id": "0" * 64,
                "space": front.space.to_dict(), "members": [member], "package_version": "0.1.0"}
    (tmp_path / "front" / "package.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exc:
        main(["front", "html", str(tmp_path / "front"), "--out", str(tmp_path / "x.html")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "packages front version 000000000000, not this front" in err and "\n" not in err
    assert not (tmp_path / "x.html").exists()
    # The same package as the package/ beside an `ofa2 run` folder's front/: found on its own, it is
    # another version of the same profile, so the page is written without highlights and says why.
    run = tmp_path / "run"
    shutil.copytree(tmp_path / "front", run / "front")
    (run / "front" / "package.json").unlink()
    (run / "package").mkdir()
    (run / "package" / "package.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exc:
        main(["front", "html", str(run / "front"), "--out", str(tmp_path / "y.html")])
    assert exc.value.code == 0
    assert "packages another front version: no packaged members to highlight" in " ".join(capsys.readouterr().out.split())
    data = read_data((tmp_path / "y.html").read_text(encoding="utf-8"))
    assert [m["packaged"] for m in data["members"]] == [None] * 9
