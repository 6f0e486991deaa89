"""Conveyor's error taxonomy: whether to retry decides how an error is handled.

    ConveyorError
    ├── PermanentError          retrying changes nothing; report it and stop
    │   ├── ValidationError     bad input from outside: a manifest, a flag, a request body
    │   ├── NotFoundError       the object or artifact asked for does not exist
    │   └── ConflictError       the request contradicts what exists (e.g. a tag already built)
    └── TemporaryError(delay)   may succeed later; retry after ``delay`` seconds

Every error names the object involved (``obj``) and says what to do about it.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Base of every error Conveyor raises on purpose."""

    def __init__(self, message: str, *, obj: str | None = None) -> None:
        super().__init__(f"{obj}: {message}" if obj else message)
        self.message = message
        self.obj = obj


class PermanentError(ConveyorError):
    """Retrying will not help: the input or the state must change first."""


class ValidationError(PermanentError):
    """Input from outside is malformed; the message names the field and the fix."""


class NotFoundError(PermanentError):
    """The thing asked for does not exist."""


class ConflictError(PermanentError):
    """The request contradicts existing state."""


class TemporaryError(ConveyorError):
    """A failure that may pass; ``delay`` is how long to wait before retrying."""

    def __init__(self, message: str, *, obj: str | None = None, delay: float = 5.0) -> None:
        super().__init__(message, obj=obj)
        self.delay = delay
