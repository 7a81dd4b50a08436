"""Plugin loading through real entry points of fake distributions: good, broken, buggy."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from gpuaudio import (
    AudioFeatureService,
    BackendError,
    BackendSpec,
    BackendUnavailableError,
    ConfigError,
    hookimpl,
)
from gpuaudio.device import CPU_ONLY
from gpuaudio.plugins import make_plugin_manager

GOOD = """
from gpuaudio import BackendSpec, hookimpl

@hookimpl
def gpuaudio_stft_backends():
    return [BackendSpec("goodstft", "stft", "goodplug:GoodStft", requires=("numpy",),
                        priority=50, description="test backend")]

class GoodStft:
    def __init__(self, context):
        self.context = context

    def stft(self, y, *, n_fft, hop_length, win_length, window, center, pad_mode):
        import librosa
        return librosa.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                            window=window, center=center, pad_mode=pad_mode) * 0 + 7
"""
BROKEN = "raise ImportError('libfoo.so: cannot open shared object file')\n"
HOOK_BUG = """
from gpuaudio import hookimpl

@hookimpl
def gpuaudio_mel_backends():
    raise RuntimeError("bug in plugin hook")
"""
EXITS = "raise SystemExit(3)\n"
HOOK_EXITS = """
from gpuaudio import hookimpl

@hookimpl
def gpuaudio_f0_backends():
    raise SystemExit("plugin calls sys.exit in a hook")
"""
NOT_A_SPEC = """
from gpuaudio import hookimpl

@hookimpl
def gpuaudio_cqt_backends():
    return ["not a spec"]
