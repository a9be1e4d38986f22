"""Data set sizes for the demo (the whole demo set renders in about two minutes on 2 cores)
and tiny sizes for tests. Keys are the generators' keyword arguments."""
from __future__ import annotations

DEMO_SETTINGS: dict[str, dict] = {
    "tracks": {"seed": 0, "identities": 64, "per_identity": 16, "cameras": 4},
    "unlabeled": {"seed": 0, "count": 1000},
    "study": {"seed": 0, "per_condition": 5},
    "market": {"seed": 0, "identities": 100, "per_identity": 7, "cameras": 6},
}

TINY_SETTINGS: dict[str, dict] = {
    "tracks": {"seed": 0, "identities": 3, "per_identity": 3, "cameras": 2, "crop_height": 64},
    "unlabeled": {"seed": 0, "count": 6, "crop_height": 64},
    "study": {"seed": 0, "per_condition": 2, "crop_height": 48},
    "market": {"seed": 0, "identities": 4, "per_identity": 3, "cameras": 3, "distractors": 1, "junk": 1, "crop_height": 64},
}
