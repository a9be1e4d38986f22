"""The errors reidfw shows a user: one line naming the file (or key), what was expected
there, what was found, and the fix.

Entry points (train.py, evaluate.py, ...) print a :class:`ReidfwError` as that one line
instead of a traceback; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class ReidfwError(Exception):
    """A mistake in what the user gave reidfw (a file, a key, a value), explained in one line."""


class SourceError(ReidfwError):
    """``<source>: expected <expected>, but found <found>. Fix: <fix>``."""

    def __init__(self, source: str | Path, expected: str, found: str, fix: str | None = None):
        self.source = str(source)
        self.expected = expected
        self.found = found
        self.fix = fix
        message = f"{self.source}: expected {expected}, but found {found}."
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)


class ConfigValueError(SourceError, ValueError):
    """A config value out of range: ``<key>=<value>: expected ..., but found ... Fix: ...``."""


class DataFormatError(SourceError, ValueError):
    """A data file or folder (tracks.csv, a Market-1501 folder) not in its documented format."""
