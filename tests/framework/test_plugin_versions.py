"""Plugin API versions (issue 13, item 6): `BackendSpec.api_version`, the refusal of another
major version, and new keyword arguments passed only to backends that declare them."""

from __future__ import annotations

import pytest

from gpuaudio import BackendSpec, hookimpl
from gpuaudio.backends import API_VERSION, declared_kwargs
from gpuaudio.cli import main
from gpuaudio.plugins import make_plugin_manager


class FuturePlugin:
    """One backend for this API, one for the next major version, one for a later minor."""

    @hookimpl
    def gpuaudio_mel_backends(self):  # type: ignore[no-untyped-def]
        return [
            BackendSpec("today", "mel", "m:f"),
            BackendSpec("tomorrow", "mel", "m:f", api_version="2.0"),
            BackendSpec("later", "mel", "m:f", api_version="1.9"),
        ]


def test_the_current_version_is_the_default():
    assert API_VERSION == "1.0"
    assert BackendSpec("x", "f0", "m:f").api_version == API_VERSION


def test_another_major_version_is_refused_and_listed():
    registry = make_plugin_manager(load_entry_points=False)
    registry.register(FuturePlugin(), name="futureplug")
    assert sorted(s.name for s in registry.specs("mel")) == ["later", "today"]
    (failure,) = registry.failures
    assert failure.plugin == "futureplug"
    assert "'tomorrow' is written for plugin API 2.0, this gpuaudio speaks 1.0" in failure.error
    assert "futureplug" in [p.plugin for p in registry.loaded]  # its other backends serve


def test_plugins_verb_lists_the_refusal(capsys, monkeypatch):
    from gpuaudio import plugins as plugin_module

    real = plugin_module.make_plugin_manager

    def with_future(**kwargs):  # type: ignore[no-untyped-def]
        registry = real(**kwargs)
        registry.register(FuturePlugin(), name="futureplug")
        return registry

    monkeypatch.setattr(plugin_module, "make_plugin_manager", with_future)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "plugins that failed to load:" in out and "written for plugin API 2.0" in out


@pytest.mark.parametrize("bad", ["1", "one", "1.0.0", "v1.0", 1.0])
def test_a_malformed_api_version_is_refused(bad):
    with pytest.raises(ValueError, match=r"api_version must be 'MAJOR\.MINOR'"):
        BackendSpec("x", "f0", "m:f", api_version=bad)


class Old:
    def mel(self, y, *, n_fft):  # type: ignore[no-untyped-def]
        return n_fft


class New:
    def mel(self, y, *, n_fft, weighting="none"):  # type: ignore[no-untyped-def]
        return weighting


class Open:
    def mel(self, y, **kwargs):  # type: ignore[no-untyped-def]
        return kwargs


def test_new_keyword_arguments_reach_only_backends_that_declare_them():
    added = {"weighting": "a"}
    assert declared_kwargs(Old().mel, added) == {}
    assert declared_kwargs(New().mel, added) == added
    assert declared_kwargs(Open().mel, added) == added
    assert declared_kwargs(Old().mel, {}) == {}
