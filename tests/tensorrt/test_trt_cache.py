"""The engine cache: keys, verification before use, rebuilds, atomic writes (fake builder)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gpuaudio_tensorrt._cache import EngineCache, EngineKey, default_cache_dir

KEY = EngineKey(
    model="tiny",
    weights_sha256="ab" * 32,
    precision="fp16",
    gpu_name="NVIDIA H100 80GB HBM3",
    compute_capability="9.0",
    tensorrt_version="10.13.3.9",
    max_batch=2048,
    onnx_opset=17,
    plugin_version="0.1.0",
)
OTHER_VALUES: dict[str, Any] = {
    "model": "full",
    "weights_sha256": "cd" * 32,
    "precision": "fp32",
    "gpu_name": "NVIDIA A100-SXM4-80GB",
    "compute_capability": "8.0",
    "tensorrt_version": "11.4.0.106",
    "max_batch": 1024,
    "onnx_opset": 18,
    "plugin_version": "0.2.0",
}


class FakeTensorRT:
    """Builds "engines" that name their key; deserialises only well-formed ones."""

    def __init__(self) -> None:
        self.builds = 0

    def build(self, key: EngineKey) -> bytes:
        self.builds += 1
        return b"ENGINE " + key.digest().encode()

    @staticmethod
    def deserialize(data: bytes) -> str | None:
        return data.decode() if data.startswith(b"ENGINE ") else None

    def load(self, cache: EngineCache, key: EngineKey = KEY) -> tuple[str, str]:
        return cache.load_or_build(key, lambda: self.build(key), self.deserialize)


def test_same_fields_same_key() -> None:
    twin = EngineKey(**KEY.fields())
    assert twin == KEY and twin.digest() == KEY.digest() and twin.stem == KEY.stem


@pytest.mark.parametrize("field", sorted(OTHER_VALUES))
def test_every_field_changes_the_key(field: str) -> None:
    assert set(OTHER_VALUES) == {f.name for f in dataclasses.fields(EngineKey)}
    changed = dataclasses.replace(KEY, **{field: OTHER_VALUES[field]})
    assert changed.digest() != KEY.digest()
    assert changed.stem != KEY.stem


def test_stem_is_readable() -> None:
    assert KEY.stem.startswith("crepe-tiny-fp16-")


def test_built_once_then_loaded_and_files_are_complete(tmp_path: Path) -> None:
    fake = FakeTensorRT()
    engine, outcome = fake.load(EngineCache(tmp_path))
    assert outcome == "built (not cached)" and fake.builds == 1
    assert engine == f"ENGINE {KEY.digest()}"
    again, outcome = fake.load(EngineCache(tmp_path))
    assert (again, outcome, fake.builds) == (engine, "hit", 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{KEY.stem}.engine", f"{KEY.stem}.json"]
    sidecar = json.loads((tmp_path / f"{KEY.stem}.json").read_text())
    assert sidecar["key"] == KEY.fields()


def test_keys_do_not_share_entries(tmp_path: Path) -> None:
    fake = FakeTensorRT()
    other = dataclasses.replace(KEY, precision="fp32")
    first, _ = fake.load(EngineCache(tmp_path))
    second, outcome = fake.load(EngineCache(tmp_path), other)
    assert outcome.startswith("built") and first != second and fake.builds == 2


def _edit_sidecar(cache: EngineCache, **changes: object) -> None:
    path = cache.sidecar_path(KEY)
    sidecar = json.loads(path.read_text())
    sidecar.update(changes)
    path.write_text(json.dumps(sidecar))


def test_stale_sidecar_rebuilds(tmp_path: Path) -> None:
    fake, cache = FakeTensorRT(), EngineCache(tmp_path)
    fake.load(cache)
    _edit_sidecar(cache, key={**KEY.fields(), "tensorrt_version": "8.6.1"})
    _, outcome = fake.load(cache)
    assert outcome == "built (stale sidecar (key fields differ))" and fake.builds == 2
    assert fake.load(cache)[1] == "hit"


def test_unknown_sidecar_format_rebuilds(tmp_path: Path) -> None:
    fake, cache = FakeTensorRT(), EngineCache(tmp_path)
    fake.load(cache)
    _edit_sidecar(cache, format=999)
    assert fake.load(cache)[1] == "built (stale sidecar (unknown format))"


def test_corrupt_engine_file_rebuilds(tmp_path: Path) -> None:
    fake, cache = FakeTensorRT(), EngineCache(tmp_path)
    good, _ = fake.load(cache)
    path = cache.engine_path(KEY)
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")  # still deserialises: only the sum knows
    engine, outcome = fake.load(cache)
    assert outcome.startswith("built (corrupt engine") and engine == good
    assert fake.builds == 2


def test_unreadable_sidecar_rebuilds(tmp_path: Path) -> None:
    fake, cache = FakeTensorRT(), EngineCache(tmp_path)
    fake.load(cache)
    cache.sidecar_path(KEY).write_text("{truncated")
    assert fake.load(cache)[1].startswith("built (unreadable sidecar")


@pytest.mark.parametrize("refusal", ["returns None", "raises"])
def test_engine_the_runtime_refuses_is_rebuilt(tmp_path: Path, refusal: str) -> None:
    cache = EngineCache(tmp_path)
    cache.store(KEY, b"GARBAGE")  # consistent sidecar, but not an engine this runtime loads

    def deserialize(data: bytes) -> str | None:
        if refusal == "raises" and not data.startswith(b"ENGINE "):
            raise RuntimeError("serialization assertion failed")
        return FakeTensorRT.deserialize(data)

    fake = FakeTensorRT()
    _, outcome = cache.load_or_build(KEY, lambda: fake.build(KEY), deserialize)
    assert outcome.startswith("built (engine does not deserialise") and fake.builds == 1
    assert cache.load(KEY, deserialize)[1] == "hit"


def test_failed_build_leaves_no_files(tmp_path: Path) -> None:
    def build() -> bytes:
        raise RuntimeError("builder ran out of workspace")

    with pytest.raises(RuntimeError, match="workspace"):
        EngineCache(tmp_path / "cache").load_or_build(KEY, build, FakeTensorRT.deserialize)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_built_engine_that_does_not_load_is_not_stored(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    with pytest.raises(RuntimeError, match="could not load the engine it just built"):
        cache.load_or_build(KEY, lambda: b"GARBAGE", FakeTensorRT.deserialize)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_the_old_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, cache = FakeTensorRT(), EngineCache(tmp_path)
    fake.load(cache)
    before = cache.engine_path(KEY).read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("gpuaudio_tensorrt._cache.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.store(KEY, b"ENGINE new")
    assert cache.engine_path(KEY).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{KEY.stem}.engine", f"{KEY.stem}.json"]
    monkeypatch.undo()
    assert fake.load(cache)[1] == "hit"


def test_default_directory_follows_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gpuaudio" / "tensorrt"
