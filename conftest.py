"""Repository-wide test configuration: markers and options every test folder shares.

The ``gpu`` marker and its skip where no CUDA GPU is present come from gpuaudio's own pytest
plugin (`gpuaudio.testing`, the one plugin authors use too); the markers below are this
repository's.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the repository's markers (``--strict-markers`` rejects unknown ones)."""
    config.addinivalue_line("markers", "slow: longer tests (seconds), still in the default run")
