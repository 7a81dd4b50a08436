"""User control of `auto` (issue 13, item 5): named-only backends, a ``[priorities]`` table,
optional names in a preference list, and the recorded error of a plugin that failed."""

from __future__ import annotations

import logging

import pytest

from gpuaudio import AudioFeatureService, BackendSpec, BackendUnavailableError, ConfigError
from gpuaudio.device import CPU_ONLY
from gpuaudio.plugins import PluginFailure, make_plugin_manager
from gpuaudio.resolver import resolve

SPECS = [
    BackendSpec("reference", "f0", "m:f", priority=0),
    BackendSpec("fast", "f0", "m:f", priority=10),
    BackendSpec("experimental", "f0", "m:f", priority=99, auto=False),
]


def names(resolution):
    return [c.spec.name for c in resolution.ranked]


def test_a_named_only_backend_is_never_chosen_by_auto_but_serves_when_named():
    auto = resolve("f0", SPECS, CPU_ONLY)
    assert names(auto) == ["fast", "reference"]
    (why,) = [r.reason for r in auto.rejected if r.spec.name == "experimental"]
    assert "only when named" in why
    assert names(resolve("f0", SPECS, CPU_ONLY, choice="experimental")) == ["experimental"]
    named_then_auto = resolve("f0", SPECS, CPU_ONLY, choice=["experimental", "auto"])
    assert names(named_then_auto) == ["experimental", "fast", "reference"]


def test_priorities_override_the_plugins():
    res = resolve("f0", SPECS, CPU_ONLY, priorities={"reference": 50})
    assert names(res) == ["reference", "fast"]
    res = resolve("f0", SPECS, CPU_ONLY, priorities={"fast": -1})
    assert names(res) == ["reference", "fast"]


def test_an_optional_name_that_is_absent_is_skipped_with_a_note(caplog):
    with caplog.at_level(logging.INFO, logger="gpuaudio.resolver"):
        res = resolve("f0", SPECS, CPU_ONLY, choice=["praat?", "auto"])
    assert names(res) == ["fast", "reference"]
    assert res.notes == ("optional f0 backend 'praat' is not registered: skipped",)
    assert "praat" in caplog.text
    present = resolve("f0", SPECS, CPU_ONLY, choice=["reference?", "auto"])
    assert names(present) == ["reference", "fast"] and present.notes == ()
    with pytest.raises(BackendUnavailableError, match="unknown f0 backend 'praat'"):
        resolve("f0", SPECS, CPU_ONLY, choice=["praat", "auto"])  # not optional: an error
    with pytest.raises(BackendUnavailableError, match="add 'auto'"):
        resolve("f0", SPECS, CPU_ONLY, choice=["praat?"])


def test_naming_a_backend_whose_plugin_failed_shows_the_recorded_error():
    registry = make_plugin_manager()
    registry.failures.append(
        PluginFailure("praat", "gpuaudio-praat", "ImportError('libpraat.so: not found')")
    )
    service = AudioFeatureService(
        {"backends": {"f0": "praat"}, "praat": {"x": 1}}, registry=registry,
        device_info=CPU_ONLY,
    )  # fmt: skip
    with pytest.raises(BackendUnavailableError, match=r"praat \(gpuaudio-praat\): ImportError"):
        service.plan()


def test_priorities_table_through_config_and_environment(monkeypatch):
    monkeypatch.setenv("GPUAUDIO_PRIORITIES__LIBROSA", "100")
    service = AudioFeatureService({}, device_info=CPU_ONLY)
    assert service.config.priorities == {"librosa": 100}
    assert service.plan()["f0"].chosen.spec.name == "librosa"  # above fastpyin's 10
    plan = AudioFeatureService(
        {"backends": {"f0": ["praat?", "auto"]}}, device_info=CPU_ONLY
    ).plan()
    assert "note: optional f0 backend 'praat' is not registered: skipped" in str(plan)


def test_a_priority_for_an_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[priorities\] key 'librosaa'.*did you mean 'librosa'"):
        AudioFeatureService({"priorities": {"librosaa": 5}}, device_info=CPU_ONLY)
    with pytest.raises(ConfigError, match="priorities"):
        AudioFeatureService({"priorities": {"librosa": "high"}}, device_info=CPU_ONLY)
    with pytest.raises(ConfigError, match="optional backend name"):
        AudioFeatureService({"backends": {"f0": ["auto?"]}}, device_info=CPU_ONLY)
