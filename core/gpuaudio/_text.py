"""Text from outside (file names, plugins' messages) made safe to print."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """`text` with control characters shown as escapes (``\\n``, ``\\x1b``): a file name (or a
    plugin's message) cannot forge an output line or send terminal escapes."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], str(text))
