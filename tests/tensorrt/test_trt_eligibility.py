"""Where the tensorrt backend may serve: CUDA, compute capability >= 7.0, tensorrt importable."""

from __future__ import annotations

import pytest

import gpuaudio_crepe
import gpuaudio_tensorrt
from gpuaudio import BackendContext, BackendUnavailableError, ConfigError, MemoryManager, device
from gpuaudio.cli import main
from gpuaudio.device import DeviceInfo
from gpuaudio.plugins import make_plugin_manager
from gpuaudio.resolver import resolve
from gpuaudio.testing import fake_gpu
from gpuaudio_tensorrt._backend import TensorRTCrepeBackend

SPECS = [*gpuaudio_tensorrt.gpuaudio_f0_backends(), *gpuaudio_crepe.gpuaudio_f0_backends()]


def everything_installed(module: str) -> bool:
    return True


def no_tensorrt(module: str) -> bool:
    return module != "tensorrt"


@pytest.mark.parametrize("capability", [(7, 0), (8, 0), (9, 0)])
def test_chosen_before_crepe_from_volta_on(capability: tuple[int, int]) -> None:
    resolution = resolve(
        "f0", SPECS, fake_gpu(compute_capability=capability), available=everything_installed
    )
    assert [c.spec.name for c in resolution.ranked] == ["tensorrt", "crepe"]
    assert resolution.chosen.device == "cuda:0"


def test_pascal_is_rejected_with_its_capability_and_crepe_serves() -> None:
    resolution = resolve(
        "f0", SPECS, fake_gpu(compute_capability=(6, 1)), available=everything_installed
    )
    reasons = {r.spec.name: r.reason for r in resolution.rejected}
    assert "compute capability 6.1" in reasons["tensorrt"]
    assert "required 7.0" in reasons["tensorrt"]
    assert resolution.chosen.spec.name == "crepe"


def test_missing_tensorrt_is_rejected_with_the_install_hint() -> None:
    resolution = resolve("f0", SPECS, fake_gpu(compute_capability=(8, 0)), available=no_tensorrt)
    rejection = next(r for r in resolution.rejected if r.spec.name == "tensorrt")
    assert rejection.needs_install
    assert rejection.reason.startswith("missing module tensorrt")
    assert "pip install 'gpuaudio[tensorrt]'" in rejection.reason
    assert resolution.chosen.spec.name == "crepe"


def test_no_cuda_device_means_ineligible_even_with_tensorrt_installed() -> None:
    cpu_only = DeviceInfo(torch_available=True, torch_version="2.x")
    resolution = resolve("f0", SPECS, cpu_only, available=everything_installed)
    rejection = next(r for r in resolution.rejected if r.spec.name == "tensorrt")
    assert "no CUDA device" in rejection.reason and not rejection.needs_install


def test_named_on_a_cpu_is_an_error_never_a_substitution() -> None:
    with pytest.raises(BackendUnavailableError, match="tensorrt"):
        resolve(
            "f0",
            SPECS,
            fake_gpu(compute_capability=(8, 0)),
            device_setting="cpu",
            choice="tensorrt",
            available=everything_installed,
        )


def test_registered_through_its_entry_point() -> None:
    specs = {s.name: s for s in make_plugin_manager().specs("f0")}
    assert specs["tensorrt"].plugin == "tensorrt"
    assert specs["tensorrt"].priority > specs["crepe"].priority


def test_gpuaudio_plugins_shows_why_on_a_cpu_machine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "probe", lambda refresh=False: DeviceInfo(True, "2.x"))
    assert main(["plugins"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if " tensorrt " in row)
    assert line.split()[0] == "f0" and "no:" in line
    # Here tensorrt is not installed (reason + hint); where it is, the missing GPU is the reason.
    assert ("missing module tensorrt" in line and "gpuaudio[tensorrt]" in line) or (
        "no CUDA device" in line
    )


def _context(device_name: str, **options: object) -> BackendContext:
    return BackendContext(device_name, "fp32", MemoryManager(device_name), dict(options))


def test_unknown_option_names_the_tensorrt_table_and_the_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"\[tensorrt\].*cache_dir"):
        TensorRTCrepeBackend(_context("cuda:0", model="tiny", engine="fast"))


def test_crepe_options_are_still_validated() -> None:
    with pytest.raises(ConfigError, match="model"):
        TensorRTCrepeBackend(_context("cuda:0", model="huge"))


def test_constructed_on_cpu_says_to_use_crepe() -> None:
    with pytest.raises(BackendUnavailableError, match="crepe backend on CPU"):
        TensorRTCrepeBackend(_context("cpu", model="tiny", cache_dir="/tmp/x"))
