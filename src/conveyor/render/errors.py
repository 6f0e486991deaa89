"""The one error a render raises: it becomes a ComparisonError condition on that one app.

A person fixing a broken repository needs to know which file and which line, so the error
carries both (the file relative to the app path, the line 1-based) and its text starts with
them, as compilers do: ``overlays/dev/kustomization.yaml:3: mapping values are not allowed``.

``cacheable`` says whether the same inputs would fail the same way: a YAML syntax error at a
commit fails forever and may be cached; a missing binary or a time limit may pass and must not be.
"""

from __future__ import annotations

from conveyor.errors import PermanentError


class RenderError(PermanentError):
    """Manifests could not be rendered; the message says where and what to fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        cacheable: bool = True,
    ) -> None:
        where = f"{file}:{line}" if file and line else file
        super().__init__(message, obj=where)
        self.file = file
        self.line = line
        self.cacheable = cacheable

    def clone(self) -> RenderError:
        """A fresh instance with the same content, to raise again from a cache."""
        return RenderError(self.message, file=self.file, line=self.line, cacheable=self.cacheable)
