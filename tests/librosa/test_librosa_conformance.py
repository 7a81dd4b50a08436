"""The librosa plugin passes the conformance suite it ships for everyone else."""

from gpuaudio.testing import (
    CqtBackendConformance,
    F0BackendConformance,
    MelBackendConformance,
    StftBackendConformance,
)


class TestLibrosaF0(F0BackendConformance):
    backend = "librosa"


class TestLibrosaStft(StftBackendConformance):
    backend = "librosa"
    rtol = 0.0


class TestLibrosaMel(MelBackendConformance):
    backend = "librosa"
    rtol = 0.0


class TestLibrosaCqt(CqtBackendConformance):
    backend = "librosa"
    rtol = 0.0
