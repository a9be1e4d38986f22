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


def test_moment_positives_pair_two_crops_of_one_person(flat_root):
    import torch

    from reidfw.model_input import to_model_input

    names = sorted(p.name for p in flat_root.glob("*.jpg"))
    # crops 0 and 1 are one person, 2 and 3 another; the rest have no second moment
    (flat_root / "moments.csv").write_text("path,person\n" + "".join(f"{n},{i // 2 if i < 4 else 'solo' + str(i)}\n"
                                                                     for i, n in enumerate(names)))
    spec = InputSpec(size=(64, 32))
    off = dict(crop_scale=(1.0, 1.0), color_jitter_p=0, gray_p=0, blur_p=0, flip_p=0, erasing_p=0)
    ds = UnlabeledDataset(flat_root, build_transform("contrastive", spec, **off), positives="moment")
    assert ds.others[0] == [1] and ds.others[3] == [2] and ds.others[5] == []
    item = ds[0]
    from reidfw.data.formats.image_io import read_image

    assert torch.equal(item["view1"], to_model_input(read_image(flat_root / names[0]), spec))
    assert torch.equal(item["view2"], to_model_input(read_image(flat_root / names[1]), spec))  # the other moment
    solo = ds[5]
    assert torch.equal(solo["view1"], solo["view2"])  # no other moment: the crop itself
    (flat_root / "moments.csv").unlink()
    with pytest.raises(ValueError, match="moments.csv"):
        UnlabeledDataset(flat_root, build_transform("contrastive", spec), positives="moment")
