"""ReIDDataModule end to end on tiny generated folders: the batch formats the methods expect."""
from __future__ import annotations

from collections import Counter

import pytest
import torch

from reidfw.data.datasets.datamodule import ReIDDataModule
from reidfw.model_input import InputSpec

SIZE = (64, 32)


def _dm(**kw) -> ReIDDataModule:
    base = dict(input_spec=InputSpec(size=SIZE), batch_size=4, num_workers=0)
    return ReIDDataModule(**{**base, **kw})


def test_tracks_and_market_batches(tracks_root, market_root):
    dm = _dm(train_root=tracks_root, val_root=market_root, transform={"erasing_p": 1.0})
    with pytest.raises(RuntimeError, match=r"setup\('fit'\)"):
        dm.num_classes
    dm.prepare_data()
    dm.setup("fit")
    assert dm.num_classes == 4
    train = dm.train_dataloader()
    assert len(train) == 16 // 4  # drop_last
    batch = next(iter(train))
    assert set(batch) == {"image", "label", "path"}
    assert batch["image"].shape == (4, 3, *SIZE) and batch["image"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and len(batch["path"]) == 4

    val = dm.val_dataloader()
    batches = list(val)
    vb = batches[0]
    assert set(vb) == {"image", "pid", "camid", "is_query"}
    assert vb["image"].shape[1:] == (3, *SIZE) and vb["is_query"].dtype == torch.bool
    is_query = torch.cat([b["is_query"] for b in batches])
    assert is_query.tolist() == [True] * 3 + [False] * 12  # query first, not shuffled
    assert torch.cat([b["pid"] for b in batches]).tolist()[:3] == [1, 2, 3]

    dm.setup("fit")  # Lightning calls it again: the sets are kept
    assert dm.train_set is train.dataset.dataset  # the loader reads it through KeyedDataset


def test_pk_sampler_batches(tracks_root):
    dm = _dm(train_root=tracks_root, sampler={"name": "pk", "p": 2, "k": 2}, seed=3)
    dm.setup("fit")
    loader = dm.train_dataloader()
    for batch in loader:
        counts = Counter(batch["label"].tolist())
        assert len(counts) == 2 and set(counts.values()) == {2}
    with pytest.raises(ValueError, match="p \\* k"):
        _dm(train_root=tracks_root, sampler={"name": "pk", "p": 3, "k": 2})
    with pytest.raises(ValueError, match="needs identity labels"):
        _dm(train_kind="unlabeled", train_root=tracks_root, sampler={"name": "pk", "p": 2, "k": 2})


def test_unlabeled_batches(flat_root):
    dm = _dm(train_kind="unlabeled", train_root=flat_root, transform={"recipe": "luperson"})
    dm.setup("fit")
    assert dm.num_classes is None
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"view1", "view2", "index"}
    assert batch["view1"].shape == batch["view2"].shape == (4, 3, *SIZE)
    assert dm.val_dataloader() == []  # no validation set configured


def test_configuration_errors(tracks_root):
    with pytest.raises(ValueError, match="train_kind"):
        _dm(train_kind="labels", train_root=tracks_root)
    with pytest.raises(ValueError, match="train_root"):
        _dm()
    with pytest.raises(ValueError, match="sampler.name"):
        _dm(train_root=tracks_root, sampler={"name": "balanced"})
    with pytest.raises(TypeError, match="no option"):
        _dm(train_root=tracks_root, transform={"blur_p": 0.5}).setup("fit")
