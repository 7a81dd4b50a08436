"""Device probe. The only module of gpuaudio that touches ``torch.cuda``."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.metadata
import importlib.util
import os
import resource
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

DEVICE_ENV = "GPUAUDIO_DEVICE"


@dataclass(frozen=True)
class GpuInfo:
    """One CUDA device as seen at probe time."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory_bytes: int
    free_memory_bytes: int

    @property
    def free_memory_mb(self) -> float:
        return self.free_memory_bytes / 2**20


@dataclass(frozen=True)
class DeviceInfo:
    """What this process can compute on. Build one by hand to test resolution without a GPU."""

    torch_available: bool = False
    torch_version: str | None = None
    cuda_available: bool = False
    cuda_version: str | None = None
    gpus: tuple[GpuInfo, ...] = ()
    error: str | None = None
    """Why CUDA is unusable although torch imports (driver mismatch...), if known."""
    cuda_arch_list: tuple[str, ...] = ()
    """What this torch build has GPU code for (``torch.cuda.get_arch_list()``: ``sm_90``,
    ``compute_90``...); empty when unknown, which is taken as "supported"."""

    def supports(self, gpu: GpuInfo) -> bool:
        """Whether this torch build has kernels that run on `gpu` (see `arch_runs_on`)."""
        if not self.cuda_arch_list:
            return True
        return any(arch_runs_on(arch, gpu.compute_capability) for arch in self.cuda_arch_list)

    def gpu(self, index: int) -> GpuInfo | None:
        """The GPU with this index, or None."""
        return next((g for g in self.gpus if g.index == index), None)

    def describe(self) -> str:
        """One line for humans and reports."""
        if not self.torch_available:
            return "CPU only (torch not installed)"
        if not self.cuda_available or not self.gpus:
            why = f": {self.error}" if self.error else ""
            return f"CPU only (torch {self.torch_version}, no CUDA device{why})"
        gpus = ", ".join(
            f"cuda:{g.index} {g.name} (cc {g.compute_capability[0]}.{g.compute_capability[1]}, "
            f"{g.free_memory_mb / 1024:.1f}/{g.total_memory_bytes / 2**30:.1f} GiB free)"
            for g in self.gpus
        )
        return f"torch {self.torch_version}, CUDA {self.cuda_version}: {gpus}"


CPU_ONLY = DeviceInfo()


def arch_runs_on(arch: str, capability: tuple[int, int]) -> bool:
    """Whether GPU code built for `arch` runs on a device of compute `capability`.

    ``sm_XY`` (machine code) runs on the same major version with a minor >= Y; an
    architecture-specific ``sm_XYa`` only on exactly X.Y; ``compute_XY`` (PTX) is compiled by
    the driver for any device of X.Y or newer. Unparseable names count as runnable.
    """
    kind, _, digits = arch.partition("_")
    specific = digits.endswith("a")
    digits = digits.rstrip("abcdefghijklmnopqrstuvwxyz")
    if kind not in ("sm", "compute") or len(digits) < 2 or not digits.isdigit():
        return True
    built = (int(digits[:-1]), int(digits[-1]))
    if kind == "compute":
        return capability >= built
    if specific:
        return capability == built
    return capability[0] == built[0] and capability[1] >= built[1]


def _torch() -> Any | None:
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


_CUDA_LIBRARIES = ("libcuda.so.1", "libcuda.so", "nvcuda.dll")
_CUDA_ERROR_NO_DEVICE = 100


def _driver_sees_no_gpu() -> bool:
    """Whether the CUDA driver is absent or reports no device, asked through ctypes.

    Importing torch costs a second or more; where this says there is no GPU, the probe
    reports CPU only without importing it. False when in doubt (torch then tells why)."""
    for name in _CUDA_LIBRARIES:
        try:
            driver = ctypes.CDLL(name)
        except OSError:
            continue
        status = driver.cuInit(0)
        if status == _CUDA_ERROR_NO_DEVICE:
            return True
        count = ctypes.c_int(0)
        counted = status == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0
        return counted and count.value == 0
    return True


@functools.lru_cache(maxsize=1)
def _probe_cached() -> DeviceInfo:
    if "torch" not in sys.modules and _driver_sees_no_gpu():
        try:
            version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return CPU_ONLY
        return DeviceInfo(torch_available=True, torch_version=version)
    torch = _torch()
    if torch is None:
        return CPU_ONLY
    version = str(torch.__version__)
    try:
        if not torch.cuda.is_available():
            return DeviceInfo(torch_available=True, torch_version=version)
        gpus = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            free, total = torch.cuda.mem_get_info(index)
            gpus.append(
                GpuInfo(index, str(props.name), (props.major, props.minor), int(total), int(free))
            )
    except Exception as exc:  # a broken driver must degrade to CPU, with the reason kept
        return DeviceInfo(torch_available=True, torch_version=version, error=repr(exc))
    try:
        arch_list = tuple(str(arch) for arch in torch.cuda.get_arch_list())
    except Exception:  # unknown: the resolver then assumes the kernels are there
        arch_list = ()
    return DeviceInfo(True, version, True, str(torch.version.cuda), tuple(gpus), None, arch_list)


