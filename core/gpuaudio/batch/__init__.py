"""Archives of recordings: the per-recording task, the engines that run it and the archive tables.
Imports the framework and the analysis layer, never evaluation or the CLI.

``run_batch(inputs, out_dir, ...)`` is the entry point (``gpuaudio batch`` on the command line);
see docs/batch.md.
"""

from gpuaudio.batch.run import BatchSummary, run_batch

__all__ = ["BatchSummary", "run_batch"]
