"""`gpuaudio demo`'s report.html in headless Chromium: it loads cleanly, its segment table is
report.json's, a segment plays from its lead-in, keys move between segments, the cursor
follows playback, no text is below 11 px, and a screenshot is written for the docs.

``UPDATE_DOCS_SCREENSHOT=1`` also writes the screenshot to docs/img/report-page.png (the
README's picture); otherwise it goes to a temporary folder only, so a test run leaves the
checkout clean.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gpuaudio.analysis.page import LEAD_IN_S, REPORT_HTML, clock
from gpuaudio.analysis.report import REPORT_JSON

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "report-page.png"


@pytest.fixture(scope="module")
def page(browser, demo_folder, errors_of):
    """The demo's page, loaded, with its metadata (and so its duration) read."""
    from selenium.webdriver.support.ui import WebDriverWait

    errors_of(browser)  # start the console log afresh
    browser.get((demo_folder / REPORT_HTML).as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.getElementById('player').readyState >= 1")
    )
    return browser


@pytest.fixture(scope="module")
def segments(demo_folder):
    return json.loads((demo_folder / REPORT_JSON).read_text())["segments"]


def _current_time(driver) -> float:
    return float(driver.execute_script("return document.getElementById('player').currentTime"))


def _pause(driver) -> None:
    driver.execute_script("document.getElementById('player').pause()")


def test_the_page_loads_without_console_errors(page, errors_of):
    assert page.title == "Escalation report: demo_call.wav"
    duration = page.execute_script("return document.getElementById('player').duration")
    assert duration == pytest.approx(75.0, abs=0.01)  # the relative copy was found and decoded
    assert errors_of(page) == []


def test_the_segment_table_matches_report_json(page, segments):
    from selenium.webdriver.common.by import By

    rows = page.find_elements(By.CSS_SELECTOR, "table.segments tbody tr")
    assert len(segments) == 2  # the demo's two known escalations
    shown = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")[:4]] for row in rows]
    expected = [[f"▶ {n}", clock(s["start_s"]), clock(s["end_s"]), f"{s['duration_s']:.1f}"]
                for n, s in enumerate(segments, start=1)]  # fmt: skip
    assert shown == expected
    labels = page.find_elements(By.CSS_SELECTOR, "#tracks .seg-number")
    assert [label.text for label in labels] == ["1", "2"]


def test_clicking_segment_2_plays_it_from_the_lead_in(page, segments, errors_of):
    from selenium.webdriver.common.by import By

    start = max(0.0, segments[1]["start_s"] - LEAD_IN_S)
    page.find_element(By.CSS_SELECTOR, 'button.play-segment[data-segment="1"]').click()
    at = _current_time(page)
    _pause(page)
    assert start <= at < start + 1.0  # playing may have moved it on a little
    row = page.find_element(By.CSS_SELECTOR, 'tr[data-segment="1"]')
    assert "current" in row.get_attribute("class")
    # on the plot: segment 1's hatched span
    page.find_element(By.CSS_SELECTOR, '#tracks g.seg[data-segment="0"] rect').click()
    at = _current_time(page)
    _pause(page)
    first = max(0.0, segments[0]["start_s"] - LEAD_IN_S)
    assert first <= at < first + 1.0
    # anywhere on the table row: segment 2's end time
    page.find_element(By.CSS_SELECTOR, 'tr[data-segment="1"] td:nth-child(3)').click()
    at = _current_time(page)
    _pause(page)
    assert start <= at < start + 1.0
    assert errors_of(page) == []


def test_the_cursor_follows_playback(page):
    from selenium.webdriver.support.ui import WebDriverWait

    x0, width, duration = page.execute_script(
        "var d = JSON.parse(document.getElementById('report-data').textContent);"
        "return [d.plot.x0, d.plot.width, d.duration_s]"
    )
    cursor = page.find_element("id", "cursor")
    for at in (50.0, 10.0):
        page.execute_script(f"document.getElementById('player').currentTime = {at}")
        expected = x0 + at / duration * width
        WebDriverWait(page, 10).until(
            lambda _, expected=expected: abs(float(cursor.get_attribute("x1")) - expected) < 0.2
        )
        assert cursor.get_attribute("visibility") == "visible"


