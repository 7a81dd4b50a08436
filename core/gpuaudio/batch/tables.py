"""The archive-wide tables of a batch, written with pyarrow into the output folder.

``recordings.parquet`` (and ``recordings.csv`` for spreadsheets): one row per finished
recording, its status record with the baseline flattened into ``baseline_*`` columns and the
manifest's carried columns last. ``segments.parquet``: one row per escalation segment of every
recording. ``windows.parquet`` (optional): one row per analysis window. Rows follow the input
order, whatever order the recordings finished in; every file is written to a temporary name
and renamed into place, so a reader never sees half a table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gpuaudio._atomic import write_atomic_with
from gpuaudio.analysis.escalation import Baseline
from gpuaudio.analysis.report import REPORT_JSON, WINDOW_COLUMNS, WINDOWS_CSV
from gpuaudio.analysis.segments import Segment
from gpuaudio.batch.status import RecordingStatus
from gpuaudio.errors import OutputWriteError

if TYPE_CHECKING:  # inputs imports this module's schema
    from gpuaudio.batch.inputs import WorkItem

RECORDINGS_PARQUET = "recordings.parquet"
RECORDINGS_CSV = "recordings.csv"
SEGMENTS_PARQUET = "segments.parquet"
WINDOWS_PARQUET = "windows.parquet"

_STATUS_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(), "path": pa.string(), "channel": pa.int32(), "status": pa.string(),
    "error": pa.string(), "sha256": pa.string(), "config_hash": pa.string(),
    "version": pa.string(), "seconds": pa.float64(), "duration_s": pa.float64(),
    "escalated_s": pa.float64(), "n_segments": pa.int32(), "peak_score": pa.float64(),
    "backend": pa.string(), "device": pa.string(),
}
_BASELINE_INTS = {"n_windows", "iterations", "excluded_windows"}


def recordings_schema(carried: Sequence[str] = ()) -> pa.Schema:
    """Status columns, ``baseline_<field>`` columns, then the carried manifest columns."""
    baseline = [
        pa.field(f"baseline_{f.name}", pa.int32() if f.name in _BASELINE_INTS else pa.float64())
        for f in fields(Baseline)
    ]
    status = [pa.field(name, kind) for name, kind in _STATUS_TYPES.items()]
    return pa.schema(status + baseline + [pa.field(name, pa.string()) for name in carried])


def segments_schema() -> pa.Schema:
    """``id``, ``segment`` (0-based within the recording), then the `Segment` fields."""
    columns = [pa.field("id", pa.string()), pa.field("segment", pa.int32())]
    for f in fields(Segment):
        kind = {
            "n_windows": pa.int32(), "voice": pa.int32(), "drivers": pa.list_(pa.string())
        }.get(f.name)
        columns.append(pa.field(f.name, kind or pa.float64()))
    return pa.schema([*columns, pa.field("duration_s", pa.float64())])


def windows_schema() -> pa.Schema:
    """``id``, then the columns of a report's windows.csv."""
    kinds = {
        "speech": pa.bool_(), "flagged": pa.bool_(), "segment": pa.int32(), "voice": pa.int32()
    }
    return pa.schema(
        [pa.field("id", pa.string())]
        + [pa.field(name, kinds.get(name, pa.float64())) for name in WINDOW_COLUMNS]
    )


def write_tables(
    out_dir: Path,
    items: Sequence[WorkItem],
    statuses: dict[str, RecordingStatus],
    *,
    windows: bool = False,
) -> list[dict[str, Any]]:
    """Write the tables for `items` that have a status (by id); returns the recordings rows.
    Raises `OutputWriteError` when the folder cannot be written (no permission, disk full)."""
    done = [(item, statuses[item.id]) for item in items if item.id in statuses]
    carried = list(dict.fromkeys(name for item, _ in done for name, _ in item.extra))
    rows = [_recording_row(item, status, carried) for item, status in done]
    table = pa.Table.from_pylist(rows, schema=recordings_schema(carried))
    _write_parquet(out_dir / RECORDINGS_PARQUET, table)
    _write(out_dir / RECORDINGS_CSV, lambda path: pa_csv.write_csv(table, str(path)))
    finished = [status.id for _, status in done if status.status == "ok"]
    segments = [row for name in finished for row in _segment_rows(out_dir / name, name)]
    _write_parquet(out_dir / SEGMENTS_PARQUET,
                   pa.Table.from_pylist(segments, schema=segments_schema()))
    if windows:
        parts = [_windows_table(out_dir / name, name) for name in finished]
        schema = windows_schema()
        _write_parquet(out_dir / WINDOWS_PARQUET,
                       pa.concat_tables(parts) if parts else schema.empty_table())
    return rows


def _write_parquet(path: Path, table: pa.Table) -> None:
    _write(path, lambda temporary: pq.write_table(table, str(temporary)))


def _write(path: Path, write: Callable[[Path], object]) -> None:
    """`write_atomic_with`; `OutputWriteError` naming the table when it cannot be written."""
    try:
        write_atomic_with(path, write)
    except OSError as exc:
        raise OutputWriteError(f"cannot write the table {path}: {exc.strerror or exc}") from exc


def _recording_row(
    item: WorkItem, status: RecordingStatus, carried: Sequence[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(status, name) for name in _STATUS_TYPES}
    for f in fields(Baseline):
        row[f"baseline_{f.name}"] = (status.baseline or {}).get(f.name)
    extra = dict(item.extra)
    row.update({name: extra.get(name) for name in carried})
    return row


def _segment_rows(folder: Path, name: str) -> list[dict[str, Any]]:
    document = json.loads((folder / REPORT_JSON).read_text(encoding="utf-8"))
    return [
        {"id": name, "segment": index, **segment}
        for index, segment in enumerate(document["segments"])
    ]


def _windows_table(folder: Path, name: str) -> pa.Table:
    schema = windows_schema()
    options = pa_csv.ConvertOptions(
        column_types={f.name: f.type for f in schema if f.name != "id"},
        true_values=["1"], false_values=["0"], strings_can_be_null=True,
    )
    table = pa_csv.read_csv(folder / WINDOWS_CSV, convert_options=options)
    table = table.add_column(0, "id", pa.array([name] * table.num_rows, pa.string()))
    return table.select(schema.names).cast(schema)
