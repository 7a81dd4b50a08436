"""Error classes. Each subclasses the builtin a caller would expect and says what to do next."""

from __future__ import annotations


class GpuAudioError(Exception):
    """Base class of every error gpuaudio raises on purpose."""


class ConfigError(GpuAudioError, ValueError):
    """The configuration (dict, TOML file or GPUAUDIO_* variable) is invalid."""


class InvalidAudioError(GpuAudioError, ValueError):
    """The audio array cannot be analysed as given (empty, non-finite, wrong layout...)."""


class InvalidParameterError(GpuAudioError, ValueError):
    """An analysis parameter is out of range (sample rate, fmin/fmax, n_fft...)."""


class AudioFileError(GpuAudioError, OSError):
    """An audio file is missing, unreadable or corrupt."""


class BackendUnavailableError(GpuAudioError, RuntimeError):
    """A backend named in config is unknown or not eligible on this machine."""


class BackendError(GpuAudioError, RuntimeError):
    """A backend failed while loading or computing."""


class GpuOutOfMemoryError(GpuAudioError, MemoryError):
    """The GPU ran out of memory even at the smallest allowed batch size."""


class StreamClosedError(GpuAudioError, RuntimeError):
    """Audio was fed to a stream that has already ended."""


class OutputExistsError(GpuAudioError, FileExistsError):
    """An output file already exists and overwriting was not requested."""


class InsufficientMemoryError(GpuAudioError, MemoryError):
    """A call would need more host memory than the machine has available; refused up front."""


class OutputWriteError(GpuAudioError, OSError):
    """Outputs cannot be written (disk full, no permission, a file where a folder should be)."""


class BatchEngineError(GpuAudioError, RuntimeError):
    """A batch engine could not run a task to completion (worker lost past the retry limit,
    scheduler unreachable); names the recording."""


class BatchInputError(GpuAudioError, ValueError):
    """A batch's inputs cannot be used (a missing path, a manifest without a ``path`` column,
    two recordings with one id); names the input."""


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that cleanups (``finally``) run, as for
    Ctrl-C. A BaseException and not a SystemExit, so that no ``except Exception`` on the way
    swallows it, nor the service's backend fallback (which catches a backend's SystemExit and
    tries the next backend)."""


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler: raise `Terminated` where the program is."""
    raise Terminated


def describe(exc: BaseException) -> str:
    """``repr(exc)`` for messages, or its class name when that repr itself fails (plugin code's
    exceptions are not to be trusted to describe themselves)."""
    try:
        return repr(exc)
    except Exception:  # any failure of foreign code
        return f"{type(exc).__name__} (whose description failed)"
