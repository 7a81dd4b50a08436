"""Deprecated alias of `gpuaudio.evaluation.synth` (removed in 0.3)."""

from gpuaudio._moved import alias

alias(__name__)
