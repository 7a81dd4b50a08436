"""What a backend call must return, checked by the service before a result reaches the user.

The checks read only shapes, dtypes and a few reductions, on numpy arrays or torch tensors
alike (a tensor stays on its device). A violation is a short sentence; the service turns it
into a `BackendError` naming the backend and its plugin, and the normal fallback applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpuaudio.backends import F0Frames

REAL = ("float32", "float64")
COMPLEX = ("complex64", "complex128")
BOOL = ("bool",)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Spectra reach the caller as float32/complex64: a larger value would become inf there."""
F0_SLACK = 2 ** (1 / 12)
"""A pitch may lie up to a semitone outside ``[fmin, fmax]`` (interpolation between candidates
at the range's edge); further out, the backend ignored the range it was given."""


def frame_count(n: int, *, span: int, hop: int, center: bool) -> int:
    """Frames librosa's STFT, mel and pyin compute for `n` samples: ``1 + (n + 2 * (span // 2)
    - span) // hop`` when centred (one fewer than ``1 + n // hop`` for an odd span when hop
    divides n), ``1 + (n - span) // hop`` when not. CQT: `gpuaudio.cqt_geometry`."""
    if not center:
        return 1 + (n - span) // hop
    return 1 + (n + 2 * (span // 2) - span) // hop


def _dtype_name(array: Any) -> str:
    """``"float32"`` for numpy's float32 and torch's ``torch.float32`` alike."""
    return str(array.dtype).removeprefix("torch.")


def _all(flags: Any) -> bool:
    """True if every element of a numpy or torch boolean array is true."""
    return bool(flags.all())


def _isnan(array: Any) -> Any:
    return array.isnan() if hasattr(array, "isnan") else np.isnan(array)


def _isfinite(array: Any) -> Any:
    return array.isfinite() if hasattr(array, "isfinite") else np.isfinite(array)


def _shape_problem(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if got == want:
        return ""
    text = f"{name} has shape {got}, expected {want}"
    if len(got) == len(want) and got[:-1] == want[:-1]:
        gap = want[-1] - got[-1]
        text += f" ({abs(gap)} frame(s) {'short' if gap > 0 else 'too many'})"
    elif sorted(got) == sorted(want):
        text += " (axes transposed?)"
    elif len(got) != len(want):
        text += f" ({len(got)}-D, not {len(want)}-D: batch-first, frames last)"
    return text


@dataclass(frozen=True)
class Expected:
    """The contract of one backend call: array shape (batch first, frames last) and dtypes."""

    feature: str
    shape: tuple[int, ...]
    dtypes: tuple[str, ...]
    unvoiced_nan: bool = True
    """f0: NaN exactly where unvoiced; False (pyin's ``fill_na=None``): a pitch everywhere."""
    f0_range: tuple[float, float] | None = None
    """f0: the ``(fmin, fmax)`` asked for; every pitch within it (`F0_SLACK`)."""
    nonnegative: bool = False
    """A power spectrum (mel): no value below 0."""

    def problem(self, result: Any) -> str:
        """What is wrong with `result` (empty when it honours the contract)."""
        if self.feature == "f0":
            return self._f0_problem(result)
        return self._array_problem(self.feature, result, self.dtypes, finite=True)

    def _array_problem(
        self, name: str, array: Any, dtypes: tuple[str, ...], *, finite: bool
    ) -> str:
        if array is None:
            return f"{name} is None"
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            return f"{name} is a {type(array).__name__}, not a numpy array or torch tensor"
        problem = _shape_problem(name, tuple(array.shape), self.shape)
        if problem:
            return problem
        dtype = _dtype_name(array)
        if dtype not in dtypes:
            return f"{name} has dtype {dtype}, expected {' or '.join(dtypes)}"
        if finite and not _all(_isfinite(array)):
            return f"{name} has NaN or infinite values"
        if finite and not _all(abs(array) <= _FLOAT32_MAX):
            return f"{name} has values beyond float32's range (they would become infinite)"
        if self.nonnegative and not _all(array >= 0):
            return f"{name} has negative values (it is a power spectrum)"
        return ""

    def _f0_problem(self, result: Any) -> str:
        if not isinstance(result, F0Frames):
            return (
                f"returned {type(result).__name__}, expected F0Frames(f0, voiced_flag, voiced_prob)"
            )
        problem = (
            self._array_problem("f0", result.f0, REAL, finite=False)
            or self._array_problem("voiced_flag", result.voiced_flag, BOOL, finite=False)
            or self._array_problem("voiced_prob", result.voiced_prob, REAL, finite=True)
        )
        if problem:
            return problem
        f0, voiced, prob = result.f0, result.voiced_flag, result.voiced_prob
        if self.unvoiced_nan and not _all(_isnan(f0) == ~voiced):
            return "f0 must be NaN exactly where voiced_flag is False"
        pitched = f0[voiced] if self.unvoiced_nan else f0  # fill_na=None: a pitch everywhere
        if not _all(_isfinite(pitched) & (pitched > 0)):
            return "f0 has infinite or non-positive values in voiced frames"
        if self.f0_range is not None:
            low, high = self.f0_range[0] / F0_SLACK, self.f0_range[1] * F0_SLACK
            if not _all((pitched >= low) & (pitched <= high)):
                return (
                    f"f0 has pitches outside fmin..fmax ({self.f0_range[0]:g}.."
                    f"{self.f0_range[1]:g} Hz)"
                )
        if not _all((prob >= 0) & (prob <= 1)):
            return "voiced_prob has values outside [0, 1]"
        return ""


def expected_f0(
    batch: int, frames: int, *, unvoiced_nan: bool = True,
    f0_range: tuple[float, float] | None = None,
) -> Expected:
    """F0Frames of three (batch, frames) arrays; f0 NaN where unvoiced unless `unvoiced_nan`
    is False (then a positive pitch in every frame, as pyin's ``fill_na=None``), and within
    `f0_range` (``(fmin, fmax)``) when given."""
    return Expected("f0", (batch, frames), REAL, unvoiced_nan, f0_range)


def expected_spectrum(
    feature: str, batch: int, rows: int, frames: int, *, complex_: bool
) -> Expected:
    """A (batch, rows, frames) spectrum: complex (STFT, CQT) or real and non-negative (mel),
    finite."""
    dtypes = COMPLEX if complex_ else REAL
    return Expected(feature, (batch, rows, frames), dtypes, nonnegative=not complex_)
