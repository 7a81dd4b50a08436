"""The voice-activity decision: which analysis windows hold speech.

Speech has enough voiced frames, a spectrum less flat than noise and a level above the
recording's noise floor, and is not in a stretch that sounds like music (held notes, a wide
spread of pitch with some held notes, or held notes without speech's pauses). Noise, hiss,
dither, hum, tones and hold music hold none (tests/analysis/test_not_speech.py).
docs/escalation.md, method step 4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gpuaudio.analysis.cues import running_count, running_median

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import EscalationParams, _Raw


def voice_activity(raw: _Raw, params: EscalationParams) -> tuple[np.ndarray, np.ndarray]:
    """The voice-activity decision per window, and the windows it left out as music: speech
    has enough voiced frames with a median F0, a spectrum less flat than noise, a level above
    the recording's noise floor, and is not in a stretch that sounds like music (`_music`)."""
    sound = _voiced_sound(raw, params)
    music = _music(raw, sound, params)
    speech: np.ndarray = sound & ~music
    return speech, music


def _voiced_sound(raw: _Raw, params: EscalationParams) -> np.ndarray:
    """Windows with enough voiced frames, a spectrum less flat than noise and a level above
    the recording's noise floor: speech, or music."""
    voiced = (raw.voiced_fraction >= params.min_voiced_fraction) & np.isfinite(raw.f0_median_hz)
    sound: np.ndarray = voiced & shaped_sound(raw, params)
    return sound


def shaped_sound(raw: _Raw, params: EscalationParams) -> np.ndarray:
    """Windows with a spectrum less flat than noise and a level above the noise floor, voiced
    or not."""
    harmonic = np.nan_to_num(raw.flatness, nan=1.0) <= params.max_flatness
    shaped: np.ndarray = harmonic & (raw.level_dbfs >= noise_floor(raw) + _SPEECH_SNR_DB)
    return shaped


MUSIC_CONTEXT_S = 31.0
"""The music decision looks at the running median over this much of the voiced windows: a
held note or a chord lasts a second, a piece of music far longer."""
_MUSIC_MIN_S = 10.0
"""...and needs at least this much of voiced windows in that context: the median of a few
windows (the start of a live stream, a short file) is too noisy to call anything music."""
_SPREAD_WITH_STEADINESS = 0.15
"""A wide pitch spread is music only with some held notes in it: a far-field voice whose F0
slips an octave in many frames spreads as wide but never holds a pitch (steadiness <= 0.1)."""
_VOICED_MUSIC = (0.25, 0.85)
"""Music also when, over the context, some notes are held (steadiness above the first) and
nearly every frame is voiced (voiced fraction above the second): speech pauses between words
and phrases. On 1,310 cached tuning analyses of session 16 (205,976 windows) speech never held
both: where its running voiced fraction exceeds 0.8 its steadiness stays at 0.167 or less,
where its steadiness exceeds 0.2 its voiced fraction stays at 0.75 or less; Debian's five
hold-music tracks, as they are and through the set's telephone chain, had 254 windows that
the two rules above left as speech (reno_project-system 223 of them), 222 of which this one
takes (session 17)."""


def _music(raw: _Raw, sound: np.ndarray, params: EscalationParams) -> np.ndarray:
    """Windows of `sound` in a stretch that sounds like music: over `MUSIC_CONTEXT_S` of the
    sound windows, pitch held steady like notes (`max_pitch_steadiness`), or spread wide like
    several voices or instruments at once (`max_pitch_spread_st`) with some held notes, or
    some held notes without the pauses of speech (`_VOICED_MUSIC`). Real
    speech glides and stays within a few semitones in a second (0 of 83,499 speech windows of
    the tuning half; 0 of the 24 voices of the set, clean and behind a phone line's AGC)."""
    half_width = int(MUSIC_CONTEXT_S / params.hop / 2)

    def context(values: np.ndarray) -> np.ndarray:
        """Running median of `values` over the sound windows around each window, 0 where
        none."""
        median = running_median(values, sound & np.isfinite(values), half_width)
        filled: np.ndarray = np.nan_to_num(median)
        return filled

    steady = context(raw.f0_steadiness)
    spread = context(raw.f0_variability_st)
    voiced = context(raw.voiced_fraction)
    heard = np.nan_to_num(running_count(sound, half_width))
    music: np.ndarray = (
        sound
        & (heard * params.hop >= _MUSIC_MIN_S)
        & (
            (steady > params.max_pitch_steadiness)
            | ((spread > params.max_pitch_spread_st) & (steady > _SPREAD_WITH_STEADINESS))
            | ((steady > _VOICED_MUSIC[0]) & (voiced > _VOICED_MUSIC[1]))
        )
    )
    return music


def why_not_speech(raw: _Raw, params: EscalationParams, music: np.ndarray) -> list[str]:
    """Why the windows that are not speech are not, as counts in words ("12 without
    voicing"), each window under its first reason; reasons no window has are left out."""
    voiced = (raw.voiced_fraction >= params.min_voiced_fraction) & np.isfinite(raw.f0_median_hz)
    steady = raw.level_dbfs < noise_floor(raw) + _SPEECH_SNR_DB
    flat = ~(np.nan_to_num(raw.flatness, nan=1.0) <= params.max_flatness)
    reasons = (
        (~voiced, "without voicing"),
        (voiced & flat, "voiced but noise-like (a flat spectrum)"),
        (voiced & ~flat & steady, "voiced but steady, without the pauses of speech (a tone, a "
                                  "hum, a held sound?)"),
        (voiced & ~flat & ~steady & music, "like music"),
    )
    return [f"{int(mask.sum())} {words}" for mask, words in reasons if mask.any()]


_SPEECH_SNR_DB = 6.0
"""Speech windows are at least this far above the recording's noise floor."""


def noise_floor(raw: _Raw) -> float:
    """The recording's noise floor: the 10th percentile of its windows' quiet-frame levels.

    Speech pauses between words, so its windows stand well above the quietest frames; hum,
    hiss and other steady sounds do not.
    """
    return float(np.percentile(raw.quiet_dbfs, 10)) if raw.quiet_dbfs.size else -np.inf
