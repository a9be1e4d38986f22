"""Tiny synthetic data sets shared by the renderer tests (rendered once per session, in-process)."""
from __future__ import annotations

import pytest

from reidfw.synthetic.cache import GENERATORS
from reidfw.synthetic.presets import synthetic_preset

TINY_SETTINGS = synthetic_preset("tiny")


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory):
    """kind -> root of a tiny generated set (workers=1: no process start-up cost)."""
    roots = {}
    base = tmp_path_factory.mktemp("synthetic")
    for kind, settings in TINY_SETTINGS.items():
        roots[kind] = GENERATORS[kind](base / kind, **settings, workers=1)
    return roots
