"""The limits on what a config may cost to read: one size for a config file and
for what its template renders (``--max-config-size``, or the environment).

>>> size_text(16 * 1024 * 1024), size_text(1536)
('16 MiB', '1536 bytes')
"""

from __future__ import annotations

#: The largest config file read, and template output rendered.
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
#: The environment variable that sets it (the flag wins).
MAX_SIZE_ENV = "DATAFLOW_RUNNER_MAX_CONFIG_SIZE"
#: How to raise it, for the messages that name it.
RAISE_IT = f"raise it with --max-config-size BYTES or {MAX_SIZE_ENV}"


def size_text(size: int) -> str:
    """A limit for messages: ``16 MiB``, ``64 KiB`` or ``1000 bytes``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
