"""Unexpected exceptions logged without the values held in their frames.

The console renderer may format tracebacks with the local variables of every frame, and the
kubelet's frames hold resolved environments (Secret values). So the kubelet never logs with
``exc_info``: it logs the exception's type and message and a plain traceback of file names,
line numbers and source lines, which carry no runtime values.
"""

from __future__ import annotations

import traceback
from typing import Any


def log_failure(logger: Any, event: str, exc: BaseException, **fields: Any) -> None:
    """Log ``exc`` at error level as ``event`` with ``fields``, without frame locals."""
    frames = traceback.extract_tb(exc.__traceback__)
    logger.error(
        event,
        error=f"{type(exc).__name__}: {exc}",
        traceback="".join(traceback.format_list(frames)).rstrip(),
        **fields,
    )
