"""librosa.pyin's keyword arguments beyond the F0 protocol of API 1.0: defaults and checks.

The service passes them to an F0 backend only when its ``f0`` declares them (plugin API 1.x,
`gpuaudio.backends.declared_kwargs`); a non-default value for a backend that does not is an
`InvalidParameterError` naming the argument and the backend, never silently ignored.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from gpuaudio.errors import InvalidParameterError

MODEL_DEFAULTS: Mapping[str, Any] = {
    "n_thresholds": 100,
    "beta_parameters": (2, 18),
    "boltzmann_parameter": 2,
    "resolution": 0.1,
    "max_transition_rate": 35.92,
    "switch_prob": 0.01,
    "no_trough_prob": 0.01,
    "transition_min_prob": 1e-4,
}
"""librosa.pyin's pyin-model parameters and their defaults (librosa 0.11), and librosa 1.0's
``transition_min_prob``: its Viterbi considers only transitions at least that likely (None or
0: every transition, as librosa 0.11 always does)."""

PAD_MODES = (
    "constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum", "reflect",
    "symmetric", "wrap",
)
"""``numpy.pad`` modes librosa.pyin takes (``"empty"`` is refused: it pads with garbage)."""


def _real(
    name: str, value: Any, low: float, high: float = math.inf, *, open_low: bool,
    or_none: bool = False,
) -> float:
    """`value` as a float in (low, high] (`open_low`) or [low, high] (the message says that
    None is allowed too when `or_none`)."""
    number = math.nan
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        number = float(value)
    if math.isfinite(number) and (number > low if open_low else number >= low) and number <= high:
        return number
    bound = f"{'>' if open_low else '>='} {low:g}" + (f", <= {high:g}" if high < math.inf else "")
    allowed = "None or a finite number" if or_none else "a finite number"
    raise InvalidParameterError(f"{name} must be {allowed} {bound}, got {value!r}")


def model_params(
    *,
    n_thresholds: Any,
    beta_parameters: Any,
    boltzmann_parameter: Any,
    resolution: Any,
    max_transition_rate: Any,
    switch_prob: Any,
    no_trough_prob: Any,
    transition_min_prob: Any,
) -> dict[str, Any]:
    """The pyin-model parameters, checked (as librosa would accept them, probabilities in
    [0, 1]; `transition_min_prob` may also be None)."""
    if (
        isinstance(n_thresholds, bool)
        or not isinstance(n_thresholds, numbers.Integral)
        or n_thresholds <= 0
    ):
        raise InvalidParameterError(
            f"n_thresholds must be a positive integer, got {n_thresholds!r}"
        )
    try:
        alpha, beta = beta_parameters
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"beta_parameters must be two numbers (alpha, beta), got {beta_parameters!r}"
        ) from None
    params = {
        "n_thresholds": int(n_thresholds),
        "beta_parameters": (
            _real("beta_parameters[0]", alpha, 0, open_low=True),
            _real("beta_parameters[1]", beta, 0, open_low=True),
        ),
        "boltzmann_parameter": _real("boltzmann_parameter", boltzmann_parameter, 0, open_low=True),
        "resolution": _real("resolution", resolution, 0, open_low=True),
        "max_transition_rate": _real("max_transition_rate", max_transition_rate, 0, open_low=False),
        "switch_prob": _real("switch_prob", switch_prob, 0, 1, open_low=False),
        "no_trough_prob": _real("no_trough_prob", no_trough_prob, 0, 1, open_low=False),
        "transition_min_prob": None
        if transition_min_prob is None
        else _real("transition_min_prob", transition_min_prob, 0, 1, open_low=False, or_none=True),
    }
    return params


def fill_value(fill_na: Any) -> float | None:
    """`fill_na` as librosa.pyin takes it: None (unvoiced frames keep their pitch estimate) or
    a number (NaN included) written into unvoiced frames."""
    if fill_na is None:
        return None
    if isinstance(fill_na, bool) or not isinstance(fill_na, numbers.Real):
        raise InvalidParameterError(
            f"fill_na must be a number (NaN included) or None, got {fill_na!r}"
        )
    return float(fill_na)


def pad_mode(value: Any) -> Any:
    """A ``numpy.pad`` mode librosa.pyin takes: one of `PAD_MODES` or a callable."""
    if callable(value) or value in PAD_MODES:
        return value
    raise InvalidParameterError(
        f"pad_mode must be one of {', '.join(PAD_MODES)} or a numpy.pad callable, got {value!r}"
    )


def is_default(name: str, value: Any) -> bool:
    """True when `value` is librosa.pyin's default for `name` (NaN for fill_na)."""
    if name == "fill_na":
        return value is not None and math.isnan(value)
    if name == "center":
        return value is True
    return bool(value == MODEL_DEFAULTS[name])


def refuse_unhonoured(
    backend: str,
    requested: Mapping[str, Any],
    declared: Mapping[str, Any],
    shown: Mapping[str, str],
) -> None:
    """`InvalidParameterError` naming the first argument in `requested` with a non-default
    value that backend `backend` does not take (is not in `declared`); `shown` words a
    backend keyword as the caller wrote it (``pad_mode='reflect'`` for ``center=False``)."""
    for name, value in requested.items():
        if name not in declared and not is_default(name, value):
            argument = shown.get(name, f"{name}={value!r}")
            raise InvalidParameterError(
                f"the {backend} F0 backend cannot honour {argument}: its f0 takes no {name!r} "
                "(plugin API 1.x); leave it at librosa.pyin's default or choose a pyin backend, "
                'e.g. backends.f0 = "fastpyin" or "librosa"'
            )


class _Deprecated:
    """librosa's marker for a parameter left out (``win_length``)."""

    def __repr__(self) -> str:
        return "<DEPRECATED parameter>"


DEPRECATED: Any = _Deprecated()


def warn_win_length(win_length: Any) -> None:
    """librosa 0.11's FutureWarning when `win_length` is given: it has no effect (librosa 1.0
    removed it), so it is never passed to a backend."""
    if win_length is not DEPRECATED:
        warnings.warn(
            "The win_length parameter has been deprecated in version 0.11.0 and has no effect "
            "(as in librosa.pyin). It will be removed in version 1.0.0.",
            category=FutureWarning,
            stacklevel=3,
        )
