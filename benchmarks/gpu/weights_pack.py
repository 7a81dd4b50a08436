"""Pack a large float32 weights file into two compressed halves, and join them back, losslessly.

A device call may carry 64 MiB with the working tree; CREPE full's weights (full.pth, 89 MB)
do not fit with it even in halves. Split into its four byte planes (the exponent bytes of
trained weights repeat a lot) and xz-compressed, the file takes ~62 % of its size, so each half
travels in its own call with room to spare. `unpack` checks the joined file's SHA-256.

    python benchmarks/gpu/weights_pack.py pack FILE DIR_A DIR_B
    python benchmarks/gpu/weights_pack.py unpack DIR_A DIR_B OUTPUT
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import sys
from pathlib import Path

import numpy as np

PART = "weights.xz.part"
CHECKSUM = "weights.sha256"
PLANES = 4


def shuffle(data: bytes) -> bytes:
    """The bytes regrouped plane by plane (byte 0 of every word, then byte 1, ...); a tail
    shorter than a word stays at the end as it was."""
    whole = len(data) // PLANES * PLANES
    words = np.frombuffer(data[:whole], dtype=np.uint8).reshape(-1, PLANES)
    return words.T.tobytes() + data[whole:]


def unshuffle(data: bytes) -> bytes:
    """The inverse of `shuffle`."""
    whole = len(data) // PLANES * PLANES
    planes = np.frombuffer(data[:whole], dtype=np.uint8).reshape(PLANES, -1)
    return planes.T.tobytes() + data[whole:]


def pack(source: Path, dir_a: Path, dir_b: Path) -> None:
    data = source.read_bytes()
    packed = lzma.compress(shuffle(data), preset=6)
    half = (len(packed) + 1) // 2
    for folder, piece in ((dir_a, packed[:half]), (dir_b, packed[half:])):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PART).write_bytes(piece)
    (dir_b / CHECKSUM).write_text(hashlib.sha256(data).hexdigest() + "\n")
    print(f"{source.name}: {len(data) / 1e6:.1f} MB -> 2 x {half / 1e6:.1f} MB")


def unpack(dir_a: Path, dir_b: Path, output: Path) -> None:
    packed = (dir_a / PART).read_bytes() + (dir_b / PART).read_bytes()
    try:
        data = unshuffle(lzma.decompress(packed))
    except lzma.LZMAError as exc:
        raise SystemExit(f"the halves do not join ({exc}): {output.name} not written") from None
    expected = (dir_b / CHECKSUM).read_text().strip()
    if hashlib.sha256(data).hexdigest() != expected:
        raise SystemExit(f"checksum mismatch: {output.name} not written")
    output.write_bytes(data)
    print(f"{output}: {len(data) / 1e6:.1f} MB, SHA-256 verified")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    packing = verbs.add_parser("pack")
    packing.add_argument("source", type=Path)
    unpacking = verbs.add_parser("unpack")
    for verb in (packing, unpacking):
        verb.add_argument("dir_a", type=Path)
        verb.add_argument("dir_b", type=Path)
    unpacking.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    if args.verb == "pack":
        pack(args.source, args.dir_a, args.dir_b)
    else:
        unpack(args.dir_a, args.dir_b, args.output)


if __name__ == "__main__":
    main(sys.argv[1:])
