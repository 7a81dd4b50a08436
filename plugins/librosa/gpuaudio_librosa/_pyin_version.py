"""What the installed librosa's pyin decodes with: librosa 1.0 added ``transition_min_prob``."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import librosa

from gpuaudio import InvalidParameterError

TRANSITION_MIN_PROB = 1e-4
"""librosa 1.0's default ``transition_min_prob`` (extract_f0's default under every librosa)."""

SPARSE_VITERBI = "transition_min_prob" in inspect.signature(librosa.pyin).parameters
"""True from librosa 1.0: pyin takes ``transition_min_prob`` and its Viterbi considers only the
transitions at least that likely (librosa 0.11 considers every transition)."""


def transition_min_prob(value: float | None) -> float | None:
    """The ``transition_min_prob`` the installed librosa's pyin decodes with for `value`.

    From librosa 1.0 on, `value` itself. librosa 0.11's pyin has no such argument and always
    considers every transition: the default, None and 0 (which mean that, or librosa's own
    behaviour) give None; any other value is an `InvalidParameterError` naming the argument
    and the installed librosa.
    """
    if SPARSE_VITERBI:
        return value
    if value is None or value == 0 or value == TRANSITION_MIN_PROB:
        return None
    raise InvalidParameterError(
        f"transition_min_prob={value!r} needs librosa >= 1.0 (Python >= 3.12); the installed "
        f"librosa {version('librosa')} has no transition_min_prob (its pyin considers every "
        f"transition): leave it at its default ({TRANSITION_MIN_PROB}) or pass None"
    )
