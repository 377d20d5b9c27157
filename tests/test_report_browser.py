"""The report in a real headless browser (Debian's chromium driven by playwright, as the
monitoring page's tests): every chart's image loads and draws (a screenshot of it is not one
flat color), its title is there, and the page loads with the network off, asking for nothing
but itself."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from test_report_support import traded_journal

from fillforge.report import CHARTS, open_input, report_data, write_report

Image = pytest.importorskip("PIL.Image")
ImageStat = pytest.importorskip("PIL.ImageStat")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report-browser")
    with open_input(str(traded_journal(tmp / "agent.journal"))) as j:
        data = report_data(j)
    out = tmp / "report.html"
    write_report(data, out)
    return out


def _stats(png: bytes) -> tuple[float, int]:
    """The variance of the grey levels and the number of distinct colors of a screenshot."""
    with Image.open(io.BytesIO(png)) as img:
        rgb = img.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 20)
        return float(ImageStat.Stat(rgb.convert("L")).var[0]), len(colors or ())


def test_every_chart_draws_with_its_title_and_the_network_off(
    browser: Any, report: Path, tmp_path: Path
) -> None:
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    asked: list[str] = []
    context.on("request", lambda r: asked.append(r.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(report.as_uri(), wait_until="load")
    assert page.title().startswith("fillforge report")
    for c in CHARTS:
        section = page.locator(f"#chart-{c.slug}")
        assert section.locator("h2").inner_text() == c.title
        img = section.locator("img")
        assert img.get_attribute("alt") == c.title
        loaded = img.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0")
        assert loaded, f"{c.slug}: the image did not load"
        box = img.bounding_box()
        assert box is not None
        assert box["width"] > 600
        assert box["height"] > 250
        shot = img.screenshot(path=str(tmp_path / f"{c.slug}.png"))
        variance, colors = _stats(shot)
        assert variance > 50, f"{c.slug}: blank ({variance=})"
        assert colors > 10, f"{c.slug}: {colors} colors"
    # Nothing but the file itself (the charts are data: URIs, which are no requests).
    assert [u for u in asked if not u.startswith(("file://", "data:"))] == []
    assert errors == []
    context.close()


def test_a_chart_without_data_says_so_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """An empty journal: each chart's image still draws (its sentence in a dashed frame)."""
    from fillforge.journal import Journal

    path = tmp_path / "empty.journal"
    with Journal.open(path) as j:
        j.append("risk.state", {"snapshot": {}})
    with open_input(str(path)) as j:
        data = report_data(j)
    out = tmp_path / "empty.html"
    write_report(data, out)
    page = browser.new_page()
    page.goto(out.as_uri(), wait_until="load")
    for c in CHARTS:
        shot = page.locator(f"#chart-{c.slug} img").screenshot()
        variance, _ = _stats(shot)
        assert variance > 5, c.slug
    assert "fills\t0" in page.inner_text("table.summary")
    page.close()
