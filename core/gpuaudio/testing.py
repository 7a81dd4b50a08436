"""Test helpers for gpuaudio and its plugins (also a pytest plugin: ``-p gpuaudio.testing``).

Plugin authors subclass one conformance class per feature in their own test suite::

    from gpuaudio.testing import MelBackendConformance

    class TestMyMel(MelBackendConformance):
        backend = "mybackend"          # the BackendSpec.name your entry point registers
        options = {"some": "option"}   # your [mybackend] config table, if any
        rtol = 1e-5                    # tolerance against librosa, relative to the peak

Every test goes through `AudioFeatureService` with your backend named in config, so it checks
the whole contract: registration through the entry point, the protocol, librosa's shapes,
dtypes and frame grid, batch invariance, short input, silence and agreement with librosa.
The ``device`` attribute (default ``"cpu"``) picks where the backend runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from gpuaudio.device import DeviceInfo, GpuInfo
from gpuaudio.service import AudioFeatureService

__all__ = [
    "CqtBackendConformance",
    "F0BackendConformance",
    "MelBackendConformance",
    "StftBackendConformance",
    "fake_gpu",
    "harmonic_tone",
]


def fake_gpu(
    *,
    count: int = 1,
    compute_capability: tuple[int, int] = (9, 0),
    free_mb: float = 40_000,
    total_mb: float = 81_000,
    name: str = "Fake H100",
) -> DeviceInfo:
    """A `DeviceInfo` describing GPUs that are not there, to test selection on a CPU."""
    gpus = tuple(
        GpuInfo(i, name, compute_capability, int(total_mb * 2**20), int(free_mb * 2**20))
        for i in range(count)
    )
    return DeviceInfo(True, "2.x-fake", True, "12.x-fake", gpus)


def harmonic_tone(
    f0: float, sr: int, seconds: float, *, harmonics: int = 5, amplitude: float = 0.3
) -> np.ndarray:
    """A voiced, harmonic-rich tone of constant pitch (float32), the simplest ground truth."""
    t = np.arange(int(sr * seconds)) / sr
    tone = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        tone += np.sin(2 * np.pi * f0 * k * t) / k
    peak = float(np.max(np.abs(tone))) or 1.0
    return (amplitude * tone / peak).astype(np.float32)


class _Conformance:
    backend: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    device: ClassVar[str] = "cpu"
    feature: ClassVar[str] = ""
    sr: ClassVar[int] = 16000

    def service(self) -> AudioFeatureService:
        """A service whose `feature` is served by the backend under test."""
        if not self.backend:
            raise TypeError(f"{type(self).__name__} must set the class attribute 'backend'")
        config: dict[str, Any] = {
            "device": self.device,
            "fallback": False,
            "backends": {self.feature: self.backend},
        }
        if self.options:
            config[self.backend] = dict(self.options)
        return AudioFeatureService(config)

    @pytest.fixture(scope="class")
    def svc(self) -> AudioFeatureService:
        return self.service()

    @pytest.fixture(scope="class")
    def signal(self) -> np.ndarray:
        rng = np.random.default_rng(0)
        tone = harmonic_tone(220.0, self.sr, 1.0)
        return (tone + 0.01 * rng.standard_normal(tone.size)).astype(np.float32)

    def test_registered_and_selected(self, svc: AudioFeatureService) -> None:
        chosen = svc.resolution(self.feature).chosen  # type: ignore[arg-type]
        assert chosen.spec.name == self.backend
        assert chosen.spec.plugin, "spec must come from an entry point"

    def test_provenance_names_the_backend(
        self, svc: AudioFeatureService, signal: np.ndarray
    ) -> None:
        self.compute(svc, signal)
        assert svc.provenance[self.feature].backend == self.backend  # type: ignore[index]

    def test_batch_invariance(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        batch = np.stack([signal, 0.5 * signal[::-1], np.roll(signal, 1234)])
        together = _as_tuple(self.compute(svc, batch))
        for i in range(batch.shape[0]):
            alone = _as_tuple(self.compute(svc, batch[i]))
            for joint, single in zip(together, alone, strict=True):
                self.assert_close(joint[i], single, exact_batch=True)

    def test_short_input(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        short = signal[:300]
        result = _as_tuple(self.compute(svc, short))
        reference = _as_tuple(self.reference(short))
        for ours, ref in zip(result, reference, strict=True):
            assert ours.shape == ref.shape

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        raise NotImplementedError

    def reference(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        raise NotImplementedError


def _as_tuple(result: Any) -> tuple[np.ndarray, ...]:
    return tuple(result) if isinstance(result, tuple) else (result,)


class _SpectralConformance(_Conformance):
    rtol: ClassVar[float] = 1e-5
    """Max |ours - librosa| / max |librosa| on magnitudes."""
    batch_rtol: ClassVar[float] = 1e-6
    """The same bound between one signal alone and inside a batch."""

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        assert ours.shape == ref.shape
        assert ours.dtype == ref.dtype
        bound = self.batch_rtol if exact_batch else self.rtol
        scale = float(np.max(np.abs(ref))) or 1.0
        error = float(np.max(np.abs(np.abs(ours) - np.abs(ref)))) / scale
        assert error <= bound, f"relative error {error:.3g} exceeds {bound:.3g}"

    def test_matches_librosa(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        self.assert_close(self.compute(svc, signal), self.reference(signal))

    def test_silence_is_zero(self, svc: AudioFeatureService) -> None:
        silence = np.zeros(self.sr // 2, dtype=np.float32)
        assert float(np.max(np.abs(self.compute(svc, silence)))) <= 1e-6


class StftBackendConformance(_SpectralConformance):
    """Conformance of an STFT backend against ``librosa.stft`` (n_fft=1024, hop=256)."""

    feature = "stft"

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.stft(y, n_fft=1024, hop_length=256)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.stft(y, n_fft=1024, hop_length=256, pad_mode="constant")


class MelBackendConformance(_SpectralConformance):
    """Conformance of a mel backend against ``librosa.feature.melspectrogram``."""

    feature = "mel"

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.melspectrogram(y, self.sr, n_fft=1024, hop_length=256, n_mels=64)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.feature.melspectrogram(
            y=y, sr=self.sr, n_fft=1024, hop_length=256, n_mels=64
        )


class CqtBackendConformance(_SpectralConformance):
    """Conformance of a CQT backend against ``librosa.cqt`` (set `rtol` to what you measured)."""

    feature = "cqt"
    rtol = 0.05

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.cqt(y, self.sr, hop_length=256, n_bins=60)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.cqt(y, sr=self.sr, hop_length=256, n_bins=60)


class F0BackendConformance(_Conformance):
    """Conformance of an F0 backend: pyin's grid and dtypes, and the right pitch on a tone."""

    feature = "f0"
    max_cents: ClassVar[float] = 50.0
    """Median |error| in cents on a 220 Hz harmonic tone."""
    min_voiced: ClassVar[float] = 0.9
    """Fraction of interior frames of the tone that must be voiced."""

    def compute(self, svc: AudioFeatureService, y: np.ndarray) -> Any:
        return svc.extract_f0(y, self.sr, fmin=50.0, fmax=550.0, frame_length=1024)

    def reference(self, y: np.ndarray) -> Any:
        import librosa

        return librosa.pyin(y, sr=self.sr, fmin=50.0, fmax=550.0, frame_length=1024)

    def assert_close(self, ours: np.ndarray, ref: np.ndarray, *, exact_batch: bool = False) -> None:
        assert ours.shape == ref.shape
        assert ours.dtype == ref.dtype
        if ours.dtype == np.bool_:
            assert np.mean(ours == ref) >= 0.98
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3, equal_nan=True)

    def test_pyin_shapes_and_dtypes(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        for ours, ref in zip(self.compute(svc, signal), self.reference(signal), strict=True):
            assert ours.shape == ref.shape
            assert ours.dtype == ref.dtype

    def test_pitch_of_a_tone(self, svc: AudioFeatureService, signal: np.ndarray) -> None:
        f0, voiced, prob = self.compute(svc, signal)
        interior = slice(3, -3)
        assert np.mean(voiced[interior]) >= self.min_voiced
        assert np.all(np.isnan(f0[~voiced]))
        assert np.all((prob >= 0) & (prob <= 1))
        cents = 1200 * np.abs(np.log2(f0[interior][voiced[interior]] / 220.0))
        assert np.median(cents) <= self.max_cents

    def test_silence_is_unvoiced(self, svc: AudioFeatureService) -> None:
        f0, voiced, _ = self.compute(svc, np.zeros(self.sr // 2, dtype=np.float32))
        assert not voiced.any()
        assert np.isnan(f0).all()


# -- pytest plugin hooks -------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``gpu`` marker."""
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped where none is present")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests on machines without a usable CUDA device."""
    from gpuaudio.device import probe

    info = probe()
    if info.cuda_available and info.gpus:
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU; {info.describe()}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