"""


def _distribution(root: Path, name: str, source: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gpuaudio]\n{name} = {name}\n")


@pytest.fixture
def fake_dists(tmp_path, monkeypatch):
    for name, source in {
        "goodplug": GOOD,
        "brokenplug": BROKEN,
        "hookbugplug": HOOK_BUG,
        "notaspecplug": NOT_A_SPEC,
        "exitplug": EXITS,
        "hookexitplug": HOOK_EXITS,
    }.items():
        _distribution(tmp_path, name, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GPUAUDIO_PLUGINS", raising=False)
    return tmp_path


def test_good_plugin_registers_and_broken_ones_are_recorded(fake_dists):
    registry = make_plugin_manager()
    loaded = {p.plugin: p for p in registry.loaded}
    assert loaded["goodplug"].version == "1.0"
    assert "librosa" in loaded  # the real plugins still load
    spec = next(s for s in registry.specs("stft") if s.name == "goodstft")
    assert spec.plugin == "goodplug"
    failures = {f.plugin: f.error for f in registry.failures}
    assert "cannot open shared object file" in failures["brokenplug"]
    assert "bug in plugin hook" in failures["hookbugplug"]
    assert "expected BackendSpec" in failures["notaspecplug"]
    assert "SystemExit(3)" in failures["exitplug"]  # sys.exit at import: recorded, host lives
    assert "sys.exit in a hook" in failures["hookexitplug"]
    assert "hookbugplug" not in loaded
    assert all(s.plugin != "notaspecplug" for s in registry.specs("cqt"))


def test_restricting_plugins_by_environment(fake_dists, monkeypatch):
    monkeypatch.setenv("GPUAUDIO_PLUGINS", "goodplug")
    registry = make_plugin_manager()
    assert [p.plugin for p in registry.loaded] == ["goodplug"]
    assert registry.failures == []
    assert registry.specs("f0") == []
    monkeypatch.setenv("GPUAUDIO_PLUGINS", "goodplug, librosaa")  # a typo is said, not silent
    registry = make_plugin_manager()
    (failure,) = registry.failures
    assert (failure.plugin, failure.distribution) == ("librosaa", "GPUAUDIO_PLUGINS")
    assert "no installed plugin is named 'librosaa'" in failure.error
    assert "librosa" in failure.error.split("installed: ")[1]


def test_entry_point_backend_serves_the_service(fake_dists):
    service = AudioFeatureService({"backends": {"stft": "goodstft"}}, device_info=CPU_ONLY)
    result = service.stft(np.ones(4096, dtype=np.float32), n_fft=512)
    assert result.shape == (257, 33)
    assert np.all(result == 7)
    assert service.provenance["stft"].distribution == "goodplug"
    assert service.provenance["stft"].version == "1.0"


def test_auto_prefers_higher_priority(fake_dists):
    service = AudioFeatureService({}, device_info=CPU_ONLY)
    assert service.plan()["stft"].chosen.spec.name == "goodstft"


def test_table_for_unknown_backend_is_a_config_error(fake_dists):
    with pytest.raises(ConfigError, match=r"unknown config table \[crepo\]"):
        AudioFeatureService({"crepo": {"model": "tiny"}}, device_info=CPU_ONLY)
    # a table for a plugin that failed to load is not a typo: it is accepted
    AudioFeatureService({"brokenplug": {"x": 1}}, device_info=CPU_ONLY)


class _InProcess:
    """A plugin registered in-process, its backend failing to load."""

    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("ghost", "f0", "no_such_module_anywhere:Factory", priority=99)]


def test_backend_that_fails_to_load_falls_back_or_raises():
    registry = make_plugin_manager()
    registry.register(_InProcess(), name="ghostplug")
    tone = np.sin(np.arange(8000) / 8000 * 2 * np.pi * 200).astype(np.float32)
    service = AudioFeatureService({}, registry=registry, device_info=CPU_ONLY)
    _ = service.extract_f0(tone, 8000, frame_length=1024)
    prov = service.provenance["f0"]
    assert prov.backend != "ghost"
    assert "ghost" in prov.fallbacks[0] and "no_such_module_anywhere" in prov.fallbacks[0]
    strict = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    with pytest.raises(BackendError, match="ghost"):
        strict.extract_f0(tone, 8000, frame_length=1024)


class _Impostor:
    """A second plugin claiming the name of a real F0 backend (it would serve 1234 Hz)."""

    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("fastpyin", "f0", "no_such_module_anywhere:Factory", priority=1000)]


def test_two_backends_with_one_name_serve_neither_and_say_so(capsys):
    registry = make_plugin_manager()
    assert "fastpyin" in [s.name for s in registry.specs("f0")]
    registry.register(_Impostor(), name="impostor")
    registry.register(_InProcess(), name="ghostplug")  # collecting again adds no second line
    assert "fastpyin" not in [s.name for s in registry.specs("f0")]
    (clash,) = [f for f in registry.failures if "fastpyin" in f.error]
    assert "librosa and impostor both register a f0 backend named 'fastpyin'" in clash.error
    service = AudioFeatureService({"backends": {"f0": "fastpyin"}}, registry=registry,
                                  device_info=CPU_ONLY)  # fmt: skip
    with pytest.raises(BackendUnavailableError, match="fastpyin"):
        service.plan()


class _Exiting:
    """An F0 backend that calls sys.exit() while computing."""

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):
        raise SystemExit("a backend calling sys.exit")


class _ExitingPlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [BackendSpec("exiting", "f0", f"{__name__}:_Exiting", priority=99)]


def test_a_backend_calling_sys_exit_is_a_backend_error_not_the_end():
    registry = make_plugin_manager()
    registry.register(_ExitingPlugin(), name="exitingplug")
    tone = np.sin(np.arange(8000) / 8000 * 2 * np.pi * 200).astype(np.float32)
    service = AudioFeatureService({}, registry=registry, device_info=CPU_ONLY)
    service.extract_f0(tone, 8000, frame_length=1024)
    assert service.provenance["f0"].backend != "exiting"
    assert "sys.exit" in service.provenance["f0"].fallbacks[0]
    strict = AudioFeatureService({"fallback": False}, registry=registry, device_info=CPU_ONLY)
    with pytest.raises(BackendError, match="exiting"):
        strict.extract_f0(tone, 8000, frame_length=1024)
