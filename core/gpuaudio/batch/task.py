"""The per-recording task: one work item in, the recording's report folder and a status out.

`RecordingTask(settings)(item)` runs the same analysis as ``gpuaudio analyze`` into
``OUT/<id>/`` (written through a staging folder and renamed into place by
`gpuaudio.analysis.report`), then writes ``OUT/<id>/status.json`` last: a recording has a
finished result exactly when its status file is there. The task is idempotent: a rerun finds
the status and returns it (``reused``) when the file's SHA-256, the analysis settings and the
gpuaudio version are the same, unless the settings say to redo it. Failures (a corrupt file,
a full disk) come back as a ``failed`` status; the task raises only for a bug in the batch.

One `AudioFeatureService` per process (per config), cached in this module, so a worker loads
its models once. The file is hashed and decoded on a thread (`_Decoder`) a small bounded queue
ahead of the analysis; `RecordingTask.prefetch` starts that for the worker's next recording
while the current one is analysed (issue 12, item 4).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import queue
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gpuaudio._atomic import write_atomic
from gpuaudio.batch.inputs import WorkItem
from gpuaudio.batch.status import STATUS_JSON, RecordingStatus, load_status

if TYPE_CHECKING:
    from gpuaudio.analysis.escalation import EscalationParams, EscalationReport
    from gpuaudio.service import AudioFeatureService

Mode = Literal["resume", "retry-failed", "force"]
"""What a rerun redoes: nothing finished / the failures / everything."""
PREFETCH_BLOCKS = 1
"""Decoded blocks (each `analysis_chunk_s` long) waiting ahead of the analysis."""
_STAGING_PREFIX = ".gpuaudio-partial-"


@dataclass(frozen=True)
class BatchSettings:
    """What every task of a batch shares (picklable)."""

    out_dir: str
    params: EscalationParams
    config: str
    """The analysis config as JSON (`gpuaudio.config.Config`, its ``[batch]`` table left out)."""
    mode: Mode = "resume"
    html: bool = True
    """Also report.html, playing the recording (see `write_report`)."""
    embed_audio: bool = False
    """The recording inlined in report.html."""
    copy_audio: bool = False
    """A copy of the recording beside report.html; else the page plays the original by a
    relative path (an archive is not duplicated)."""

    def config_hash(self, channel: int | None) -> str:
        """Hash of everything that shapes a recording's outputs besides its audio."""
        document = {"params": asdict(self.params), "config": json.loads(self.config),
                    "channel": channel, "html": self.html, "embed_audio": self.embed_audio,
                    "copy_audio": self.copy_audio}
        text = json.dumps(document, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RecordingTask:
    """The batch's task (picklable): ``task(item) -> RecordingStatus``."""

    settings: BatchSettings

    def __call__(self, item: WorkItem) -> RecordingStatus:
        """Analyse `item` into ``OUT/<id>/`` unless a finished result may be reused."""
        from gpuaudio import __version__
        from gpuaudio.analysis.report import REPORT_JSON, analyze_to_folder

        started = time.perf_counter()
        folder = Path(self.settings.out_dir) / item.id
        base = RecordingStatus(
            id=item.id, path=item.path, channel=item.channel, status="failed", error=None,
            sha256=None, config_hash=self.settings.config_hash(item.channel),
            version=__version__, seconds=0.0,
        )
        service = _service(self.settings.config)
        decoder = _take_decoder(item) or _Decoder(item, self.settings.params, service)
        try:
            digest = decoder.sha256()
            base = replace(base, sha256=digest)
            previous = load_status(folder)
            if previous is not None and self._reusable(previous, base, folder / REPORT_JSON):
                return replace(previous, reused=True)
            _remove_staging(folder)
            report, _ = analyze_to_folder(
                service, item.path, folder, self.settings.params, channel=item.channel,
                force=True, sha256=digest, blocks=decoder.blocks(), html=self.settings.html,
                embed_audio=self.settings.embed_audio, copy_audio=self.settings.copy_audio,
            )
            status = _finished(base, report, service)
        except Exception as exc:  # a recording's failure is its status, the batch goes on
            status = replace(base, error=_describe(exc))
            _remove_outputs(folder, item)
        finally:
            decoder.cancel()
        status = replace(status, seconds=time.perf_counter() - started)
        try:
            write_atomic(folder / STATUS_JSON, status.as_json().encode("utf-8"))
        except OSError as exc:
            return replace(status, status="failed", error=f"cannot write {STATUS_JSON}: {exc}")
        return status

    def prefetch(self, item: WorkItem) -> None:
        """Start hashing and decoding `item` on a thread, for this process's next call."""
        if item not in _DECODERS:
            service = _service(self.settings.config)
            _DECODERS[item] = _Decoder(item, self.settings.params, service)

    def _reusable(self, previous: RecordingStatus, now: RecordingStatus, report: Path) -> bool:
        same = (previous.sha256, previous.config_hash, previous.version) == (
            now.sha256, now.config_hash, now.version
        )
        if not same or self.settings.mode == "force":
            return False
        if previous.status == "ok":
            return report.is_file()
        return self.settings.mode == "resume"


def _finished(
    base: RecordingStatus, report: EscalationReport, service: AudioFeatureService
) -> RecordingStatus:
    scores = report.windows.score[np.isfinite(report.windows.score)]
    f0 = report.provenance.get("f0", {})
    return replace(
        base,
        status="ok",
        duration_s=report.duration_s,
        escalated_s=report.escalated_s,
        n_segments=len(report.segments),
        peak_score=float(scores.max()) if scores.size else None,
        backend=f0.get("backend"),
        device=f0.get("device") or service.device_info.describe(),
        baseline=_finite(asdict(report.baseline)) if report.baseline else None,
    )


def _finite(values: dict[str, Any]) -> dict[str, float | None]:
    """JSON-safe baseline: NaN becomes None, counts stay integers."""
    return {
        k: v if isinstance(v, int) else float(v) if math.isfinite(v) else None
        for k, v in values.items()
    }


def _describe(exc: BaseException) -> str:
    from gpuaudio.errors import GpuAudioError

    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, GpuAudioError) else f"{type(exc).__name__}: {text}"


