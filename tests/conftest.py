"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run in an empty folder, with no gpuaudio.toml and no GPUAUDIO_* variables from the
    developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("GPUAUDIO_")]:
        monkeypatch.delenv(name)
