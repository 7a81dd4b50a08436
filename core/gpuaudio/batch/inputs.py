"""A batch's inputs: files, folders (searched recursively) and manifest CSVs, as work items.

Every recording gets a stable id, the name of its output folder: a manifest's ``id`` column,
else a name derived from the path (a folder's recordings: their path inside the folder,
``site1/call.wav`` -> ``site1__call``; a file: its name without extension). Path-derived ids that
would still collide (``a/call.wav`` and ``b/call.wav`` given as files, ``call.wav`` beside
``call.flac``) get a short hash of the file's absolute path, so a file keeps its id from run
to run; a recording whose output folder (``OUT/<id>/status.json``) an earlier run made keeps
that folder's id when a newcomer would take its name. A folder input never contributes what
lies in the batch's own output folder; it follows links to folders (each folder once, so a link
loop ends) and contributes every audio-named entry, also one that is not a readable file (a
dangling link, a FIFO): the task reports it as a failed recording.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gpuaudio.analysis.report import output_folder_name, safe_name
from gpuaudio.batch.status import load_status
from gpuaudio.batch.tables import recordings_schema
from gpuaudio.errors import BatchInputError

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
"""Files a folder input contributes (case-insensitive)."""
MANIFEST_EXTENSION = ".csv"
RESERVED_COLUMNS = ("path", "id", "channel")
_SAFE_ID = re.compile(r"^\w[\w.-]*$")


@dataclass(frozen=True)
class WorkItem:
    """One recording of a batch: picklable, everything a worker needs besides the settings."""

    path: str
    """Absolute path of the audio file."""
    id: str
    """Stable, unique, safe folder name of the recording's outputs."""
    channel: int | None = None
    """Channel to analyse (0-based); None: the mean of all channels."""
    extra: tuple[tuple[str, str], ...] = ()
    """Manifest columns carried into the tables, ``(name, value)`` in manifest order."""


@dataclass(frozen=True)
class _Found:
    """An input recording before ids are settled: the id from a manifest, or "" and the
    name its id derives from."""

    item: WorkItem
    derived: str
    where: str = ""
    """The manifest line that gave the id."""


def collect_inputs(
    inputs: Sequence[str | Path], output: str | Path | None = None
) -> list[WorkItem]:
    """Work items of files, folders and manifest CSVs, in input order; raises
    `BatchInputError` naming the input for a missing path, a bad manifest, duplicate ids or
    a folder input that is the `output` folder (the batch's, whose earlier results settle ids
    and whose files a folder input skips)."""
    out = Path(output).resolve() if output is not None else None
    found: list[_Found] = []
    seen: set[tuple[str, int | None]] = set()
    for given in inputs:
        path = Path(given)
        if not path.exists():
            raise BatchInputError(f"{path}: no such file or folder")
        if path.is_dir():
            if out is not None and path.resolve() == out:
                raise BatchInputError(
                    f"{path}: the input folder is the output folder; choose another output "
                    "folder (-o), outside the inputs or in a subfolder of them"
                )
            files = [file for file in _audio_files(path) if not _inside(file, out)]
            batch = [_from_path(file, file.relative_to(path)) for file in files]
            if not batch:
                extensions = ", ".join(sorted(AUDIO_EXTENSIONS))
                raise BatchInputError(f"{path}: the folder holds no audio files ({extensions})")
        elif path.suffix.lower() == MANIFEST_EXTENSION:
            batch = read_manifest(path)
        else:
            batch = [_from_path(path, Path(path.name))]
        for entry in batch:
            key = (entry.item.path, entry.item.channel)
            if key in seen and not entry.item.id:
                continue  # a file given twice (by itself and in its folder) runs once
            seen.add(key)
            found.append(entry)
    # Ids name folders: unique even where the file system ignores case (macOS, Windows).
    named = [entry.item.id.casefold() for entry in found if entry.item.id]
    duplicates = [name for name, count in Counter(named).items() if count > 1]
    if duplicates:
        lines = [
            f"{entry.where}: {entry.item.id!r}" for entry in found
            if entry.item.id.casefold() == duplicates[0]
        ]
        raise BatchInputError(
            f"one id is given to several recordings ({'; '.join(lines)}); ids name output "
            "folders and must be unique, whatever the case of their letters"
        )
    counts = Counter(entry.derived.casefold() for entry in found if not entry.item.id)
    return [_settle(entry, counts, set(named), out) for entry in found]


