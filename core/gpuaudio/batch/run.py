"""`run_batch`: analyse an archive of recordings with an engine, then write its tables.

Each recording goes to ``OUT/<id>/`` (the outputs of ``gpuaudio analyze`` plus status.json),
the archive-wide tables to ``OUT/`` (see `gpuaudio.batch.tables`) and, when the report page
is available, ``OUT/index.html``. A rerun resumes: recordings already finished with the same
file (SHA-256), settings and gpuaudio version are not redone, failures included
(``retry_failed`` redoes those, ``force`` everything). After Ctrl-C (or an engine error) the
tables are still written for what has finished, and the exception goes on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuaudio.batch.engine import Engine
from gpuaudio.batch.inputs import WorkItem, collect_inputs
from gpuaudio.batch.status import RecordingStatus, load_status
from gpuaudio.batch.task import BatchSettings, Mode, RecordingTask, cancel_prefetched
from gpuaudio.errors import ConfigError, OutputWriteError

if TYPE_CHECKING:
    from gpuaudio.analysis.params import EscalationParams
    from gpuaudio.config import Config

ENGINES = ("local", "dask")
DASK_INSTALL_HINT = "pip install gpuaudio[dask]"


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did; ``exit_code`` is 0 when every recording has a result."""

    out_dir: Path
    engine: str
    total: int
    ok: int
    failed: int
    reused: int
    """Recordings finished by an earlier run and not redone (counted in ok/failed too)."""
    audio_s: float
    """Audio analysed by this run (reused recordings excluded)."""
    seconds: float
    failures: tuple[tuple[str, str], ...]
    """``(id, error)`` of each failed recording."""

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        """One line for the end of the command."""
        text = f"{self.ok} of {self.total} recording(s) analysed"
        if self.reused:  # ok or failed: a result of an earlier run with these settings
            text += f" ({self.reused} result(s) taken from an earlier run)"
        if self.audio_s > 0 and self.seconds > 0:
            text += (
                f", {self.audio_s / 3600:.2f} h of audio in {self.seconds:.1f} s "
                f"({self.audio_s / self.seconds:.0f}x real time, {self.engine} engine)"
            )
        else:
            text += f", no audio to analyse ({self.seconds:.1f} s, {self.engine} engine)"
        text += f"; outputs in {self.out_dir}"
        if self.failed:
            text = f"{self.failed} of {self.total} recording(s) failed; " + text
            text += f"; failures in {self.out_dir / 'recordings.csv'} (--retry-failed reruns them)"
        return text


