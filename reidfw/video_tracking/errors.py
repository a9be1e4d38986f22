"""The one error type ``track.py`` turns into a single line (file or key + the fix), never a traceback."""
from __future__ import annotations


class TrackingInputError(ValueError):
    """Bad input for the tracking command: the message names the file or setting and says what to do."""