def _settle(entry: _Found, counts: Counter[str], taken: set[str], out: Path | None) -> WorkItem:
    """The item with its id: the manifest's, or the derived name, made unique by a hash of
    the path when another recording would have it too (in any case of its letters), unless an
    earlier run's output folder in `out` shows the recording already has one of the two."""
    item = entry.item
    if item.id:
        return item
    name = entry.derived
    digest = hashlib.sha1(f"{item.path}#{item.channel}".encode()).hexdigest()[:8]
    hashed = f"{name}-{digest}"
    if _made_for(out, hashed, item):
        return replace(item, id=hashed)
    folded = name.casefold()
    if folded in taken or (counts[folded] > 1 and not _made_for(out, name, item)):
        return replace(item, id=hashed)
    return replace(item, id=name)


def _made_for(out: Path | None, ident: str, item: WorkItem) -> bool:
    """Whether ``out/<ident>`` holds an earlier run's results of `item` (its status.json)."""
    if out is None:
        return False
    status = load_status(out / ident)
    return status is not None and (status.path, status.channel) == (item.path, item.channel)


def _inside(file: Path, folder: Path | None) -> bool:
    return folder is not None and _real(file).is_relative_to(folder)


def read_manifest(path: Path) -> list[_Found]:
    """The rows of a manifest CSV: ``path`` (relative to the manifest's folder or absolute),
    optional ``id`` and ``channel``; any other column is carried, unless the batch computes
    a column of that name (``status``, ``sha256``...: refused, never overwritten)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = list(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BatchInputError(f"{path}: cannot read the manifest ({exc})") from exc
    if "path" not in columns:
        raise BatchInputError(
            f"{path}: a manifest needs a 'path' column (and optionally 'id' and 'channel'); "
            f"its columns are {', '.join(columns) or 'none'}"
        )
    carried = [name for name in columns if name not in RESERVED_COLUMNS]
    computed = [name for name in carried if name in recordings_schema().names]
    if computed:
        raise BatchInputError(
            f"{path}: the batch computes the column(s) {', '.join(map(repr, computed))} of "
            "recordings.parquet itself; rename them in the manifest (its other columns are "
            "carried into the tables)"
        )
    found = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        cell = (row.get("path") or "").strip()
        if not cell:
            raise BatchInputError(f"{where}: the 'path' cell is empty")
        audio = Path(cell) if Path(cell).is_absolute() else path.parent / cell
        if not audio.is_file():
            raise BatchInputError(f"{where}: {audio}: no such file")
        ident = (row.get("id") or "").strip()
        if ident and not _SAFE_ID.match(ident):
            raise BatchInputError(
                f"{where}: id {ident!r} is not a safe folder name (letters, digits, '_', '-' "
                "and '.', starting with a letter or digit)"
            )
        entry = _from_path(audio, Path(audio.name), channel=_channel(row.get("channel"), where))
        extra = tuple((name, row.get(name) or "") for name in carried)
        found.append(_Found(replace(entry.item, id=ident, extra=extra), entry.derived, where))
    return found


def _channel(cell: str | None, where: str) -> int | None:
    if cell is None or not cell.strip():
        return None
    try:
        channel = int(cell)
    except ValueError:
        channel = -1
    if channel < 0:
        raise BatchInputError(f"{where}: channel {cell!r} is not a channel number (0, 1, ...)")
    return channel


def _audio_files(folder: Path) -> list[Path]:
    """Every audio-named entry under `folder` that is not a folder, readable or not, through
    links to folders, each folder once (a link to one already walked, such as an ancestor,
    is not followed: no loop); `BatchInputError` for a folder that cannot be listed."""
    found = []
    seen = {folder.resolve()}

    def unreadable(exc: OSError) -> None:
        raise BatchInputError(f"{exc.filename}: cannot read the folder ({exc.strerror or exc})")

    for root, folders, files in os.walk(folder, onerror=unreadable, followlinks=True):
        new = []
        for name in sorted(folders):
            real = _real(Path(root, name))
            if real not in seen:
                seen.add(real)
                new.append(name)
        folders[:] = new  # os.walk descends into these only
        found += [Path(root, name) for name in files
                  if Path(name).suffix.lower() in AUDIO_EXTENSIONS]
    return sorted(found)


def _real(path: Path) -> Path:
    """`path` with its links resolved; absolute as it is where they lead nowhere (a dangling
    link, a link loop), so that the error names the entry."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python 3.11)
        return path.absolute()


def _from_path(file: Path, relative: Path, channel: int | None = None) -> _Found:
    """An item of `file`, its id to be derived from `relative` (its path inside a folder)."""
    folders = [safe_name(part) for part in relative.parent.parts]
    derived = safe_name("__".join([*folders, output_folder_name(relative)]))  # length capped
    if channel is not None:
        derived += f"-ch{channel}"
    return _Found(WorkItem(path=str(_real(file)), id="", channel=channel), derived)
