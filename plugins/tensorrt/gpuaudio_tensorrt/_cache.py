"""On-disk cache of TensorRT engines: one file per key, a JSON sidecar, verified before use.

Nothing here imports TensorRT: the builder and the deserialiser are passed in, so the cache
policy is tested on any machine with fakes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["EngineCache", "EngineKey", "default_cache_dir"]

T = TypeVar("T")
log = logging.getLogger(__name__)
_SIDECAR_FORMAT = 1


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; any change means another engine."""

    model: str
    weights_sha256: str
    precision: str
    gpu_name: str
    compute_capability: str
    """``"major.minor"``."""
    tensorrt_version: str
    max_batch: int
    onnx_opset: int
    plugin_version: str

    def fields(self) -> dict[str, Any]:
        """The key as plain JSON-able data (what the sidecar stores)."""
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the fields."""
        canonical = json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def stem(self) -> str:
        """File name without suffix: readable prefix, then the digest."""
        return f"crepe-{self.model}-{self.precision}-{self.digest()[:20]}"


def default_cache_dir() -> Path:
    """``<user cache dir>/gpuaudio/tensorrt`` (platformdirs; honours ``$XDG_CACHE_HOME``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("gpuaudio")) / "tensorrt"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over `path`."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class EngineCache:
    """Engines under `directory`: ``<stem>.engine`` and ``<stem>.json`` per `EngineKey`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def engine_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.stem}.engine"

    def sidecar_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.stem}.json"

    def load(
        self, key: EngineKey, deserialize: Callable[[bytes], T | None]
    ) -> tuple[T | None, str]:
        """(engine, "hit") when the cached engine is valid, else (None, why it is not).

        Valid means: the sidecar records exactly this key and the engine file's SHA-256,
        and `deserialize` accepts the bytes (returns something, raises nothing).
        """
        engine_path, sidecar_path = self.engine_path(key), self.sidecar_path(key)
        if not engine_path.is_file() or not sidecar_path.is_file():
            return None, "not cached"
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return None, f"unreadable sidecar ({exc})"
        if not isinstance(sidecar, dict) or sidecar.get("format") != _SIDECAR_FORMAT:
            return None, "stale sidecar (unknown format)"
        if sidecar.get("key") != key.fields():
            return None, "stale sidecar (key fields differ)"
        data = engine_path.read_bytes()
        if sidecar.get("engine_sha256") != _sha256(data):
            return None, "corrupt engine (checksum differs from the sidecar)"
        try:
            engine = deserialize(data)
        except Exception as exc:
            return None, f"engine does not deserialise ({exc!r})"
        if engine is None:
            return None, "engine does not deserialise"
        return engine, "hit"

    def store(self, key: EngineKey, data: bytes) -> None:
        """Write the engine, then its sidecar (so a crash in between leaves no valid entry)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.engine_path(key), data)
        sidecar = {"format": _SIDECAR_FORMAT, "key": key.fields(), "engine_sha256": _sha256(data)}
        _write_atomically(self.sidecar_path(key), json.dumps(sidecar, indent=2).encode())

    def load_or_build(
        self,
        key: EngineKey,
        build: Callable[[], bytes],
        deserialize: Callable[[bytes], T | None],
    ) -> tuple[T, str]:
        """The cached engine if valid, else build, store and deserialise a new one.

        Returns the engine and ``"hit"`` or ``"built (<why the cache missed>)"``.
        """
        engine, why = self.load(key, deserialize)
        if engine is not None:
            return engine, why
        log.info("building TensorRT engine %s: %s", key.stem, why)
        data = build()
        engine = deserialize(data)
        if engine is None:
            raise RuntimeError(f"TensorRT could not load the engine it just built ({key.stem})")
        self.store(key, data)
        return engine, f"built ({why})"
