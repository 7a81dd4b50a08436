"""gpuaudio.device.tf32_mode: strict fp32 or TF32 for one block, restored after, one thread at
a time, whichever of torch's two TF32 APIs the caller's program used."""

from __future__ import annotations

import threading

import pytest

from gpuaudio.device import tf32_mode

torch = pytest.importorskip("torch")
backends = torch.backends
conv = getattr(backends.cudnn, "conv", None)
if conv is None or not hasattr(conv, "fp32_precision"):
    pytest.skip("torch < 2.9 has only the legacy allow_tf32 flags", allow_module_level=True)
matmul = backends.cuda.matmul


@pytest.fixture(autouse=True)
def restore_switches():
    saved = (conv.fp32_precision, matmul.fp32_precision, backends.cudnn.rnn.fp32_precision)
    yield
    conv.fp32_precision, matmul.fp32_precision, backends.cudnn.rnn.fp32_precision = saved


def switches() -> tuple[str, str]:
    return conv.fp32_precision, matmul.fp32_precision


def test_strict_block_on_cuda_then_restored_with_the_new_api():
    conv.fp32_precision = matmul.fp32_precision = "tf32"
    with tf32_mode("cuda:0", enabled=False):
        assert switches() == ("ieee", "ieee")
        with tf32_mode("cuda", enabled=True):  # nested blocks (same thread) restore in turn
            assert switches() == ("tf32", "tf32")
        assert switches() == ("ieee", "ieee")
    assert switches() == ("tf32", "tf32")


def test_a_program_that_set_the_new_api_does_not_break_the_block():
    # cuDNN conv and RNN now differ: torch raises if anyone reads the legacy flag, which is
    # what the nnaudio plugin used to do.
    conv.fp32_precision = "ieee"
    with pytest.raises(RuntimeError, match="mix of the legacy and new APIs"):
        _ = backends.cudnn.allow_tf32
    with tf32_mode("cuda", enabled=True):
        assert switches() == ("tf32", "tf32")
    assert conv.fp32_precision == "ieee"


def test_a_program_that_set_the_legacy_flags_keeps_them():
    backends.cudnn.allow_tf32 = matmul.allow_tf32 = True
    with tf32_mode("cuda", enabled=False):
        assert switches() == ("ieee", "ieee")
    assert backends.cudnn.allow_tf32 is True and matmul.allow_tf32 is True


def test_cpu_blocks_change_nothing():
    before = switches()
    with tf32_mode("cpu", enabled=before[0] != "tf32"):
        assert switches() == before


def test_switches_are_restored_when_the_block_raises():
    conv.fp32_precision = matmul.fp32_precision = "tf32"
    with pytest.raises(ValueError, match="inside"), tf32_mode("cuda", enabled=False):
        raise ValueError("inside")
    assert switches() == ("tf32", "tf32")


def test_a_second_thread_waits_for_the_first_block_to_end():
    inside, release, second_inside = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[str, str]] = []

    def first():
        with tf32_mode("cuda", enabled=False):
            inside.set()
            release.wait(10)
            seen.append(switches())  # still strict: the other thread did not get in

    def second():
        inside.wait(10)
        with tf32_mode("cuda", enabled=True):
            second_inside.set()
            seen.append(switches())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert inside.wait(10)
    assert not second_inside.wait(0.3)  # blocked while the first block runs
    release.set()
    for thread in threads:
        thread.join(10)
    assert seen == [("ieee", "ieee"), ("tf32", "tf32")]
