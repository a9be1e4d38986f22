from __future__ import annotations

import pytest
import torch

from reidfw.data.datasets.market import MarketDataset, RetrievalSet
from reidfw.data.datasets.unlabeled import UnlabeledDataset
from reidfw.data.augment import build_transform
from reidfw.model_input import InputSpec


def test_market_split_items(market_root):
    ds = MarketDataset(market_root, "gallery", build_transform("evaluation", InputSpec(size=(64, 32))))
    assert len(ds) == 3 * 2 * 2  # junk pid -1 left out
    item = ds[0]
    assert set(item) == {"image", "pid", "camid", "path"}
    assert item["image"].shape == (3, 64, 32) and item["pid"] == 1 and item["camid"] in (1, 2)
    assert len(MarketDataset(market_root, "gallery", None, keep_junk=True)) == 13


def test_retrieval_set_is_query_then_gallery(market_root):
    ds = RetrievalSet(market_root, build_transform("evaluation", InputSpec(size=(64, 32))))
    assert ds.num_query == 3 and len(ds) == 3 + 12
    flags = [ds[i]["is_query"] for i in range(len(ds))]
    assert flags == [True] * 3 + [False] * 12
    assert set(ds[0]) == {"image", "pid", "camid", "is_query"}


def test_unlabeled_two_views(flat_root):
    ds = UnlabeledDataset(flat_root, build_transform("contrastive", InputSpec(size=(64, 32)), seed=0))
    item = ds[2]
    assert set(item) == {"view1", "view2", "index"} and item["index"] == 2
    assert item["view1"].shape == item["view2"].shape == (3, 64, 32)
    assert not torch.equal(item["view1"], item["view2"])


def test_unlabeled_empty_or_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        UnlabeledDataset(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not found"):
        UnlabeledDataset(tmp_path / "nowhere")


def test_unlabeled_needs_two_views(flat_root):
    ds = UnlabeledDataset(flat_root, build_transform("evaluation", InputSpec(size=(64, 32))))
    with pytest.raises(TypeError, match="TwoViews"):
        ds[0]
