"""Fixtures for the nnaudio / torch spectral backend tests (helpers are fixtures because the
project imports test files in importlib mode, where conftest is not an importable module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gpuaudio import AudioFeatureService, BackendContext, MemoryManager

SPECTRAL_BACKENDS = ("nnaudio", "torch")


def _relative_error(ours: Any, ref: Any) -> float:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.max(np.abs(ours - ref)) / (np.max(np.abs(ref)) or 1.0))


def _service(backend: str, device: str = "cpu", precision: str = "fp32") -> AudioFeatureService:
    backends = {"stft": backend, "mel": backend}
    if backend == "nnaudio":
        backends["cqt"] = backend
    return AudioFeatureService(
        {"device": device, "precision": precision, "fallback": False, "backends": backends}
    )


@pytest.fixture(scope="session")
def relative_error() -> Callable[[Any, Any], float]:
    """Max |ours - ref| / max |ref| (on complex values the phase counts too)."""
    return _relative_error


@pytest.fixture(scope="session")
def make_service() -> Callable[..., AudioFeatureService]:
    """``make_service(backend, device="cpu", precision="fp32")``: stft/mel (cqt) served by it."""
    return _service


@pytest.fixture(scope="session")
def services() -> dict[str, AudioFeatureService]:
    """One fp32 CPU service per backend, shared (their layers stay cached between tests)."""
    return {name: _service(name) for name in SPECTRAL_BACKENDS}


@pytest.fixture
def make_backend() -> Callable[..., Any]:
    """``make_backend(cls, precision=, memory=, device=, **options)``: a backend built directly."""

    def build(
        cls: type,
        *,
        precision: str = "fp32",
        memory: MemoryManager | None = None,
        device: str = "cpu",
        **options: Any,
    ) -> Any:
        return cls(BackendContext(device, precision, memory or MemoryManager(device), options))

    return build


@pytest.fixture(scope="session")
def noise() -> np.ndarray:
    """Two rows of 1.5 s of white noise at 16 kHz (broadband: every bin matters)."""
    rng = np.random.default_rng(7)
    return (0.3 * rng.standard_normal((2, 24000))).astype(np.float32)
