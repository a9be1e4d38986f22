"""ensure_dataset renders once, into a folder named by the settings, and never leaves half sets."""
from __future__ import annotations

import pytest

import reidfw.synthetic.cache as cache
from reidfw.synthetic.presets import synthetic_preset

DEMO_SETTINGS, TINY_SETTINGS = synthetic_preset("demo"), synthetic_preset("tiny")


def test_second_call_returns_the_same_folder_without_rendering(tmp_path, monkeypatch):
    settings = dict(TINY_SETTINGS["unlabeled"], count=2)
    first = cache.ensure_dataset("unlabeled", settings, tmp_path)
    assert first.is_dir() and (first / cache.DATASET_INFO).is_file()

    def must_not_render(*a, **k):
        raise AssertionError("re-rendered a cached set")

    monkeypatch.setitem(cache.GENERATORS, "unlabeled", must_not_render)
    assert cache.ensure_dataset("unlabeled", settings, tmp_path) == first
    assert cache.ensure_dataset("unlabeled", dict(settings, workers=2), tmp_path) == first   # workers: same pixels
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == [first.name]  # + the render lock


def test_settings_and_kind_change_the_folder():
    a = cache.dataset_key("unlabeled", {"seed": 0, "count": 2})
    assert a != cache.dataset_key("unlabeled", {"seed": 1, "count": 2})
    assert a != cache.dataset_key("tracks", {"seed": 0, "count": 2})
    assert a == cache.dataset_key("unlabeled", {"count": 2, "seed": 0})


def test_interrupted_generation_leaves_no_finished_looking_folder(tmp_path, monkeypatch):
    def crash(out, **k):
        out.mkdir(parents=True)
        (out / "half.jpg").write_bytes(b"x")
        raise KeyboardInterrupt

    monkeypatch.setitem(cache.GENERATORS, "unlabeled", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.ensure_dataset("unlabeled", {"seed": 0, "count": 2}, tmp_path)
    assert [p for p in tmp_path.iterdir() if p.suffix != ".lock"] == []


def test_unknown_kind_or_setting_is_explained(tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        cache.ensure_dataset("cuhk", {}, tmp_path)
    with pytest.raises(TypeError, match="valid keys"):
        cache.ensure_dataset("unlabeled", {"seed": 0, "identities": 3}, tmp_path)


def test_demo_settings_cover_every_kind():
    assert set(DEMO_SETTINGS) == set(cache.GENERATORS)
