"""Deprecated alias of `gpuaudio.evaluation.metrics` (removed in 0.3)."""

from gpuaudio._moved import alias

alias(__name__)
