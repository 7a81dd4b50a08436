"""Reading audio files for analysis: soundfile, channel policy, resampling, streaming.

Every reader returns mono float32 at the analysis sample rate. Long files are streamed in
blocks (`stream_audio`) whose concatenation equals reading the file in one piece
(`read_audio`) up to float rounding, so memory stays bounded whatever the duration.

Channel policy: by default the channels are averaged (a mono mix). When the parties of a
call are on separate channels, analyse each one on its own with ``channel=N``: a speaker's
baseline only means something for one speaker.
"""

from __future__ import annotations

import errno
import hashlib
import math
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gpuaudio import _validation as check
from gpuaudio.errors import AudioFileError, InvalidAudioError, InvalidParameterError

_RESAMPLE_TAPS_PER_SIDE = 10
"""scipy.signal.resample_poly's default filter half-length, in units of max(up, down)."""
_READ_FRAMES = 1 << 16
"""Frames decoded at once: channels are mixed down block by block, so reading a long
multichannel file costs about one mono copy, never its whole (frames, channels) array."""
_DECODER_HINT = (
    "gpuaudio reads WAV, FLAC, OGG and MP3 through soundfile (libsndfile); "
    "convert other formats first, e.g. `ffmpeg -i input.m4a output.flac`"
)


_STAT_ERRORS: dict[int | None, str] = {
    errno.ENOENT: "no such file",
    errno.ENOTDIR: "no such file",
    errno.ELOOP: "a symbolic-link loop (too many levels of symbolic links): it leads to no file",
}
"""What `audio_info` says when a path cannot be looked up; else the system's words."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as soundfile reports it."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    problems: tuple[str, ...] = ()
    """Inconsistencies the decoder found in the file (a header claiming more audio than the
    file holds: a truncated file); the audio that is there is still read."""

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frames": self.frames,
            "duration_s": self.duration_s,
            "format": self.format,
            "subtype": self.subtype,
            "problems": list(self.problems),
        }


def audio_info(path: str | Path) -> AudioInfo:
    """Probe `path`; raises `AudioFileError` (one line, what to do) when it can't be analysed."""
    import soundfile as sf

    path = Path(path)
    try:
        status = path.stat()
    except OSError as exc:
        reason = _STAT_ERRORS.get(exc.errno) or exc.strerror or str(exc)
        raise AudioFileError(f"{path}: {reason}") from None
    if not stat.S_ISREG(status.st_mode):
        raise AudioFileError(f"{path}: not a regular file")
    if status.st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(
            f"{path}: cannot decode audio ({_reason(exc)}); {_DECODER_HINT}"
        ) from None
    if info.frames <= 0:
        raise AudioFileError(f"{path}: the file holds no audio samples")
    return AudioInfo(
        path=str(path),
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        format=str(info.format),
        subtype=str(info.subtype),
        problems=header_problems(str(info.extra_info)),
    )


