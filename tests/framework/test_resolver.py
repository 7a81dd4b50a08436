"""Capability resolver: the selection matrix, tested with fake devices (no GPU needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpuaudio import BackendSpec, BackendUnavailableError, DeviceInfo
from gpuaudio.device import CPU_ONLY, arch_runs_on
from gpuaudio.resolver import resolve
from gpuaudio.testing import fake_gpu

CPU = BackendSpec("cpuref", "f0", "m:f", devices=("cpu",), requires=("numpy",))
GPU = BackendSpec(
    "gpunet",
    "f0",
    "m:f",
    devices=("cuda", "cpu"),
    requires=("numpy",),
    priority=10,
    min_compute_capability=(7, 0),
    min_free_memory_mb=2000,
    install_hint="pip install gpunet",
)
GPU_ONLY = BackendSpec("gpuonly", "f0", "m:f", devices=("cuda",), priority=5)
MISSING = BackendSpec(
    "needsx",
    "f0",
    "m:f",
    devices=("cpu",),
    requires=("surely_not_installed_x",),
    install_hint="pip install gpuaudio[x]",
)
SPECS = [CPU, GPU, GPU_ONLY, MISSING]
TORCH_NO_CUDA = DeviceInfo(torch_available=True, torch_version="2.13")


def names(resolution):
    return [c.spec.name for c in resolution.ranked]


def reasons(resolution):
    return {r.spec.name: r.reason for r in resolution.rejected}


def test_no_gpu_keeps_cpu_backends_and_says_why_not_the_others():
    res = resolve("f0", SPECS, TORCH_NO_CUDA)
    assert names(res) == ["cpuref"]
    why = reasons(res)
    assert "no CUDA device" in why["gpunet"]
    assert "only when named in config" in why["gpunet"]
    assert "no CUDA device" in why["gpuonly"]
    assert "surely_not_installed_x" in why["needsx"] and "pip install gpuaudio[x]" in why["needsx"]


def test_without_torch_the_reason_is_torch():
    res = resolve("f0", SPECS, CPU_ONLY)
    assert "torch is not installed" in reasons(res)["gpuonly"]


def test_modern_gpu_ranks_gpu_backends_first_by_priority():
    res = resolve("f0", SPECS, fake_gpu())
    assert names(res) == ["gpunet", "gpuonly", "cpuref"]
    assert res.chosen.device == "cuda:0"
    assert res.ranked[-1].device == "cpu"


def test_compute_capability_too_low():
    res = resolve("f0", SPECS, fake_gpu(compute_capability=(6, 1)))
    assert names(res) == ["gpuonly", "cpuref"]
    assert "compute capability 6.1" in reasons(res)["gpunet"]
    assert "7.0" in reasons(res)["gpunet"]


def test_too_little_free_memory():
    res = resolve("f0", SPECS, fake_gpu(free_mb=1500))
    assert "gpunet" not in names(res)
    assert "1500 MB free" in reasons(res)["gpunet"]


def test_two_gpus_use_the_first_unless_configured():
    two = fake_gpu(count=2)
    assert resolve("f0", SPECS, two).chosen.device == "cuda:0"
    assert resolve("f0", SPECS, two, device_setting="cuda:1").chosen.device == "cuda:1"


def test_configured_gpu_that_is_absent():
    res = resolve("f0", SPECS, fake_gpu(count=1), device_setting="cuda:3")
    assert names(res) == []
    assert "cuda:3 configured but not present (have cuda:0)" in reasons(res)["gpunet"]


def test_device_cpu_runs_named_gpu_backend_on_cpu():
    res = resolve("f0", SPECS, fake_gpu(), device_setting="cpu", choice="gpunet")
    assert res.chosen.spec.name == "gpunet"
    assert res.chosen.device == "cpu"


def test_named_gpu_backend_runs_on_cpu_when_no_gpu():
    res = resolve("f0", SPECS, TORCH_NO_CUDA, choice="gpunet")
    assert res.chosen.device == "cpu"
    assert "named in config" in res.chosen.reason


def test_unknown_name_is_an_error_listing_the_eligible():
    with pytest.raises(
        BackendUnavailableError, match=r"unknown f0 backend 'crepo'.*eligible here: cpuref"
    ):
        resolve("f0", SPECS, TORCH_NO_CUDA, choice="crepo")


def test_ineligible_name_is_an_error_with_its_reason():
    with pytest.raises(
        BackendUnavailableError, match=r"gpuonly: no CUDA device.*eligible here: cpuref"
    ):
        resolve("f0", SPECS, TORCH_NO_CUDA, choice="gpuonly")


def test_preference_list_skips_ineligible_and_keeps_order():
    res = resolve("f0", SPECS, TORCH_NO_CUDA, choice=["gpuonly", "cpuref"])
    assert names(res) == ["cpuref"]
    assert "gpuonly" in reasons(res)


def test_preference_list_ending_in_auto_appends_the_rest():
    res = resolve("f0", SPECS, fake_gpu(), choice=["cpuref", "auto"])
    assert names(res) == ["cpuref", "gpunet", "gpuonly"]


def test_other_features_are_ignored():
    mel = BackendSpec("melonly", "mel", "m:f")
    assert names(resolve("f0", [*SPECS, mel], TORCH_NO_CUDA)) == ["cpuref"]
    assert names(resolve("mel", [*SPECS, mel], TORCH_NO_CUDA)) == ["melonly"]


def test_module_check_is_injectable_and_never_imports():
    res = resolve("f0", [CPU], TORCH_NO_CUDA, available=lambda name: False)
    assert names(res) == []
    with pytest.raises(BackendUnavailableError, match="no backend can compute 'f0'"):
        _ = res.chosen


@pytest.mark.parametrize(
    "kwargs",
    [
        {"feature": "pitch"},
        {"load": "no_colon"},
        {"devices": ("tpu",)},
        {"devices": ()},
        {"name": "has space"},
    ],
)
def test_backend_spec_rejects_bad_fields(kwargs):
    fields = {"name": "ok", "feature": "f0", "load": "m:f", **kwargs}
    with pytest.raises(ValueError):
        BackendSpec(**fields)


@pytest.mark.parametrize(
    ("arch", "capability", "runs"),
    [
        ("sm_90", (9, 0), True),
        ("sm_86", (8, 9), True),  # same major, newer minor: machine code runs
        ("sm_86", (8, 0), False),  # older minor
        ("sm_90", (12, 1), False),  # other major: machine code never runs
        ("sm_120", (12, 1), True),  # Blackwell wheels' sm_120 runs on the GB10 (12.1)
        ("sm_90a", (9, 0), True),
        ("sm_90a", (9, 1), False),  # architecture-specific: exactly 9.0
        ("sm_100f", (10, 3), True),  # family-specific: the same major
        ("compute_90", (12, 1), True),  # PTX: compiled by the driver for newer GPUs
        ("compute_90", (8, 6), False),
        ("weird", (7, 0), True),  # unknown names do not block
    ],
)
def test_which_gpu_code_runs_on_which_device(arch, capability, runs):
    assert arch_runs_on(arch, capability) is runs


def test_a_torch_without_code_for_this_gpu_rules_out_its_cuda_backends():
    blackwell = fake_gpu(compute_capability=(12, 1), name="NVIDIA GB10")
    old_torch = replace(blackwell, cuda_arch_list=("sm_80", "sm_86", "sm_90"))
    res = resolve("f0", SPECS, old_torch)
    assert names(res) == ["cpuref"]
    why = reasons(res)["gpuonly"]
    assert "no GPU code for compute capability 12.1 of cuda:0" in why
    assert "sm_80 sm_86 sm_90" in why and "install a torch build" in why
    with pytest.raises(BackendUnavailableError, match=r"no GPU code for compute capability 12\.1"):
        resolve("f0", SPECS, old_torch, choice="gpuonly")
    new_torch = replace(blackwell, cuda_arch_list=("sm_90", "sm_100", "sm_120", "compute_120"))
    assert names(resolve("f0", SPECS, new_torch))[:2] == ["gpunet", "gpuonly"]
    assert names(resolve("f0", SPECS, blackwell))[:2] == ["gpunet", "gpuonly"]  # list unknown
