"""The ``gpuaudio`` command line (entry point ``gpuaudio.cli:main``); see `gpuaudio.cli.main`."""

from gpuaudio.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
