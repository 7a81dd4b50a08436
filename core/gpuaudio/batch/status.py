"""A recording's status record, ``OUT/<id>/status.json``: written last by its task, so a
recording has a finished result exactly when the file is there; read back by reruns (resume,
ids that stay with their folders) and gathered into the archive's tables."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

STATUS_JSON = "status.json"


@dataclass(frozen=True)
class RecordingStatus:
    """The status record of one recording (``OUT/<id>/status.json``, one row of the tables)."""

    id: str
    path: str
    channel: int | None
    status: Literal["ok", "failed"]
    error: str | None
    sha256: str | None
    config_hash: str
    version: str
    seconds: float
    """Wall time of the task."""
    duration_s: float | None = None
    escalated_s: float | None = None
    n_segments: int | None = None
    peak_score: float | None = None
    """Highest window score (None without a baseline)."""
    backend: str | None = None
    device: str | None = None
    baseline: dict[str, float | None] | None = None
    reused: bool = field(default=False, compare=False)
    """This run found the record finished earlier and did not redo it (not stored)."""

    def as_json(self) -> str:
        document = asdict(self)
        del document["reused"]
        return json.dumps(document, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RecordingStatus:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def load_status(folder: Path) -> RecordingStatus | None:
    """The stored status of a recording's folder; None when absent or unreadable."""
    try:
        return RecordingStatus.from_json((folder / STATUS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None
