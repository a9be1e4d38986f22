"""The one error every checkpoint loader raises, with a message a user can act on.

A checkpoint can fail in many ways (absent, truncated, the wrong network, an
unsafe pickle); callers catch a single type, and the message always says which
file, what kind of file was expected there, what was actually found, and how to
fix it.
"""
from __future__ import annotations

from pathlib import Path


class CheckpointError(RuntimeError):
    """A file (or MLflow run) could not be loaded as a reidfw embedding model."""

    def __init__(self, source: str | Path, expected: str, found: str, fix: str | None = None):
        self.source = str(source)
        self.expected = expected
        self.found = found
        self.fix = fix
        message = f"{self.source}: expected {expected}, but found {found}."
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)