def run_batch(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    engine: str | Engine | None = None,
    config: Config | dict[str, Any] | str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
    params: EscalationParams | None = None,
    retry_failed: bool = False,
    force: bool = False,
    windows: bool = False,
    html: bool = True,
    embed_audio: bool = False,
    copy_audio: bool | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Analyse every recording of `inputs` (files, folders, manifest CSVs) into `out_dir`.

    `engine`: ``"local"`` or ``"dask"`` (default: the config's ``[batch] engine``), or an
    `Engine` object. `workers` and `address` override the config's ``[batch]`` table.
    `params`: the analysis settings (default `EscalationParams()`); `html`, `embed_audio`,
    `copy_audio` (default: the config's ``[batch] copy_audio``, off): the report page as
    `gpuaudio.analysis.report.write_report` makes it. Raises `BatchInputError`
    for unusable inputs and `OutputWriteError` for an output folder that cannot be written
    before anything runs; per-recording failures are in the summary.
    """
    from gpuaudio.analysis.params import EscalationParams
    from gpuaudio.analysis.report import check_outputs
    from gpuaudio.batch.tables import write_tables
    from gpuaudio.config import load_config

    started = time.perf_counter()
    settings_config = load_config(config)
    out = Path(out_dir).resolve()
    items = collect_inputs(inputs, out)
    check_outputs(out, force=True)  # as `analyze`: a folder that cannot be written, up front
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(f"cannot create the output folder {out}: {exc}") from exc
    mode: Mode = "force" if force else "retry-failed" if retry_failed else "resume"
    analysis = settings_config.model_dump(mode="json", exclude={"batch"})
    settings = BatchSettings(
        str(out), (params or EscalationParams()).validate(), json.dumps(analysis), mode,
        html=html, embed_audio=embed_audio,
        copy_audio=settings_config.batch.copy_audio if copy_audio is None else copy_audio,
    )
    runner = engine if engine is not None and not isinstance(engine, str) else make_engine(
        engine or settings_config.batch.engine, settings_config,
        workers=workers, address=address,
    )
    statuses: dict[str, RecordingStatus] = {}
    bar = _Progress(len(items), enabled=progress)
    try:
        for item, status in runner.map_unordered(RecordingTask(settings), longest_first(items)):
            statuses[item.id] = status
            bar.update(status)
    finally:
        runner.close()
        cancel_prefetched()
        bar.close()
        _add_earlier(statuses, items, settings)
        rows = write_tables(out, items, statuses, windows=windows)
        _write_index(out, rows)
    done = list(statuses.values())
    fresh = [s for s in done if not s.reused]
    return BatchSummary(
        out_dir=out, engine=runner.name, total=len(items),
        ok=sum(s.status == "ok" for s in done), failed=sum(s.status == "failed" for s in done),
        reused=len(done) - len(fresh), audio_s=sum(s.duration_s or 0.0 for s in fresh),
        seconds=time.perf_counter() - started,
        failures=tuple((s.id, s.error or "") for s in done if s.status == "failed"),
    )


def make_engine(
    name: str, config: Config, *, workers: int | None = None, address: str | None = None
) -> Engine:
    """The engine called `name`, set up from the arguments and the config's ``[batch]``."""
    options = config.batch
    workers = options.workers if workers is None else workers  # 0 is refused, not the default
    if name == "local":
        from gpuaudio.batch.local_engine import LocalEngine

        if options.resources:
            raise ConfigError(
                "[batch] resources are Dask worker resources: they need engine = \"dask\" "
                "(the local engine pins one worker per GPU by itself)"
            )
        return LocalEngine(workers=workers, retries=options.retries, device=config.device)
    if name == "dask":
        if importlib.util.find_spec("distributed") is None:
            raise ConfigError(
                f"the dask engine needs dask.distributed; install it with `{DASK_INSTALL_HINT}` "
                "or use --engine local"
            )
        from gpuaudio.batch.dask_engine import DaskEngine

        return DaskEngine(address=address or options.address, workers=workers,
                          retries=options.retries, resources=options.resources,
                          device=config.device)
    raise ConfigError(f"unknown batch engine {name!r}; choose one of {', '.join(ENGINES)}")


def longest_first(items: Sequence[WorkItem]) -> list[WorkItem]:
    """The items, largest file first (a file's size stands for its length): the batch ends on
    short recordings, so workers finish close together. Tables keep the input order."""

    def size(item: WorkItem) -> int:
        try:
            return os.stat(item.path).st_size
        except OSError:  # the task reports it
            return 0

    return sorted(items, key=size, reverse=True)


def _add_earlier(
    statuses: dict[str, RecordingStatus], items: Sequence[WorkItem], settings: BatchSettings
) -> None:
    """After an interruption: the finished results of earlier runs with these settings."""
    from gpuaudio import __version__

    for item in items:
        if item.id in statuses:
            continue
        stored = load_status(Path(settings.out_dir) / item.id)
        if (
            stored is not None
            and stored.version == __version__
            and stored.config_hash == settings.config_hash(item.channel)
        ):
            statuses[item.id] = stored


def _write_index(out: Path, rows: list[dict[str, Any]]) -> None:
    """``index.html`` of the archive, when the report page module is there (issue 17)."""
    try:
        from gpuaudio.analysis.page import write_index_page
    except ImportError:
        return
    linked = [
        dict(row, report=f"{row['id']}/report.html")
        if row["status"] == "ok" and (out / row["id"] / "report.html").is_file()
        else dict(row, report=None)
        for row in rows
    ]
    write_index_page(out, linked)


class _Progress:
    """The shared progress display (`gpuaudio.progress.Progress`) over the recordings, with the
    hours of audio, the speed as x real time and the failures so far after the figures."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        from gpuaudio.progress import Progress

        self._bar = Progress("batch", total, unit="rec", enabled=enabled)
        self._started = time.perf_counter()
        self._audio_s = 0.0
        self._failed = 0
        self._done = 0

    def update(self, status: RecordingStatus) -> None:
        if not status.reused:
            self._audio_s += status.duration_s or 0.0
        self._failed += status.status == "failed"
        self._done += 1
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        self._bar.update(
            self._done,
            note=f"{self._audio_s / 3600:.2f} h audio, {self._audio_s / elapsed:.0f}x real time, "
            f"{self._failed} failed",
        )

    def close(self) -> None:
        self._bar.close()
