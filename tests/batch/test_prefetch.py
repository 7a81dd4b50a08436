"""Inside a worker the next recording is hashed and decoded on a thread while the current one
is analysed (issue 12, item 4), through a bounded queue."""

from __future__ import annotations

import threading

import numpy as np

import gpuaudio.analysis.report as report_module
import gpuaudio.audio_io as audio_io
from gpuaudio.batch import run_batch
from gpuaudio.batch.inputs import WorkItem
from gpuaudio.batch.task import PREFETCH_BLOCKS, _Decoder


def test_next_recording_is_decoded_while_the_current_one_is_analysed(
    archive, tmp_path, monkeypatch
):
    events: list[tuple[str, str, str]] = []
    second_decoding = threading.Event()
    real_stream, real_analyze = audio_io.stream_audio, report_module.analyze_to_folder

    def stream(path, *args, **kwargs):
        events.append(("decode", str(path).rsplit("/", 2)[-2], threading.current_thread().name))
        if len(events) > 1:
            second_decoding.set()
        yield from real_stream(path, *args, **kwargs)

    def analyze(service, path, *args, **kwargs):
        name = str(path).rsplit("/", 2)[-2]
        events.append(("analyse", name, threading.current_thread().name))
        if name == "site1":  # the first recording waits until the next one is being decoded
            assert second_decoding.wait(timeout=20), "the next recording was not prefetched"
        result = real_analyze(service, path, *args, **kwargs)
        events.append(("done", name, threading.current_thread().name))
        return result

    monkeypatch.setattr(audio_io, "stream_audio", stream)
    monkeypatch.setattr(report_module, "analyze_to_folder", analyze)
    summary = run_batch([archive / "site1", archive / "site2"], tmp_path / "out", workers=1,
                        progress=False)
    assert summary.ok == 2
    order = [(kind, name) for kind, name, _ in events]
    assert order.index(("decode", "site2")) < order.index(("done", "site1"))
    decoders = {thread for kind, _, thread in events if kind == "decode"}
    analysers = {thread for kind, _, thread in events if kind != "decode"}
    assert decoders.isdisjoint(analysers) and all(t.startswith("decode ") for t in decoders)


def test_the_decoder_stays_a_bounded_number_of_blocks_ahead(tmp_path, monkeypatch):
    from gpuaudio import AudioFeatureService
    from gpuaudio.analysis.escalation import EscalationParams

    produced = []
    waiting = threading.Event()

    def stream(path, sr, *, channel=None, block_s):
        for index in range(10):
            produced.append(index)
            if len(produced) > PREFETCH_BLOCKS:
                waiting.set()
            yield np.full(4, index, dtype=np.float32)

    monkeypatch.setattr(audio_io, "stream_audio", stream)
    (tmp_path / "x.wav").write_bytes(b"any bytes")
    item = WorkItem(str(tmp_path / "x.wav"), "x")
    decoder = _Decoder(item, EscalationParams(), AudioFeatureService())
    assert len(decoder.sha256()) == 64
    assert waiting.wait(timeout=10)
    threading.Event().wait(0.3)  # time to run ahead, were it not bounded
    assert len(produced) <= PREFETCH_BLOCKS + 1
    blocks = list(decoder.blocks())
    assert [int(block[0]) for block in blocks] == list(range(10))

    cancelled = _Decoder(item, EscalationParams(), AudioFeatureService())
    cancelled.cancel()
    cancelled._thread.join(timeout=5)
    assert not cancelled._thread.is_alive()
