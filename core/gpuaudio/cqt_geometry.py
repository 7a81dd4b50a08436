"""librosa.cqt's geometry without librosa: bin frequencies, filter lengths, the Nyquist check,
early downsampling and the frame count, for the service's validation and for CQT backends.

librosa (0.10, 0.11) filters octave by octave. When the top octave's filters reach far below
the Nyquist frequency and the hop has enough factors of two, it first downsamples the whole
signal by ``2**d`` ("early downsampling"), which rounds the length up: a signal then has
``1 + ceil(n / 2**d) // (hop / 2**d)`` frames, one more than ``1 + n // hop`` when ``n`` ends
just short of a hop boundary (66,227 samples at hop 64, 24 bins: 1036 frames, not 1035). The
formulas below are librosa's (``vqt``, ``wavelet_lengths``, ``_relative_bandwidth``,
``__early_downsample_count``) for its defaults: equal temperament, tuning 0, filter_scale 1,
Hann window, gamma 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gpuaudio.errors import InvalidParameterError

HANN_BANDWIDTH = 1.50018310546875
"""librosa.filters.WINDOW_BANDWIDTHS["hann"]: the Hann window's equivalent noise bandwidth."""


@dataclass(frozen=True)
class CqtGeometry:
    """One librosa.cqt configuration (``sr``, ``hop_length``, ``fmin``, ``n_bins``,
    ``bins_per_octave``); parameters are assumed already type-checked."""

    sr: int
    hop_length: int
    fmin: float
    n_bins: int
    bins_per_octave: int

    @property
    def n_octaves(self) -> int:
        return math.ceil(self.n_bins / self.bins_per_octave)

    @cached_property
    def freqs(self) -> np.ndarray:
        """Centre frequency of every bin (Hz), as librosa.interval_frequencies."""
        bpo = self.bins_per_octave
        ratios = 2.0 ** (np.arange(bpo, dtype=float) / bpo)
        octaves = 2.0 ** np.arange(self.n_octaves)
        return np.sort(np.multiply.outer(octaves, ratios).flatten()[: self.n_bins]) * self.fmin

    @cached_property
    def alpha(self) -> np.ndarray:
        """Relative bandwidth of every bin (librosa's ``_relative_bandwidth``)."""
        if self.n_bins == 1:
            step = 2.0 ** (2 / self.bins_per_octave)
            return np.array([(step - 1) / (step + 1)])
        logf = np.log2(self.freqs)
        bpo = np.empty_like(self.freqs)
        bpo[0] = 1 / (logf[1] - logf[0])
        bpo[-1] = 1 / (logf[-1] - logf[-2])
        bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
        step = 2.0 ** (2 / bpo)
        alpha: np.ndarray = (step - 1) / (step + 1)
        return alpha

    @property
    def filter_cutoff(self) -> float:
        """Highest frequency the filters reach (Hz); librosa refuses it above Nyquist."""
        return float(np.max(self.freqs * (1 + 0.5 * HANN_BANDWIDTH * self.alpha)))

    @property
    def longest_filter(self) -> int:
        """Samples of the longest (lowest) filter at the full rate."""
        return math.ceil(float(np.max(self.sr / self.alpha / self.freqs)))

    @property
    def early_downsampling(self) -> int:
        """``d``: librosa first downsamples the signal by ``2**d`` (0: not at all)."""
        by_cutoff = max(0, math.ceil(math.log2(self.sr / 2 / self.filter_cutoff)) - 1 - 1)
        twos = (self.hop_length & -self.hop_length).bit_length() - 1
        return min(by_cutoff, max(0, twos - self.n_octaves + 1))

    @property
    def min_samples(self) -> int:
        """The shortest signal librosa analyses here (early downsampling needs ``2**d``)."""
        return 1 << self.early_downsampling

    def frames(self, n: int) -> int:
        """Frames librosa.cqt returns for `n` samples: the fewest of any octave's STFT."""
        factor = self.min_samples
        length, hop = -(-n // factor), self.hop_length // factor
        frames = 1 + length // hop
        for _ in range(self.n_octaves - 1):
            if hop % 2:
                break  # librosa stops downsampling at an odd hop
            length, hop = -(-length // 2), hop // 2
            frames = min(frames, 1 + length // hop)
        return frames

    def check_nyquist(self) -> None:
        """`InvalidParameterError` naming ``n_bins`` (or ``fmin``) when the top filter reaches
        above the Nyquist frequency, the case librosa.cqt refuses."""
        nyquist = self.sr / 2
        if self.filter_cutoff <= nyquist:
            return
        fitting, too_many = 0, self.n_bins  # bisect: the cutoff grows with n_bins
        while too_many - fitting > 1:
            middle = (fitting + too_many) // 2
            if _with_bins(self, middle).filter_cutoff <= nyquist:
                fitting = middle
            else:
                too_many = middle
        advice = (
            f"use n_bins <= {fitting}, a lower fmin or a higher sample rate"
            if fitting >= 1
            else "fmin is too close to the Nyquist frequency for a CQT: lower fmin"
        )
        raise InvalidParameterError(
            f"n_bins={self.n_bins} at {self.bins_per_octave} per octave from fmin="
            f"{self.fmin:g} Hz reaches {self.filter_cutoff:.0f} Hz with its top filter's "
            f"bandwidth, above the Nyquist frequency ({nyquist:g} Hz) of sr={self.sr}: {advice}"
        )


def _with_bins(geometry: CqtGeometry, n_bins: int) -> CqtGeometry:
    return CqtGeometry(
        geometry.sr, geometry.hop_length, geometry.fmin, n_bins, geometry.bins_per_octave
    )
