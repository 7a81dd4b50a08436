"""An archive's index.html in headless Chromium: sorting by escalated seconds, filtering by
text and status, and a link that opens the recording's report page."""

from __future__ import annotations

import json

import pytest

from gpuaudio.analysis.page import write_index_page
from gpuaudio.analysis.report import REPORT_JSON


@pytest.fixture(scope="module")
def index(browser, demo_folder, errors_of, tmp_path_factory):
    """An index of the demo's report and three made-up rows (one failed), loaded."""
    document = json.loads((demo_folder / REPORT_JSON).read_text())
    rows = [
        {"id": "demo", "duration_s": document["input"]["duration_s"],
         "escalated_s": document["summary"]["escalated_s"],
         "n_segments": document["summary"]["n_segments"],
         "peak_score": max(s["peak_score"] for s in document["segments"]), "status": "ok",
         "error": None, "report": "../demo/report.html"},
        {"id": "calm", "duration_s": 600.0, "escalated_s": 0.0, "n_segments": 0,
         "peak_score": None, "status": "ok", "error": None, "report": None},
        {"id": "broken", "duration_s": None, "escalated_s": None, "n_segments": None,
         "peak_score": None, "status": "failed", "error": "cannot decode audio", "report": None},
        {"id": "loud", "duration_s": 1800.0, "escalated_s": 95.5, "n_segments": 4,
         "peak_score": 7.1, "status": "ok", "error": None, "report": None},
    ]  # fmt: skip
    archive = demo_folder.parent / "archive"
    path = write_index_page(archive, rows)
    errors_of(browser)
    browser.get(path.as_uri())
    return browser


def _ids(driver) -> list[str]:
    return driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#recordings tbody tr'),"
        " function (r) { return r.hidden ? null : r.cells[0].textContent; })"
        ".filter(function (x) { return x !== null; })"
    )


def test_the_index_loads_without_console_errors(index, errors_of):
    assert _ids(index) == ["demo", "calm", "broken", "loud"]
    assert index.find_element("id", "shown").text == "4 of 4 shown"
    assert errors_of(index) == []


def test_sorting_by_escalated_seconds(index):
    from selenium.webdriver.common.by import By

    header = index.find_element(By.XPATH, "//th[button[text()='escalated (s)']]")
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert _ids(index) == ["calm", "demo", "loud", "broken"]  # 0, 20, 95.5, then no value
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert _ids(index) == ["loud", "demo", "calm", "broken"]


def test_filtering_by_text_and_status(index):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    box = index.find_element(By.ID, "filter")
    box.send_keys("decode")
    assert _ids(index) == ["broken"] and index.find_element(By.ID, "shown").text == "1 of 4 shown"
    box.clear()
    box.send_keys(" ")  # an input event with an empty filter
    Select(index.find_element(By.ID, "status-filter")).select_by_value("ok")
    assert sorted(_ids(index)) == ["calm", "demo", "loud"]
    Select(index.find_element(By.ID, "status-filter")).select_by_value("")
    assert len(_ids(index)) == 4


def test_a_row_links_to_its_report_page(index, errors_of):
    from selenium.webdriver.common.by import By

    index.find_element(By.LINK_TEXT, "demo").click()
    assert index.title == "Escalation report: demo_call.wav"
    assert errors_of(index) == []
