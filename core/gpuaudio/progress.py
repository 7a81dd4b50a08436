"""Progress of long commands on stderr: a tqdm bar on a terminal, plain periodic lines when
stderr is a file or a pipe, nothing when quiet.

`Progress` counts in audio seconds (``unit="audio"``: m:ss done / total, speed as x real
time, ETA) or in items (``unit="case"``, ``"rec"``...: n / total, ETA). While one is open, the
library's notices (the ``gpuaudio.notice`` logger, e.g. the first-run compile) are printed
above its bar by `NoticeHandler`, and on a terminal the bar's spinner keeps turning while the
work between two updates (a compile, a long chunk) runs.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TextIO

NOTICE_LOGGER = "gpuaudio.notice"
"""Library code logs here (INFO) what a person at the command line should know as it happens,
e.g. that the F0 kernels compile on the first run."""
SPINNER = "|/-\\"
LINE_INTERVAL_S = 10.0
"""Default shortest time between two plain progress lines."""
REFRESH_S = 0.25
"""How often a terminal bar is redrawn between updates (spinner, ETA countdown)."""

Mode = Literal["bar", "lines", "off"]
_open: list[Progress] = []
"""Progress displays open now, innermost last: where notices go."""


def clock(seconds: float | None, decimals: int = 0) -> str:
    """m:ss (h:mm:ss from an hour) with `decimals` digits of the seconds: whole seconds are
    truncated, as a clock shows them, fractions rounded; an en dash for None or NaN."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    sign, scale = ("-" if seconds < 0 else ""), 10**decimals
    ticks = round(abs(seconds) * scale) if decimals else int(abs(seconds))
    whole, fraction = divmod(ticks, scale)
    hours, rest = divmod(whole, 3600)
    text = f"{rest % 60:02d}" + (f".{fraction:0{decimals}d}" if decimals else "")
    return f"{sign}{hours}:{rest // 60:02d}:{text}" if hours else f"{sign}{rest // 60}:{text}"


def display_mode(stream: TextIO, enabled: bool) -> Mode:
    """``"bar"`` on a terminal, ``"lines"`` otherwise, ``"off"`` when not `enabled`."""
    if not enabled:
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class Progress:
    """Progress of `total` units of work on `stream` (default stderr).

    `update(done, stage)` sets the work done so far (absolute, never decreasing); `write(text)`
    prints a line without breaking the bar; `close()` ends the display (a context manager
    does). Plain lines come at most every `interval_s` seconds (default `LINE_INTERVAL_S`; 0:
    at every update), and a last one at `close` when any came before.
    """

    def __init__(
        self,
        label: str,
        total: float,
        *,
        unit: str = "audio",
        enabled: bool = True,
        stream: TextIO | None = None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(float(total), 0.0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.mode = display_mode(self.stream, enabled)
        self.interval_s = LINE_INTERVAL_S if interval_s is None else interval_s
        self._clock = clock
        self._started = self._updated = self._printed = clock()
        self._done = 0.0
        self._stage = ""
        self._note = ""
        self._eta: float | None = None
        self._speed: float | None = None
        self._lines = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bar: Any = None
        self._ticker: threading.Thread | None = None
        if self.mode == "bar":
            self._bar = _make_bar(self.stream, label)
            self._draw(0)
            self._ticker = threading.Thread(target=self._tick, name="gpuaudio-progress",
                                            daemon=True)
            self._ticker.start()
        if self.mode != "off":
            _open.append(self)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def update(self, done: float, stage: str | None = None, note: str | None = None) -> None:
        """`done` units finished so far (clipped to [previous, total]); `stage` says what runs
        now, `note` adds text after the figures (both kept until changed)."""
        if self.mode == "off":
            return
        now = self._clock()
        with self._lock:
            self._done = min(max(float(done), self._done), self.total)
            self._stage = self._stage if stage is None else stage
            self._note = self._note if note is None else note
            elapsed = now - self._started
            if self._done > 0 and elapsed > 0:
                self._speed = self._done / elapsed
                self._eta = (self.total - self._done) / self._speed
            self._updated = now
            if self.mode == "bar":
                self._draw(0)
            elif now - self._printed >= self.interval_s:
                self._print_line(now)

    def write(self, text: str) -> None:
        """Print `text` as a line of its own (above the bar on a terminal)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the display: clear the bar, or a last plain line when lines were printed."""
        if self in _open:
            _open.remove(self)
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self._bar is not None:
                self._bar.leave = False
                self._bar.close()
                self._bar = None
            elif self.mode == "lines" and self._lines and self._printed < self._updated:
                self._print_line(self._clock())

    # -- formatting --------------------------------------------------------------------------

    def figures(self, now: float) -> str:
        """Done / total, speed and ETA, e.g. ``1:30/10:00 audio, 35x real time, ETA 0:15``
        (speed and ETA as of the last update, the ETA counting down since; the time elapsed
        while nothing is done yet)."""
        speed = self._speed
        if self.unit == "audio":
            text = f"{clock(self._done)}/{clock(self.total)} audio"
            if speed is not None:
                text += f", {speed:.1f}x real time" if speed < 10 else f", {speed:.0f}x real time"
        else:
            text = f"{self._done:.0f}/{self.total:.0f} {self.unit}"
        if self._eta is None:  # nothing done yet: show that time passes
            eta = f"{clock(now - self._started)} elapsed"
        else:
            eta = f"ETA {clock(max(self._eta - (now - self._updated), 0.0))}"
        return ", ".join(part for part in (text, eta, self._note) if part)

    def _fraction(self) -> float:
        return self._done / self.total if self.total > 0 else 1.0

    def _print_line(self, now: float) -> None:
        stage = f" {self._stage}," if self._stage else ""
        print(f"gpuaudio: {self.label}:{stage} {100 * self._fraction():.0f}%, "
              f"{self.figures(now)}", file=self.stream, flush=True)
        self._printed = now
        self._lines += 1

    def _draw(self, turn: int) -> None:
        bar = self._bar
        stage = f" {self._stage}" if self._stage else ""
        bar.desc = f"{self.label} {SPINNER[turn % len(SPINNER)]}{stage}"
        bar.figures = self.figures(self._clock())
        bar.n = self._fraction() * 1000
        bar.refresh()

    def _tick(self) -> None:
        turn = 0
        while not self._stop.wait(REFRESH_S):
            turn += 1
            with self._lock:
                if self._bar is not None:
                    self._draw(turn)


def _make_bar(stream: TextIO, label: str) -> Any:
    """A tqdm bar of 1000 steps whose right side shows `figures` (set by `Progress`)."""
    from tqdm import tqdm

    class Bar(tqdm):  # type: ignore[misc]  # tqdm is untyped
        figures = ""

        @property
        def format_dict(self) -> dict[str, Any]:
            return {**super().format_dict, "figures": self.figures}

    return Bar(
        total=1000, desc=label, file=stream, dynamic_ncols=True, mininterval=0, leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {figures}",
    )


class NoticeHandler(logging.Handler):
    """Prints notices as ``gpuaudio: MESSAGE``: above the open progress bar when there is
    one, else straight on `stream` (default: stderr at the time)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        text = f"gpuaudio: {record.getMessage()}"
        if _open:
            _open[-1].write(text)
        else:
            print(text, file=self.stream or sys.stderr, flush=True)
