"""No plugin can end, hang or exhaust the host (issue 13, item 3).

Each plugin is a fake distribution with a real entry point: imports that raise a
`BaseException`, an import that never returns, hooks that raise one or never stop yielding.
"""

from __future__ import annotations

import _thread
import itertools
import logging
import signal
import textwrap
import threading
from pathlib import Path

import pytest

from gpuaudio import ConfigError
from gpuaudio.plugins import MAX_SPECS_PER_HOOK, make_plugin_manager, plugin_timeout

GATE = threading.Event()
"""The hanging plugin's import waits on this; set when its test ends."""
HOOK_CALLS: list[str] = []
"""One entry per call of the hanging hook."""

PLUGINS = {
    "kbplug": "raise KeyboardInterrupt('raised by a plugin, not by the user')\n",
    "baseplug": """
        class PluginEscape(BaseException):
            pass

        raise PluginEscape('a BaseException subclass')
    """,
    "basehookplug": """
        from gpuaudio import hookimpl

        class PluginEscape(BaseException):
            pass

        @hookimpl
        def gpuaudio_mel_backends():
            raise PluginEscape('from a hook')
    """,
    "kbhookplug": """
        from gpuaudio import hookimpl

        @hookimpl
        def gpuaudio_cqt_backends():
            raise KeyboardInterrupt('from a hook')
    """,
    "endlessplug": """
        import itertools
        from gpuaudio import BackendSpec, hookimpl

        @hookimpl
        def gpuaudio_stft_backends():
            for i in itertools.count():
                yield BackendSpec(f"endless{i}", "stft", "endlessplug:Nothing")
    """,
}
HANG = f"from {__name__} import GATE\nGATE.wait(60)\n"
HANGING_HOOK = f"""
from gpuaudio import hookimpl
from {__name__} import GATE, HOOK_CALLS

@hookimpl
def gpuaudio_stft_backends():
    HOOK_CALLS.append("stft")
    GATE.wait(60)
    return []
"""
_HANG_NAMES = itertools.count()


def _distribution(root: Path, name: str, source: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gpuaudio]\n{name} = {name}\n")


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """The plugins above and one whose import hangs (a new module name per test: a finished
    import stays in sys.modules); yields the hanging one's name."""
    hang = f"hangplug{next(_HANG_NAMES)}"
    for name, source in {**PLUGINS, hang: HANG, "hanghookplug": HANGING_HOOK}.items():
        _distribution(tmp_path, name, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GPUAUDIO_PLUGINS", raising=False)
    monkeypatch.setenv("GPUAUDIO_PLUGIN_IMPORT_TIMEOUT", "0.5")
    GATE.clear()
    HOOK_CALLS.clear()
    yield hang
    GATE.set()  # let the hung import finish in its worker thread


def test_base_exceptions_and_a_hang_are_recorded_and_the_host_goes_on(plugins, caplog):
    with caplog.at_level(logging.WARNING, logger="gpuaudio.plugins"):
        registry = make_plugin_manager()  # the hangs cost one time limit each, not forever
    failures = {f.plugin: f.error for f in registry.failures}
    assert "KeyboardInterrupt('raised by a plugin" in failures["kbplug"]
    assert "PluginEscape('a BaseException subclass')" in failures["baseplug"]
    assert "mel hook failed: PluginEscape('from a hook')" in failures["basehookplug"]
    assert "KeyboardInterrupt('from a hook')" in failures["kbhookplug"]
    hang = failures[plugins]
    assert "did not finish within 0.5 s" in hang and "GPUAUDIO_PLUGINS" in hang
    assert "stft hook failed: gpuaudio_stft_backends() did not finish within 0.5 s" in (
        failures["hanghookplug"]
    )
    assert "librosa" in {p.plugin for p in registry.loaded}  # the real plugins still serve
    assert registry.specs("f0")
    logged = caplog.text
    assert plugins in logged and "baseplug" in logged  # library users see it in their logs
    before, calls = list(registry.failures), list(HOOK_CALLS)
    registry.collect()  # failed hooks are not called again: no second hang, no second record
    assert calls == ["stft"] and calls == HOOK_CALLS
    assert registry.failures == before


def test_an_endless_hook_registers_a_bounded_number(plugins):
    registry = make_plugin_manager()
    endless = [s for s in registry.specs("stft") if s.plugin == "endlessplug"]
    assert len(endless) == MAX_SPECS_PER_HOOK
    (failure,) = [f for f in registry.failures if f.plugin == "endlessplug"]
    assert f"more than {MAX_SPECS_PER_HOOK} backends" in failure.error
    registry.collect()  # collecting again records it once
    assert sum(f.plugin == "endlessplug" for f in registry.failures) == 1


def test_a_real_ctrl_c_while_waiting_for_a_plugin_stops_the_host(plugins, monkeypatch, caplog):
    monkeypatch.setenv("GPUAUDIO_PLUGIN_IMPORT_TIMEOUT", "20")
    # Python's own Ctrl-C handler (a shell running the tests in the background ignores SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="gpuaudio.plugins"), pytest.raises(
            KeyboardInterrupt
        ):
            make_plugin_manager(only=[plugins])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    # interrupted while it waited: the 20-s time limit never ran out, so nothing was recorded
    assert "did not finish within" not in caplog.text


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_time_limit_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="GPUAUDIO_PLUGIN_IMPORT_TIMEOUT"):
        plugin_timeout({"GPUAUDIO_PLUGIN_IMPORT_TIMEOUT": raw})
    assert plugin_timeout({"GPUAUDIO_PLUGIN_IMPORT_TIMEOUT": " 2.5 "}) == 2.5
    assert plugin_timeout({}) == 10.0


SHADOW = """
from gpuaudio import hookimpl

@hookimpl
def gpuaudio_f0_backends():
    raise AssertionError("an impostor's hook must never run")
"""


def test_a_distribution_claiming_a_taken_plugin_name_loads_neither(tmp_path, monkeypatch):
    """An impostor named like the built-in librosa plugin: which one loaded would depend on
    sys.path, so neither does, and the clash names both distributions."""
    (tmp_path / "shadowmod.py").write_text(textwrap.dedent(SHADOW))
    info = tmp_path / "gpuaudio_shadow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gpuaudio-shadow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gpuaudio]\nlibrosa = shadowmod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GPUAUDIO_PLUGINS", raising=False)
    registry = make_plugin_manager()
    assert "librosa" not in {p.plugin for p in registry.loaded}
    assert not registry.manager.has_plugin("librosa")
    (failure,) = [f for f in registry.failures if f.plugin == "librosa"]
    assert "gpuaudio-shadow" in failure.distribution and "gpuaudio-librosa" in failure.distribution
    assert "neither is loaded" in failure.error
    assert not [s for s in registry.specs("f0") if s.plugin == "librosa"]
    assert "crepe" in {p.plugin for p in registry.loaded}  # other plugins still serve
