"""Old module paths kept for one release: each is an alias of the module's new home.

`gpuaudio.escalation` (say) imports its new module, warns once with a `DeprecationWarning`
naming the new path, and replaces itself in `sys.modules`, so every name (and monkeypatching)
reaches the one real module. Removed in 0.3; listed in CHANGELOG.md.
"""

from __future__ import annotations

import importlib
import sys
import warnings

MOVED_MODULES = {
    "gpuaudio.escalation": "gpuaudio.analysis.escalation",
    "gpuaudio.streaming": "gpuaudio.analysis.streaming",
    "gpuaudio.report": "gpuaudio.analysis.report",
    "gpuaudio.synth": "gpuaudio.evaluation.synth",
    "gpuaudio.speechset": "gpuaudio.evaluation.speechset",
    "gpuaudio.metrics": "gpuaudio.evaluation.metrics",
    "gpuaudio.bench": "gpuaudio.evaluation.bench",
}
"""Old path -> new path, for one release (0.2)."""


def alias(old: str) -> None:
    """Make module `old` an alias of its new home, with a DeprecationWarning."""
    new = MOVED_MODULES[old]
    warnings.warn(
        f"{old} moved to {new}; the old path is removed in gpuaudio 0.3",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)
