"""Typed backend options (issue 13, item 4): `BackendSpec(options=<pydantic model>)`.

The service validates every backend table when it is built and in `plan()`, environment
strings are coerced by the model, unknown keys get a did-you-mean, and
``gpuaudio plugins --options`` lists every option with its type and default.
"""

from __future__ import annotations

from typing import Any, Literal

import librosa
import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from gpuaudio import AudioFeatureService, BackendContext, BackendSpec, ConfigError, hookimpl
from gpuaudio.backends import describe_options, parse_options
from gpuaudio.cli import main
from gpuaudio.device import CPU_ONLY
from gpuaudio.memory import MemoryManager
from gpuaudio.plugins import make_plugin_manager

SEEN: list[Any] = []
"""The options each `TunedStft` was built with."""


class TunedOptions(BaseModel):
    """A backend's options of every common kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gain: float = Field(1.0, gt=0, description="Multiplies the spectrum.")
    blocks: int = 4
    exact: bool = False
    flavour: Literal["plain", "fancy"] = "plain"


class TunedStft:
    def __init__(self, context: BackendContext) -> None:
        SEEN.append(context.options)
        self.gain = context.options_as(TunedOptions, "tuned").gain

    def stft(self, y, *, n_fft, hop_length, win_length, window, center, pad_mode):  # type: ignore[no-untyped-def]
        return self.gain * librosa.stft(
            y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
            center=center, pad_mode=pad_mode,
        )  # fmt: skip


class TunedPlugin:
    @hookimpl
    def gpuaudio_stft_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("tuned", "stft", f"{__name__}:TunedStft", options=TunedOptions)]


@pytest.fixture
def registry():
    registry = make_plugin_manager()
    registry.register(TunedPlugin(), name="tunedplug")
    SEEN.clear()
    return registry


def _service(registry: Any, config: dict[str, Any]) -> AudioFeatureService:
    return AudioFeatureService(
        {"backends": {"stft": "tuned"}, **config}, registry=registry, device_info=CPU_ONLY
    )


def test_environment_strings_are_coerced_and_the_backend_gets_the_model(registry, monkeypatch):
    for key, value in {"GAIN": "2.5", "BLOCKS": "8", "EXACT": "true", "FLAVOUR": "fancy"}.items():
        monkeypatch.setenv(f"GPUAUDIO_TUNED__{key}", value)
    y = np.ones(2048, dtype=np.float32)
    result = _service(registry, {}).stft(y, n_fft=512)
    assert [TunedOptions(gain=2.5, blocks=8, exact=True, flavour="fancy")] == SEEN
    np.testing.assert_allclose(result, 2.5 * librosa.stft(y, n_fft=512), rtol=1e-6)


def test_defaults_when_there_is_no_table(registry):
    _service(registry, {}).stft(np.ones(2048, dtype=np.float32), n_fft=512)
    assert [TunedOptions()] == SEEN


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"gian": 2}, r"unknown \[tuned\] option 'gian': did you mean 'gain'\?"),
        ({"zzz": 2}, r"option 'zzz': \(options: gain, blocks, exact, flavour\)"),
        ({"gain": -1}, r"invalid \[tuned\] options: tuned.gain: Input should be greater than 0"),
        ({"blocks": "many"}, r"tuned.blocks: Input should be a valid integer"),
        ({"flavour": "spicy"}, r"tuned.flavour: Input should be 'plain' or 'fancy'"),
    ],
)
def test_bad_tables_are_refused_when_the_service_is_built(registry, table, message):
    with pytest.raises(ConfigError, match=message):
        _service(registry, {"tuned": table})
    assert SEEN == []  # nothing was loaded


class PlainMelPlugin:
    """Registers a mel backend also named "tuned", taking no options."""

    @hookimpl
    def gpuaudio_mel_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("tuned", "mel", f"{__name__}:TunedStft")]


def test_plan_checks_the_tables_again_for_backends_registered_later(registry):
    service = _service(registry, {"tuned": {"gain": 2}})
    registry.register(PlainMelPlugin(), name="plainmel")
    with pytest.raises(ConfigError, match=r"the tuned backend takes no options, got \['gain'\]"):
        service.plan()


def test_a_typo_in_a_crepe_table_is_caught_up_front():
    with pytest.raises(
        ConfigError, match=r"unknown \[crepe\] option 'modle': did you mean 'model'"
    ):
        AudioFeatureService({"crepe": {"modle": "tiny"}}, device_info=CPU_ONLY)
    with pytest.raises(ConfigError, match=r"crepe.model: Input should be 'full' or 'tiny'"):
        AudioFeatureService({"crepe": {"model": "huge"}}, device_info=CPU_ONLY)
    with pytest.raises(ConfigError, match=r"did you mean \[crepe\]\?"):
        AudioFeatureService({"crepo": {"model": "tiny"}}, device_info=CPU_ONLY)


def test_options_as_accepts_a_dict_or_the_model():
    context = BackendContext("cpu", "fp32", MemoryManager("cpu"), {"gain": "3"})
    assert context.options_as(TunedOptions, "tuned") == TunedOptions(gain=3.0)
    model = TunedOptions(blocks=2)
    assert (
        BackendContext("cpu", "fp32", MemoryManager("cpu"), model).options_as(TunedOptions, "tuned")
        is model
    )
    with pytest.raises(ConfigError, match=r"\[tuned\]"):
        parse_options(TunedOptions, {"exact": "perhaps"}, "tuned")


def test_a_spec_options_must_be_a_model_class():
    with pytest.raises(ValueError, match="pydantic model class"):
        BackendSpec("x", "stft", "m:f", options=dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pydantic model class"):
        BackendSpec("x", "stft", "m:f", options=TunedOptions())  # type: ignore[arg-type]


class NeedsKey(BaseModel):
    """Options with a required field: no default the service could build them from."""

    key: str


class NeedsKeyPlugin:
    @hookimpl
    def gpuaudio_stft_backends(self):  # type: ignore[no-untyped-def]
        return [BackendSpec("keyed", "stft", f"{__name__}:TunedStft", options=NeedsKey)]


def test_options_without_defaults_fail_the_plugin_not_every_run(registry):
    with pytest.raises(ValueError, match=r"without a config table.*: key"):
        BackendSpec("keyed", "stft", "m:f", options=NeedsKey)
    registry.register(NeedsKeyPlugin(), name="keyplug")
    assert [f.plugin for f in registry.failures] == ["keyplug"]
    assert "give these fields defaults: key" in registry.failures[0].error
    service = AudioFeatureService(registry=registry, device_info=CPU_ONLY)  # still builds
    y = np.sin(np.arange(4096) / 7.0).astype(np.float32)
    assert service.stft(y).shape == librosa.stft(y).shape


def test_describe_options_types_and_defaults():
    info = {o.name: o for o in describe_options(TunedOptions)}
    assert (info["gain"].type, info["gain"].default) == ("float", "1.0")
    assert info["gain"].description == "Multiplies the spectrum."
    assert (info["flavour"].type, info["flavour"].default) == (
        "Literal['plain', 'fancy']",
        "'plain'",
    )


def test_plugins_verb_lists_options(capsys):
    assert main(["plugins", "--options"]) == 0
    out = capsys.readouterr().out
    crepe = out[out.index("  [crepe]") :]
    assert "model: Literal['full', 'tiny'] = 'full'" in crepe
    assert "silence_db: float = -60.0" in crepe
    librosa_block = out[out.index("  [librosa]") :]
    assert librosa_block.splitlines()[1].strip() == "takes no options"
