from __future__ import annotations

import pytest

from reidfw.data.datasets.market import MarketDataset
from reidfw.data.datasets.tracks import TrackDataset
from reidfw.data.datasets.unlabeled import UnlabeledDataset
from reidfw.data.formats.image_io import ImageReadError


def _corrupt(path):
    path.write_bytes(b"not an image at all")
    return path


def test_corrupt_track_image_raises_naming_the_file(tracks_root):
    bad = _corrupt(tracks_root / "t_a" / "1.png")
    ds = TrackDataset(tracks_root, None)
    index = next(i for i, (p, _) in enumerate(ds.samples) if p == bad)
    with pytest.raises(ImageReadError, match=str(bad)):
        ds[index]


def test_missing_market_image_raises_naming_the_file(market_root):
    ds = MarketDataset(market_root, "gallery", None)
    ds.images[0].path.unlink()
    with pytest.raises(ImageReadError, match=ds.images[0].path.name):
        ds[0]


def test_skip_mode_drops_bad_files_with_a_warning(tracks_root, flat_root):
    bad = _corrupt(tracks_root / "t_a" / "1.png")
    with pytest.warns(UserWarning, match=r"(?s)skipped 1 unreadable.*t_a/1\.png"):
        ds = TrackDataset(tracks_root, None, on_bad_image="skip")
    assert bad not in [p for p, _ in ds.samples] and len(ds) == 15
    # a track that falls below the minimum after skipping is dropped too
    _corrupt(tracks_root / "t_c" / "0.png")
    with pytest.warns(UserWarning, match="skipped 2"):
        assert "t_c" not in TrackDataset(tracks_root, None, on_bad_image="skip").track_ids

    _corrupt(flat_root / "00003.jpg")
    with pytest.warns(UserWarning, match="00003.jpg"):
        assert len(UnlabeledDataset(flat_root, on_bad_image="skip")) == 7


def test_unknown_mode_is_rejected(tracks_root):
    with pytest.raises(ValueError, match="on_bad_image must be one of"):
        TrackDataset(tracks_root, None, on_bad_image="ignore")