def probe(*, refresh: bool = False) -> DeviceInfo:
    """Probe torch and CUDA once per process (cached); `refresh` probes again."""
    if refresh:
        _probe_cached.cache_clear()
    if os.environ.get(DEVICE_ENV, "").strip().lower() == "cpu":
        info = _probe_cached()
        return DeviceInfo(info.torch_available, info.torch_version, error=f"{DEVICE_ENV}=cpu")
    return _probe_cached()


def _cuda_index(device: str) -> int | None:
    if not device.startswith("cuda"):
        return None
    _, _, index = device.partition(":")
    return int(index) if index else 0


def free_memory_bytes(device: str) -> int:
    """Free memory on `device` now: CUDA free memory, or available host RAM for ``cpu``."""
    index = _cuda_index(device)
    if index is None:
        return _host_available_bytes()
    torch = _torch()
    assert torch is not None
    free, _ = torch.cuda.mem_get_info(index)
    return int(free)


def host_memory_bytes(field: str = "MemAvailable") -> int | None:
    """A ``/proc/meminfo`` field (``MemTotal``, ``MemAvailable``...) in bytes; None if absent."""
    return _proc_kilobytes("/proc/meminfo", field)


def resident_memory_bytes() -> int | None:
    """This process's resident set size now (``VmRSS``); None where /proc is missing."""
    return _proc_kilobytes("/proc/self/status", "VmRSS")


def _proc_kilobytes(path: str, field: str) -> int | None:
    """A ``Field:  N kB`` line of a /proc file, in bytes; None if absent (or not Linux)."""
    try:
        with open(path, encoding="ascii") as lines:
            for line in lines:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _host_available_bytes() -> int:
    available = host_memory_bytes("MemAvailable")
    if available is not None:
        return available
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def release_cached_memory(device: str) -> None:
    """Return the caching allocator's unused blocks to the driver (after an OOM)."""
    if _cuda_index(device) is not None:
        torch = _torch()
        assert torch is not None
        torch.cuda.empty_cache()


def reset_peak_memory(device: str) -> None:
    """Start a new peak-memory measurement: the CUDA allocator's on a GPU, the process's
    resident-set high-water mark (Linux ``/proc/self/clear_refs``) on ``cpu``."""
    index = _cuda_index(device)
    if index is None:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
                clear_refs.write("5")
        except OSError:  # not Linux, or not allowed: the peak stays the process's lifetime one
            pass
        return
    torch = _torch()
    assert torch is not None
    torch.cuda.reset_peak_memory_stats(index)


def peak_memory_bytes(device: str) -> int:
    """Peak memory since the last reset: CUDA allocator peak, or the process's resident-set
    high-water mark on ``cpu`` (``VmHWM``; the lifetime ``ru_maxrss`` where that is missing)."""
    index = _cuda_index(device)
    if index is None:
        return _proc_kilobytes("/proc/self/status", "VmHWM") or (
            int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        )
    torch = _torch()
    assert torch is not None
    return int(torch.cuda.max_memory_allocated(index))


def host_tensor(array: Any, dtype: Any = np.float32) -> Any:
    """A CPU torch tensor of `array` as contiguous `dtype`, sharing its memory when it can.

    Read-only arrays (memory maps, ``np.frombuffer``, arrays a caller froze) are copied first:
    torch has no read-only tensors and warns about them. gpuaudio never writes to its input.
    """
    host = np.ascontiguousarray(array, dtype=dtype)
    if not host.flags.writeable:
        host = host.copy()
    torch = _torch()
    assert torch is not None
    return torch.from_numpy(host)


def synchronize(device: str) -> None:
    """Wait for queued work on `device` (REQ-N-005: no unsynchronised results leave gpuaudio)."""
    index = _cuda_index(device)
    if index is not None:
        torch = _torch()
        assert torch is not None
        torch.cuda.synchronize(index)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA out-of-memory error (any torch version), without importing torch."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


_TF32_LOCK = threading.RLock()


@contextlib.contextmanager
def tf32_mode(device: str, enabled: bool) -> Iterator[None]:
    """Allow (`enabled`) or forbid TF32 in cuDNN convolutions and CUDA matmuls for this block.

    CUDA devices only; elsewhere nothing changes. torch keeps these switches process-wide, so
    blocks hold a lock: a thread asking for strict fp32 never computes under another thread's
    TF32 setting. torch >= 2.9 has per-op ``fp32_precision`` switches and raises when the
    legacy ``allow_tf32`` flags are read after they were used, so the new ones are used when
    present (whichever API the caller's program used, it is restored afterwards).
    """
    if _cuda_index(device) is None:
        yield
        return
    torch = _torch()
    assert torch is not None
    backends = torch.backends
    conv = getattr(backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        switches = [(conv, "fp32_precision"), (backends.cuda.matmul, "fp32_precision")]
        value: Any = "tf32" if enabled else "ieee"
    else:  # torch < 2.9
        switches = [(backends.cudnn, "allow_tf32"), (backends.cuda.matmul, "allow_tf32")]
        value = enabled
    with _TF32_LOCK:
        saved = [getattr(owner, name) for owner, name in switches]
        try:
            for owner, name in switches:
                setattr(owner, name, value)
            yield
        finally:
            for (owner, name), old in zip(switches, saved, strict=True):
                setattr(owner, name, old)
