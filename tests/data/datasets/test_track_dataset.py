from __future__ import annotations

import logging

import pytest
import torch

from reidfw.data.datasets.tracks import TrackDataset
from reidfw.data.augment import build_transform
from reidfw.model_input import InputSpec


def test_labels_contiguous_and_min_images_filter(tracks_root, caplog):
    with caplog.at_level(logging.INFO, logger="reidfw.data.datasets.tracks"):
        ds = TrackDataset(tracks_root, transform=None)
    assert "1 dropped" in caplog.text
    assert ds.track_ids == ["t_a", "t_b", "t_c", "t_d"]  # t_single has one image
    assert ds.num_classes == 4 and ds.num_dropped_identities == 1
    assert sorted(set(ds.labels)) == [0, 1, 2, 3]
    assert len(ds) == len(ds.labels) == 3 + 5 + 2 + 6
    counts = {c: ds.labels.count(c) for c in range(4)}
    assert counts == {0: 3, 1: 5, 2: 2, 3: 6}

    ds3 = TrackDataset(tracks_root, transform=None, min_images_per_identity=3)
    assert ds3.track_ids == ["t_a", "t_b", "t_d"] and sorted(set(ds3.labels)) == [0, 1, 2]
    assert TrackDataset(tracks_root, None, min_images_per_identity=1).num_classes == 5


def test_item_format(tracks_root):
    ds = TrackDataset(tracks_root, transform=build_transform("supervised", InputSpec(size=(64, 32))))
    item = ds[0]
    assert set(item) == {"image", "label", "path"}
    assert item["image"].shape == (3, 64, 32) and item["image"].dtype == torch.float32
    assert item["label"] == 0 and item["path"].endswith(".png") and "t_a" in item["path"]


def test_no_track_long_enough_says_what_to_do(tracks_root):
    with pytest.raises(ValueError, match="lower min_images_per_identity"):
        TrackDataset(tracks_root, None, min_images_per_identity=50)
