"""The front explorer in a real browser: Debian's headless Chromium driven by Playwright (the
system browser; nothing is downloaded). The page comes from a real ``package_front`` run.

Skipped, with the reason, where Chromium or the ``playwright`` package is missing (``.ci/run``
installs Chromium with apt). Screenshots are kept in ``build/test-artifacts/explorer/`` (or
``$OFA2_TEST_ARTIFACTS/explorer/``) and the folder is printed.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from ofa2_zoo.cli import main
from ofa2_zoo.explorer import PackagedMember, timm_snippet, write_explorer
from ofa2_zoo.front import Front
from ofa2_zoo.package import package_front, read_manifest

from _package_helpers import digits, tiny_supernet, write_front, write_profile

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                     "(pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (apt-get install chromium) for the "
                                                         "explorer's browser test")
# Headless flags for this machine's closed network (see .ci/run).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("OFA2_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
N_MEMBERS, PACKAGED = 12, 4


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explorer")
    front_dir = write_front(tmp / "front", n=N_MEMBERS, seed=5, top1_step=4)
    result = package_front(front_dir, tmp / "pkg", supernet=tiny_supernet(), data=digits,
                           profile=write_profile(tmp / "profiles"), members=PACKAGED, parity_images=64,
                           calib_images=200)
    return tmp, result.path


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def open_page(browser):
    """Open a page and collect every console error and uncaught exception it raises."""
    pages = []

    def _open(path: Path):
        page = browser.new_page(viewport={"width": 1280, "height": 960})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("#plot .member")
        pages.append(page)
        return page, errors

    yield _open
    for page in pages:
        page.close()


def _shot(page, name: str) -> Path:
    folder = ARTIFACTS / "explorer"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    print(f"explorer screenshot: {path}")
    return path


def _point_at(page, index: int) -> tuple[float, float]:
    box = page.locator(f'#plot .member[data-index="{index}"] .dot').bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _best_ring(page) -> int:
    return int(page.get_attribute("#plot .best-ring", "data-index"))


def test_packaged_explorer_in_chromium(package, open_page):
    tmp, pkg = package
    front = Front.load(pkg / "front")
    manifest = read_manifest(pkg)
    page, errors = open_page(pkg / "front" / "index.html")

    # one marker per member, the packaged ones carrying their timm names
    assert page.locator("#plot .member").count() == len(front.members) == N_MEMBERS
    packaged = page.locator("#plot .member.packaged")
    assert packaged.count() == PACKAGED
    by_index = {int(packaged.nth(i).get_attribute("data-index")): packaged.nth(i).get_attribute("data-name")
                for i in range(PACKAGED)}
    assert by_index == {m.front_index: m.name for m in manifest.members}
    assert page.locator("#packaged-table tbody tr").count() == PACKAGED
    headers = page.locator("#packaged-table thead th").all_inner_texts()
    column = headers.index("measured ms, batch 1")
    for i, m in enumerate(manifest.members):
        cell = page.locator("#packaged-table tbody tr").nth(i).locator("td").nth(column).inner_text()
        assert cell == ", ".join(f"{rt} {ms:.4g}" for rt, ms in sorted(m.runtime_latency_ms().items(),
                                                                        key=lambda kv: (kv[1], kv[0])))

    # hovering a packaged member shows its name, arch and measured top-1
    member = manifest.members[2]
    page.mouse.move(*_point_at(page, member.front_index))
    tooltip = page.locator("#tooltip")
    assert tooltip.is_visible()
    text = tooltip.inner_text()
    assert member.name in text and "top-1 (measured)" in text and f"{member.measured['top1']:.4g} %" in text
    assert front.members[member.front_index].arch.to_string() in text
    runtimes = member.runtime_latency_ms()
    assert runtimes, "the package timed its members in onnxruntime"
    for rt, ms in runtimes.items():  # and each runtime's measured latency
        assert f"latency in {rt} (measured, batch 1)\t{ms:.4g} ms" in text
    page.mouse.move(5, 5)
    assert not tooltip.is_visible()

    # the budget slider moves the highlight: default (log-midpoint), fastest, everything
    lat, top1 = front.values("latency_ms"), front.values("top1")
    mid = math.sqrt(lat.min() * lat.max())
    expected_mid = max((i for i in range(len(lat)) if lat[i] <= mid), key=lambda i: top1[i])
    assert _best_ring(page) == expected_mid
    _shot(page, "explorer-packaged.png")
    page.focus("#budget")
    page.keyboard.press("Home")
    assert _best_ring(page) == int(lat.argmin())
    page.keyboard.press("End")
    assert _best_ring(page) == int(top1.argmax())
    assert page.inner_text("#best-packaged-name") == manifest.members[-1].name

    # clicking a packaged member pins it with its timm snippet
    page.mouse.click(*_point_at(page, member.front_index))
    details = page.inner_text("#details-body")
    snippet = page.inner_text("#details-body .snippet pre")
    assert "timm.create_model(" in snippet and f'"{member.name}",' in snippet and "pretrained=True" in snippet

    # log latency: same markers, log axis
    page.check("#log-x")
    assert page.locator("#plot .member").count() == N_MEMBERS
    assert "log scale" in page.locator("#plot .axis-label").first.text_content()
    assert errors == []


def test_previous_version_in_grey_and_hostile_strings_stay_text(package, open_page, tmp_path, capsys):
    tmp, pkg = package
    older = write_front(tmp_path / "v1", n=7, seed=9, top1_step=6)
    with pytest.raises(SystemExit) as exc:
        main(["front", "html", str(pkg / "front"), "--previous", str(older), "--previous-label", "v1",
              "--out", str(tmp_path / "diff.html")])
    assert exc.value.code == 0, capsys.readouterr().err
    page, errors = open_page(tmp_path / "diff.html")
    assert page.locator("#plot .previous").count() == 7
    assert page.locator("#plot .member.packaged").count() == PACKAGED
    assert "previous version v1 (7 members)" in page.inner_text("#legend")
    page.uncheck("#show-previous")
    assert not page.locator("#plot .previous").first.is_visible()
    page.check("#show-previous")
    _shot(page, "explorer-previous-version.png")
    assert errors == []

    hostile = '</script><img src=x onerror=alert(1)><b id="injected">x</b>'
    front = Front.load(pkg / "front")
    path = write_explorer(front, tmp_path / "hostile.html", title=hostile,
                          packaged=[PackagedMember(1, 0, hostile, timm_snippet(hostile), {})])
    page, errors = open_page(path)
    assert page.locator("img").count() == 0 and page.locator("#injected").count() == 0
    assert page.inner_text("#title") == hostile
    page.mouse.move(*_point_at(page, 1))
    assert hostile in page.inner_text("#tooltip")
    assert errors == []


def test_the_dominated_points_box_is_offered_only_when_there_are_some(open_page, tmp_path):
    """A PALS front's final population is its archive: nothing dominated, so no box that draws
    nothing; a front with dominated points draws each one and the box hides and shows them."""
    front = Front.load(write_front(tmp_path / "front", n=6, seed=2))
    empty, _ = open_page(write_explorer(front, tmp_path / "empty.html"))
    assert empty.locator("#show-population-wrap").is_hidden()
    assert empty.locator("#plot circle.population").count() == 0
    dominated = [{"latency_ms": m.objectives["latency_ms"] + 0.01, "top1": m.objectives["top1"] - 1.0}
                 for m in front.members[:4]]
    front.population = dominated
    page, errors = open_page(write_explorer(front, tmp_path / "dominated.html"))
    assert page.locator("#show-population-wrap").is_visible()
    assert page.locator("#plot circle.population").count() == len(dominated)
    assert page.locator("#plot .population-layer").is_visible()
    page.click("#show-population")
    assert page.locator("#plot .population-layer").is_hidden()
    assert errors == []
