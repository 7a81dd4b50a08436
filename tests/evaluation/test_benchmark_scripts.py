"""The scripts in benchmarks/ still import and run against the package (they are not imported
by anything else, so a moved helper would otherwise break them silently)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    path.relative_to(ROOT)
    for path in (*ROOT.glob("benchmarks/*.py"), *ROOT.glob("benchmarks/known_f0/*.py"))
    if '__name__ == "__main__"' in path.read_text()  # scripts, not their shared modules
)


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_script_imports_and_parses_its_options(script):
    done = _run(str(script), "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng to make speech")
def test_escalation_validation_runs_end_to_end():
    done = _run(
        "benchmarks/escalation_bench.py", "validate",
        "--minutes", "0.5", "--calm-minutes", "0.3", "--demo-calls", "1",
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| WORLD")]
    assert len(rows) == 4  # escalation and calm, clean and 20 dB
    calm_clean = next(row for row in rows if "calm (clean)" in row)
    assert calm_clean.split("|")[7].strip() == "0"  # no false alarm on calm speech
