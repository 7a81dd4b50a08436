"""Fixtures shared by several test files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

SPEECH_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "known_f0" / "data" / "speech"
"""The committed known-F0 speech set (espeak-ng + WORLD, exact F0)."""


@pytest.fixture
def speech_subset(tmp_path: Path) -> Callable[..., Path]:
    """``speech_subset("02_en-us_m3", ...)``: a copy of the committed set holding only those
    recordings (short sets keep tests fast); returns its directory."""

    def make(*ids: str) -> Path:
        manifest = json.loads((SPEECH_SET / "manifest.json").read_text())
        manifest["recordings"] = [e for e in manifest["recordings"] if e["id"] in ids]
        assert [e["id"] for e in manifest["recordings"]] == list(ids)
        target = tmp_path / "speechset"
        target.mkdir()
        for entry in manifest["recordings"]:
            for name in (*entry["files"].values(), entry["truth"]):
                shutil.copy(SPEECH_SET / name, target / name)
        (target / "manifest.json").write_text(json.dumps(manifest))
        return target

    return make
