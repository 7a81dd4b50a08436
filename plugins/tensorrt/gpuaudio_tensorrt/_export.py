"""The CREPE network as an ONNX graph with a dynamic batch axis (no TensorRT needed here).

The precision is part of the graph: TensorRT 11 builds strongly typed networks only (its
FP16 builder flag is gone), so an fp16 engine is built from a graph whose weights, input and
output are fp16.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import torch

from gpuaudio_crepe._network import WINDOW_SIZE

__all__ = ["INPUT", "ONNX_OPSET", "OUTPUT", "export_onnx"]

ONNX_OPSET = 17
INPUT, OUTPUT = "frames", "salience"


def export_onnx(network: torch.nn.Module, example_batch: int = 2) -> bytes:
    """Serialised ONNX of `network`: (batch, 1024) frames -> (batch, 360) salience.

    The graph takes the dtype and device of the network's parameters. It is traced with the
    TorchScript exporter (``dynamo=False``, torch >= 2.5), which needs no onnxscript; the
    batch axis is dynamic, whatever `example_batch` is.
    """
    parameter = next(network.parameters())
    frames = torch.zeros(example_batch, WINDOW_SIZE, dtype=parameter.dtype, device=parameter.device)
    with tempfile.TemporaryDirectory(prefix="gpuaudio-onnx-") as folder, warnings.catch_warnings():
        path = Path(folder) / "crepe.onnx"
        # The exporter's deprecation notice and its constant-folding remarks on the padding.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (frames,),
            path,
            dynamo=False,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
        )
        return path.read_bytes()
