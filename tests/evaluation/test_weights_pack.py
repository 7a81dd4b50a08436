"""benchmarks/gpu/weights_pack.py: weights packed in two halves come back byte for byte."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu" / "weights_pack.py"


@pytest.fixture(scope="module")
def weights_pack():
    spec = importlib.util.spec_from_file_location("weights_pack", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("tail", [0, 3])
def test_packed_weights_join_back_byte_for_byte_and_smaller(weights_pack, tmp_path, tail):
    """float32 weights (and a tail shorter than a word) packed, split and joined: the same
    bytes, and the halves together smaller than the file (the exponent bytes repeat)."""
    weights = np.random.default_rng(0).normal(0, 0.05, 200_000).astype(np.float32)
    source = tmp_path / "full.pth"
    source.write_bytes(weights.tobytes() + b"xyz"[:tail])
    weights_pack.main(["pack", str(source), str(tmp_path / "a"), str(tmp_path / "b")])
    halves = [tmp_path / half / weights_pack.PART for half in "ab"]
    assert sum(h.stat().st_size for h in halves) < 0.9 * source.stat().st_size
    joined = tmp_path / "joined.pth"
    weights_pack.main(["unpack", str(tmp_path / "a"), str(tmp_path / "b"), str(joined)])
    assert joined.read_bytes() == source.read_bytes()


def test_a_wrong_half_is_refused_and_nothing_is_written(weights_pack, tmp_path):
    """The second half of another file: refused (it does not decompress, or its checksum is
    another's), and no output file."""
    source = tmp_path / "full.pth"
    source.write_bytes(np.arange(50_000, dtype=np.float32).tobytes())
    weights_pack.main(["pack", str(source), str(tmp_path / "a"), str(tmp_path / "b")])
    other = tmp_path / "other.pth"
    other.write_bytes(np.arange(1, 50_001, dtype=np.float32).tobytes())
    weights_pack.main(["pack", str(other), str(tmp_path / "c"), str(tmp_path / "d")])
    wrong = (tmp_path / "d" / weights_pack.PART).read_bytes()
    (tmp_path / "b" / weights_pack.PART).write_bytes(wrong)
    joined = tmp_path / "joined.pth"
    with pytest.raises(SystemExit, match="not written"):
        weights_pack.main(["unpack", str(tmp_path / "a"), str(tmp_path / "b"), str(joined)])
    assert not joined.exists()


def test_a_joined_file_with_another_checksum_is_refused(weights_pack, tmp_path):
    source = tmp_path / "full.pth"
    source.write_bytes(np.arange(50_000, dtype=np.float32).tobytes())
    weights_pack.main(["pack", str(source), str(tmp_path / "a"), str(tmp_path / "b")])
    (tmp_path / "b" / weights_pack.CHECKSUM).write_text("0" * 64 + "\n")
    joined = tmp_path / "joined.pth"
    with pytest.raises(SystemExit, match="checksum mismatch"):
        weights_pack.main(["unpack", str(tmp_path / "a"), str(tmp_path / "b"), str(joined)])
    assert not joined.exists()
