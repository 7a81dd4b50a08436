"""Headless Chromium for the report-page tests (Debian's chromium and chromedriver; `.ci/run`
installs them where missing). Tests here skip, with the reason, only when they are absent."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
    "--window-size=1100,1500", "--force-device-scale-factor=1",
)  # fmt: skip
"""Without the network flags Chromium stalls on connection attempts on an offline machine."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module, its console log collected."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromedriver (apt-get install chromium "
                    "chromium-driver; .ci/run does it)")  # fmt: skip
    from selenium import webdriver  # the test extra: missing, it is an error, not a skip
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gpuaudio-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`gpuaudio demo`'s output: the example call (two known segments) and its report page."""
    from gpuaudio.cli import main

    folder = tmp_path_factory.mktemp("browser") / "demo"
    environment = {k: v for k, v in os.environ.items() if k.startswith("GPUAUDIO_")}
    for name in environment:
        del os.environ[name]
    try:
        assert main(["demo", "-o", str(folder), "--quiet", "--device", "cpu"]) == 0
    finally:
        os.environ.update(environment)
    return folder


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """The browser console's errors since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="session")
def errors_of() -> Any:
    """`console_errors`, as a fixture (test modules can't import conftest in importlib mode)."""
    return console_errors