def _remove_outputs(folder: Path, item: WorkItem) -> None:
    """An earlier run's report of the recording, now that it failed: it describes another
    file or other settings (report.json, which marks a complete set, goes first; the
    recording's copy too, unless the recording itself lies there)."""
    from gpuaudio.analysis.report import OUTPUT_NAMES, REPORT_JSON, audio_copy_name

    names = [REPORT_JSON, *(name for name in OUTPUT_NAMES if name != REPORT_JSON)]
    copy = folder / audio_copy_name(item.path)
    if os.path.realpath(copy) != item.path:
        names.append(copy.name)
    for name in names:
        with contextlib.suppress(OSError):  # a folder that cannot be written: status says so
            (folder / name).unlink(missing_ok=True)


def _remove_staging(folder: Path) -> None:
    """Staging folders left by a worker killed mid-write (never visible as outputs)."""
    if folder.is_dir():
        for stale in folder.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)


_SERVICES: dict[str, AudioFeatureService] = {}
_SERVICE_LOCK = threading.Lock()
_DECODERS: dict[WorkItem, _Decoder] = {}
"""Decoders started by `RecordingTask.prefetch`, taken by the call for their item."""


def _service(config: str) -> AudioFeatureService:
    """This process's service for `config` (JSON), created once (also from a prefetch)."""
    with _SERVICE_LOCK:
        if config not in _SERVICES:
            from gpuaudio._allocator import keep_freed_memory
            from gpuaudio.config import load_config
            from gpuaudio.service import AudioFeatureService

            keep_freed_memory()  # a worker process of any engine: the CLI's setting
            _SERVICES[config] = AudioFeatureService(load_config(json.loads(config)))
        return _SERVICES[config]


def _take_decoder(item: WorkItem) -> _Decoder | None:
    return _DECODERS.pop(item, None)


def cancel_prefetched() -> None:
    """Stop this process's prefetches whose recordings will not run (the batch was stopped)."""
    while _DECODERS:
        _DECODERS.popitem()[1].cancel()


class _End:
    """Marks the end of a decoded stream."""


class _Decoder:
    """Hashes a file, then decodes it into a bounded queue, on its own thread."""

    def __init__(
        self, item: WorkItem, params: EscalationParams, service: AudioFeatureService
    ) -> None:
        from gpuaudio.analysis.escalation import analysis_chunk_s

        self.item = item
        self._sr = params.analysis_sr
        self._block_s = analysis_chunk_s(service)
        self._queue: queue.Queue[np.ndarray | BaseException | _End] = queue.Queue(PREFETCH_BLOCKS)
        self._hashed = threading.Event()
        self._stop = threading.Event()
        self._digest: str | BaseException = RuntimeError("not hashed")
        self._thread = threading.Thread(target=self._run, name=f"decode {item.id}", daemon=True)
        self._thread.start()

    def sha256(self) -> str:
        """The file's SHA-256 (waits for it); raises what hashing raised."""
        self._hashed.wait()
        if isinstance(self._digest, BaseException):
            raise self._digest
        return self._digest

    def blocks(self) -> Iterator[np.ndarray]:
        """The decoded blocks, in order; raises what decoding raised."""
        while True:
            block = self._queue.get()
            if isinstance(block, _End):
                return
            if isinstance(block, BaseException):
                raise block
            yield block

    def cancel(self) -> None:
        """Stop decoding (the thread ends at its next block)."""
        self._stop.set()

    def _run(self) -> None:
        from gpuaudio.audio_io import sha256_file, stream_audio

        try:
            _check_regular(self.item.path)  # a FIFO would block the hash forever
            self._digest = sha256_file(self.item.path)
        except BaseException as exc:
            self._digest = exc
        self._hashed.set()
        if isinstance(self._digest, BaseException):
            return
        try:
            stream = stream_audio(
                self.item.path, self._sr, channel=self.item.channel, block_s=self._block_s
            )
            for block in stream:
                if not self._put(block):
                    return
            self._put(_End())
        except BaseException as exc:
            self._put(exc)

    def _put(self, value: np.ndarray | BaseException | _End) -> bool:
        """Queue `value` unless cancelled first; False when cancelled."""
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def _check_regular(path: str) -> None:
    """Raise `AudioFileError` unless `path` is a regular file (or a link to one)."""
    from gpuaudio.errors import AudioFileError

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        link = " (a link to a missing file, or a link loop)" if os.path.islink(path) else ""
        raise AudioFileError(f"{path}: cannot read the file{link}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise AudioFileError(
            f"{path}: not a regular file (a FIFO, socket or device); gpuaudio reads audio files"
        )
