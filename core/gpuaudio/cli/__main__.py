"""``python -m gpuaudio.cli``: the same as the ``gpuaudio`` command."""

import sys

from gpuaudio.cli.main import main

sys.exit(main())