def test_n_and_p_move_between_segments(page, segments):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page.find_element(By.CSS_SELECTOR, 'button.play-segment[data-segment="0"]').click()
    page.execute_script("document.activeElement.blur()")  # keys go to the page, not a control
    _pause(page)
    visited = []
    for key in ("n", "n", "p"):
        ActionChains(page).send_keys(key).perform()
        focused = page.switch_to.active_element.get_attribute("data-segment")
        visited.append((focused, _current_time(page)))
        _pause(page)
    # from segment 1 (index 0): n -> 2, n -> 2 (the last), p -> 1
    assert [v[0] for v in visited] == ["1", "1", "0"]
    for (index, at) in visited:
        start = max(0.0, segments[int(index)]["start_s"] - LEAD_IN_S)
        assert start <= at < start + 1.0


def test_no_text_below_11_px(page):
    smallest = page.execute_script(
        """
        var small = [];
        document.querySelectorAll('body *').forEach(function (el) {
          var hasText = Array.prototype.some.call(el.childNodes, function (n) {
            return n.nodeType === 3 && n.textContent.trim();
          });
          if (!hasText || !el.getClientRects().length) { return; }
          var size = parseFloat(getComputedStyle(el).fontSize);
          if (el instanceof SVGElement) { size *= el.ownerSVGElement.getScreenCTM().a; }
          small.push(size);
        });
        return Math.min.apply(null, small);
        """
    )
    assert smallest >= 11


def test_print_hides_the_player_and_keeps_the_tracks(page):
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        shown = page.execute_script(
            "return ['player', 'tracks'].map(function (id) {"
            " return getComputedStyle(document.getElementById(id)).display; })"
        )
    finally:
        page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert shown == ["none", "block"]


def test_a_screenshot_for_the_docs(page, tmp_path):
    page.execute_script("window.scrollTo(0, 0); document.getElementById('player').pause()")
    page.set_window_size(1000, 1150)
    shot = tmp_path / "report-page.png"
    assert page.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_IMG.parent.mkdir(exist_ok=True)
        DOCS_IMG.write_bytes(data)


def test_a_hostile_file_name_is_shown_not_run(browser, demo_folder, tmp_path, errors_of):
    """A recording named like markup: its page shows the name and runs nothing (last but one:
    it leaves the browser on another page)."""
    from selenium.common.exceptions import NoAlertPresentException

    from gpuaudio.analysis.report import output_folder_name
    from gpuaudio.cli import main

    name = "<script>alert(1)<script x><img src=x onerror=alert(2)>.wav"  # a name has no "/"
    hostile = tmp_path / name
    hostile.write_bytes((demo_folder / "demo_call.wav").read_bytes())
    out = tmp_path / "out"
    assert main(["analyze", str(hostile), "-o", str(out), "--quiet", "--backend", "f0=fastpyin",
                 "--device", "cpu"]) == 0  # fmt: skip
    errors_of(browser)
    browser.get((out / output_folder_name(hostile) / REPORT_HTML).as_uri())
    assert browser.find_element("css selector", "h1 .name").text == name
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert browser.execute_script("return document.images.length") == 0
    assert errors_of(browser) == []


def test_an_embedded_copy_plays(browser, demo_folder, tmp_path, errors_of):
    """--embed-audio's Ogg/Vorbis data URI is decoded by the browser (the same page otherwise;
    last in the module: it leaves the browser on another page)."""
    from selenium.webdriver.support.ui import WebDriverWait

    from gpuaudio.analysis.page import embedded_audio

    text = (demo_folder / REPORT_HTML).read_text()
    embedded = tmp_path / REPORT_HTML
    embedded.write_text(text.replace('src="demo_call.wav"',
                                     f'src="{embedded_audio(demo_folder / "demo_call.wav")}"'))
    errors_of(browser)
    browser.get(embedded.as_uri())
    duration = WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("var a = document.getElementById('player');"
                                   "return a.readyState >= 1 && a.duration")
    )
    assert duration == pytest.approx(75.0, abs=0.05)
    assert errors_of(browser) == []
