"""Deprecated alias of `gpuaudio.analysis.escalation` (removed in 0.3)."""

from gpuaudio._moved import alias

alias(__name__)
