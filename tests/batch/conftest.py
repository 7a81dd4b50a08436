"""Shared by the batch tests: isolation from the developer's config and short recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gpuaudio.evaluation.synth import synthesize_speech

SR = 16000


@pytest.fixture(autouse=True)
def _isolated(isolated):
    """Every batch test in an empty folder, without the developer's gpuaudio settings."""


@pytest.fixture(scope="session")
def speech():
    """Three 12-s speech-like signals (16 kHz), different speakers."""
    return [
        synthesize_speech(12.0, sr=SR, seed=seed, base_f0=f0)[0]
        for seed, f0 in ((1, 110.0), (2, 140.0), (3, 200.0))
    ]


@pytest.fixture
def archive(tmp_path, speech) -> Path:
    """A folder archive: site1/call.wav, site2/call.wav (same name) and talk.flac."""
    root = tmp_path / "archive"
    names = ("site1/call.wav", "site2/call.wav", "talk.flac")
    for relative, audio in zip(names, speech, strict=True):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / relative, audio, SR)
    return root


def write_corrupt(path: Path) -> Path:
    """A file with an audio extension that no decoder opens."""
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)))
    return path


@pytest.fixture
def corrupt():
    return write_corrupt


@pytest.fixture
def stereo(tmp_path, speech) -> Path:
    """A two-channel file: a different speaker on each channel."""
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([speech[0], speech[2]], axis=1), SR)
    return path