_SHOULD_BE = re.compile(r"^\s*(\w+)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def header_problems(extra_info: str) -> tuple[str, ...]:
    """libsndfile's header notes (``data : 320000 (should be 159978)``) as sentences."""
    return tuple(
        f"the file's header says its {chunk} chunk holds {claimed} bytes but the file holds "
        f"{actual}: the file is truncated or its header is wrong; only the audio that is "
        "there was analysed, and a segment at its end may be cut short"
        for chunk, claimed, actual in _SHOULD_BE.findall(extra_info)
        if chunk.lower() == "data"
    )


_MISLEADING = "File does not exist or is not a regular file (possibly a pipe?)."
"""What libsndfile (through mpg123) says of a file that is there but is not audio it knows."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    reason = text[-1] if text else type(exc).__name__
    if reason.endswith(_MISLEADING):  # the file was checked to exist and be a regular file
        return "not audio in a format libsndfile knows, or the file is damaged"
    return reason


def sha256_file(path: str | Path, block_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


def to_mono(data: np.ndarray, channel: int | None) -> np.ndarray:
    """(frames, channels) or (frames,) -> float32 (frames,): the mean, or one channel."""
    channels = 1 if data.ndim == 1 else data.shape[1]
    if channel is not None and not 0 <= channel < channels:
        have = f"has {channels} channels (0..{channels - 1})"
        if channels == 1:
            have = "is mono (channel 0)"
        raise AudioFileError(f"channel {channel} requested but the audio {have}")
    if data.ndim == 1:
        return data.astype(np.float32, copy=False)
    if channel is None:
        mixed: np.ndarray = data.mean(axis=1, dtype=np.float64)
        return mixed.astype(np.float32)
    return np.ascontiguousarray(data[:, channel], dtype=np.float32)


@dataclass(frozen=True)
class _Ratio:
    """A rational resampling ratio ``up / down`` and the input context one output needs."""

    up: int
    down: int

    @classmethod
    def between(cls, sr_in: int, sr_out: int) -> _Ratio:
        ratio = Fraction(sr_out, sr_in)
        return cls(ratio.numerator, ratio.denominator)

    @property
    def context(self) -> int:
        """Input samples (a multiple of `down`) covering the filter's half-length."""
        half = _RESAMPLE_TAPS_PER_SIDE * max(self.up, self.down)
        return self.down * (math.ceil(half / self.up / self.down) + 1)

    def out_length(self, n_in: int) -> int:
        return -(-n_in * self.up // self.down)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, Kaiser window) to float32."""
    if sr_in == sr_out:
        return y.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = _Ratio.between(sr_in, sr_out)
    out: np.ndarray = resample_poly(y.astype(np.float64), ratio.up, ratio.down)
    return out.astype(np.float32)


def read_audio(
    path: str | Path, sr: int, *, channel: int | None = None, read_frames: int = _READ_FRAMES
) -> np.ndarray:
    """The whole file as mono float32 at `sr` (see the module's channel policy), decoded and
    mixed down `read_frames` frames at a time."""
    stream = stream_audio(path, sr, channel=channel, block_s=math.inf, read_frames=read_frames)
    blocks = list(stream)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)  # one block: no copy


def stream_audio(
    path: str | Path,
    sr: int,
    *,
    channel: int | None = None,
    block_s: float = 600.0,
    read_frames: int = _READ_FRAMES,
) -> Iterator[np.ndarray]:
    """Mono float32 blocks at `sr`, about `block_s` seconds each, read from disk in turn
    (decoded and mixed down `read_frames` frames at a time).

    Each block is resampled with enough input context on both sides that the concatenated
    blocks equal `resample` of the whole file (up to float rounding): chunk boundaries fall
    on multiples of the ratio's denominator, where input and output samples line up.
    """
    import soundfile as sf

    info = audio_info(path)
    ratio = _Ratio.between(info.sample_rate, sr)
    if math.isinf(block_s):
        block_in = info.frames
    else:
        block_in = max(ratio.down, int(block_s * info.sample_rate) // ratio.down * ratio.down)
    context = 0 if ratio.up == ratio.down else ratio.context
    try:
        with sf.SoundFile(str(path)) as handle:
            spans = _Spans(handle, channel, read_frames)
            for start in range(0, info.frames, block_in):
                stop = min(start + block_in, info.frames)
                lo, hi = max(0, start - context), min(info.frames, stop + context)
                mono = spans.read(lo, hi)
                if mono.shape[0] != hi - lo:
                    raise AudioFileError(
                        f"{path}: the file ends early (read {lo + mono.shape[0]} of "
                        f"{info.frames} frames); it is truncated or corrupt"
                    )
                own = mono[start - lo : stop - lo]
                if not (np.isfinite(own.max()) and np.isfinite(own.min())):  # NaN propagates
                    raise _non_finite(path, spans, info, start, own, mono[stop - lo :])
                check.full_scale(own, where=f"{path}", sr=info.sample_rate, offset=start)
                if context == 0:
                    yield mono
                    continue
                yield _resample_span(mono, info.sample_rate, sr, lo, start, stop)
    except sf.LibsndfileError as exc:
        raise AudioFileError(f"{path}: cannot decode audio ({_reason(exc)})") from None


class _Spans:
    """Frames ``[lo, hi)`` of an open ``soundfile.SoundFile`` as mono float32, asked for in
    increasing order; spans may overlap (the resampler's context). A seekable file is read
    from `lo`; one that cannot seek (GSM 6.10 in WAV) is read on from where the last span
    ended, the overlap taken from that span."""

    def __init__(self, handle: Any, channel: int | None, read_frames: int) -> None:
        self._handle, self._channel, self.read_frames = handle, channel, read_frames
        self._seekable = bool(handle.seekable())
        self._last = np.zeros(0, dtype=np.float32)  # the last span, from frame _last_lo
        self._last_lo = 0

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Frames ``[lo, hi)`` (fewer if the file ends first); the file then stands at `hi`."""
        if self._seekable:
            self._handle.seek(lo)
            return self.next(hi - lo)
        kept = self._last[lo - self._last_lo :]
        fresh = self.next(hi - lo - kept.shape[0])
        self._last = np.concatenate([kept, fresh]) if kept.size else fresh
        self._last_lo = lo
        return self._last

    def next(self, frames: int) -> np.ndarray:
        """Up to `frames` frames from where the file stands."""
        return _read_mono(self._handle, frames, self._channel, self.read_frames)


def _non_finite(
    path: str | Path, spans: _Spans, info: AudioInfo, start: int, block: np.ndarray,
    after: np.ndarray,
) -> InvalidAudioError:
    """The error for non-finite samples first met in `block` (frames from `start`), read with
    `after` (the frames up to where the file stands): where the first lies and how many the
    file holds (the rest of the file is read to count them)."""
    bad = np.flatnonzero(~np.isfinite(block))
    first = start + int(bad[0])
    count = bad.size + int(np.count_nonzero(~np.isfinite(after)))
    while (rest := spans.next(spans.read_frames)).size:
        count += int(np.count_nonzero(~np.isfinite(rest)))
    return InvalidAudioError(
        f"{path}: {count} non-finite sample(s) (NaN or inf), the first at "
        f"{first / info.sample_rate:.3f} s (frame {first}); the file is damaged or not audio: "
        "repair it (e.g. replace them by silence) before analysis"
    )


def _read_mono(handle: Any, frames: int, channel: int | None, read_frames: int) -> np.ndarray:
    """Up to `frames` frames from an open ``soundfile.SoundFile`` as mono float32, decoded
    and mixed `read_frames` at a time into one array (shorter if the file ends first)."""
    mono = np.empty(frames, dtype=np.float32)
    done = 0
    while done < frames:
        data = handle.read(min(max(1, read_frames), frames - done), dtype="float32", always_2d=True)
        if data.shape[0] == 0:
            break
        mono[done : done + data.shape[0]] = to_mono(data, channel)
        done += data.shape[0]
    return mono[:done]


def _resample_span(
    data: np.ndarray, sr_in: int, sr_out: int, lo: int, start: int, stop: int
) -> np.ndarray:
    """The output samples of input ``[start, stop)`` of a signal, given ``data`` = its input
    from `lo` (``lo <= start``, a multiple of the ratio's denominator) with the filter's
    context on both sides (or up to the signal's edges)."""
    ratio = _Ratio.between(sr_in, sr_out)
    out = resample(data, sr_in, sr_out)
    skip = ratio.out_length(start - lo)
    return out[skip : skip + ratio.out_length(stop - start)]


class StreamResampler:
    """Resample a stream that arrives in blocks of any size, as `resample` would the whole.

    The concatenated output equals `resample` of the concatenated input bit for bit: input is
    resampled in spans that start and stop on multiples of the ratio's denominator, each with
    the filter's full context on both sides. So output lags input by up to
    ``lookahead`` input samples (the context plus one denominator; 0 when the rates are equal)
    until `close` releases the rest. Blocks are copied: the caller may reuse its buffers.
    """

    def __init__(self, sr_in: int, sr_out: int) -> None:
        self.sr_in, self.sr_out = sr_in, sr_out
        self._ratio = _Ratio.between(sr_in, sr_out)
        self._context = 0 if self._ratio.up == self._ratio.down else self._ratio.context
        self._pending: list[np.ndarray] = []  # blocks not yet joined to _buffer
        self._buffer = np.zeros(0, dtype=np.float32)  # input from stream index _buffer_at
        self._buffer_at = 0
        self._done = 0  # input samples whose output has been returned
        self._received = 0
        self._closed = False

    @property
    def lookahead(self) -> int:
        """Most input samples that can be waiting for the filter's right-hand context."""
        return 0 if self._context == 0 else self._context + self._ratio.down

    @property
    def received(self) -> int:
        """Input samples pushed so far."""
        return self._received

    @property
    def produced(self) -> int:
        """Output samples returned by `pull` so far."""
        return self._ratio.out_length(self._done)

    def push(self, block: np.ndarray) -> None:
        """Add mono float32 samples at the end of the stream (copied)."""
        if self._closed:
            raise RuntimeError("push() after close()")
        self._pending.append(np.array(block, dtype=np.float32, copy=True))
        self._received += int(block.shape[0])

    def close(self) -> None:
        """The stream has ended: `pull` now returns everything that is left."""
        self._closed = True

    def ready(self) -> int:
        """Output samples `pull` would return now."""
        return self._ratio.out_length(self._final()) - self.produced

    def _final(self) -> int:
        """Input samples whose output no later input can change (a multiple of the ratio's
        denominator, unless the stream is closed)."""
        if self._closed or self._context == 0:
            return self._received
        down = self._ratio.down
        return max(self._done, (self._received - self._context) // down * down)

    def pull(self) -> np.ndarray:
        """Every output sample that is final now (float32, possibly empty)."""
        start, stop = self._done, self._final()
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        if self._pending:
            self._buffer = np.concatenate([self._buffer, *self._pending])
            self._pending = []
        lo = max(0, start - self._context)
        hi = min(self._received, stop + self._context)
        data = self._buffer[lo - self._buffer_at : hi - self._buffer_at]
        if self._context == 0:
            out = data.copy()
        else:
            out = _resample_span(data, self.sr_in, self.sr_out, lo, start, stop)
        keep = max(0, stop - self._context)  # the next span's left context starts here
        self._buffer = self._buffer[keep - self._buffer_at :]
        self._buffer_at, self._done = keep, stop
        return out


PCM_FORMATS = {"s16le": "<i2", "f32le": "<f4"}
"""Headerless PCM sample formats `PcmReader` reads (names as ffmpeg and sox spell them)."""


_CONTAINERS = {b"RIFF": "WAV", b"RIFX": "WAV", b"fLaC": "FLAC", b"OggS": "Ogg",
               b"ID3": "MP3", b"FORM": "AIFF"}  # fmt: skip


def _refuse_container(head: bytes) -> None:
    """Raise `AudioFileError` when raw PCM on stdin starts like an audio file's header."""
    for magic, kind in _CONTAINERS.items():
        if head.startswith(magic):
            raise AudioFileError(
                f"stdin holds a {kind} file ({magic.decode()} header), not raw PCM: pass the "
                f"file's name instead of -, or send raw samples (e.g. sox FILE -t raw -e signed "
                "-b 16 -c 1 -)"
            )


class PcmReader:
    """Mono float32 blocks of headerless, interleaved PCM from a binary stream (e.g. stdin),
    as the bytes arrive; counts frames and hashes the bytes (SHA-256) on the way.

    16-bit samples are scaled by 1/32768 (as `gpuaudio._validation.audio` scales int16);
    channels are mixed or picked as `to_mono` does. Bytes of an incomplete last frame are
    dropped and counted in `stray_bytes`.
    """

    def __init__(
        self,
        source: BinaryIO,
        fmt: str,
        *,
        channels: int = 1,
        channel: int | None = None,
        block_frames: int = 1024,
    ) -> None:
        if fmt not in PCM_FORMATS:
            raise InvalidParameterError(
                f"unknown raw PCM format {fmt!r}; use one of {', '.join(PCM_FORMATS)}"
            )
        if channels < 1:
            raise InvalidParameterError(f"channels must be at least 1, got {channels}")
        if channel is not None and not 0 <= channel < channels:
            raise InvalidParameterError(
                f"channel {channel} requested but the stream has {channels} channel(s)"
            )
        self.source, self.fmt, self.channels, self.channel = source, fmt, channels, channel
        self.dtype = np.dtype(PCM_FORMATS[fmt])
        self.block_frames = max(1, block_frames)
        self.frames = 0
        self.stray_bytes = 0
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes read so far."""
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[np.ndarray]:
        frame = self.dtype.itemsize * self.channels
        # read1: what has arrived (at least a byte), not more; plain streams only have read
        read = self.source.read1 if hasattr(self.source, "read1") else self.source.read
        carry = b""
        head = b""  # the stream's first bytes, until there are enough to tell a header
        while chunk := read(self.block_frames * frame):
            if len(head) < 4:
                head += chunk[:4]
                _refuse_container(head)
            self._digest.update(chunk)
            data = carry + chunk
            usable = len(data) // frame * frame
            carry = data[usable:]
            if usable == 0:
                continue
            samples = np.frombuffer(data[:usable], dtype=self.dtype).reshape(-1, self.channels)
            scaled = samples.astype(np.float32)
            if self.dtype.kind == "i":
                scaled /= np.float32(2 ** (8 * self.dtype.itemsize - 1))
            self.frames += scaled.shape[0]
            yield to_mono(scaled if self.channels > 1 else scaled[:, 0], self.channel)
        self.stray_bytes = len(carry)
