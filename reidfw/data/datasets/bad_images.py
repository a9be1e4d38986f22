"""What a dataset does with a crop that cannot be read.

``"raise"`` (default): nothing is checked up front; the first unreadable file
fails the run with :class:`ImageReadError` naming it, so no data is lost silently.
``"skip"``: every file is decoded once at construction (slow for millions of
crops, hence opt-in) and the unreadable ones are dropped with a warning listing them.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

from reidfw.data.formats.image_io import ImageReadError, read_image

ON_BAD_IMAGE = ("raise", "skip")
_LISTED = 20  # files named in the warning; the rest are counted
log = logging.getLogger(__name__)
T = TypeVar("T")


def check_on_bad_image(mode: str) -> str:
    if mode not in ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image must be one of {ON_BAD_IMAGE}, got {mode!r}")
    return mode


def drop_unreadable(items: Sequence[T], path_of: Callable[[T], object], what: str) -> list[T]:
    """Keep the items whose image decodes; warn with the list of the others."""
    kept, bad = [], []
    for item in items:
        try:
            read_image(path_of(item))
        except ImageReadError as e:
            bad.append(str(e))
            continue
        kept.append(item)
    if bad:
        listed = "\n  ".join(bad[:_LISTED]) + (f"\n  ... and {len(bad) - _LISTED} more" if len(bad) > _LISTED else "")
        msg = f"{what}: skipped {len(bad)} unreadable image(s) of {len(items)} (on_bad_image='skip'):\n  {listed}"
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)
    return kept
