"""The one error every checkpoint loader raises.

A checkpoint can fail in many ways (absent, truncated, the wrong network, an unsafe
pickle); callers catch a single type whose message says which file, what kind of file was
expected there, what was actually found, and how to fix it.
"""
from __future__ import annotations

from reidfw.errors import SourceError


class CheckpointError(SourceError, RuntimeError):
    """A file (or MLflow run) could not be loaded as a reidfw embedding model."""
