"""Market-1501-layout sets: one split, and query + gallery together for validation."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from reidfw.data.datasets.bad_images import check_on_bad_image, drop_unreadable
from reidfw.data.formats.image_io import read_image
from reidfw.data.formats.market import JUNK_PID, MarketImage, read_market_split


def _read(root: Path, split: str, keep_junk: bool, on_bad_image: str) -> list[MarketImage]:
    images = read_market_split(root, split)
    if not keep_junk:
        # pid -1 marks junk detections; Market-1501 evaluation protocols leave them out
        images = [m for m in images if m.pid != JUNK_PID]
    if check_on_bad_image(on_bad_image) == "skip":
        images = drop_unreadable(images, lambda m: m.path, f"market {root} {split}")
    if not images:
        raise ValueError(f"market {root}: split {split!r} has no usable images")
    return images


class MarketDataset(Dataset):
    """One split (train / query / gallery); items ``{"image", "pid", "camid", "path"}``.

    ``pid`` is the original person id (0 = distractor), not a contiguous label.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        transform: Callable | None = None,
        keep_junk: bool = False,
        on_bad_image: str = "raise",
    ):
        self.root, self.split, self.transform = Path(root), split, transform
        self.images = _read(self.root, split, keep_junk, on_bad_image)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        m = self.images[index]
        return {**_item(m, self.transform), "path": str(m.path)}


class RetrievalSet(Dataset):
    """Query then gallery of a Market-layout root; items ``{"image", "pid", "camid", "is_query"}``.

    The validation batch format of every reidfw method: embed all, split by
    ``is_query``, score with ``evaluate_retrieval``.
    """

    def __init__(self, root: str | Path, transform: Callable | None = None, on_bad_image: str = "raise"):
        self.root, self.transform = Path(root), transform
        query = _read(self.root, "query", False, on_bad_image)
        gallery = _read(self.root, "gallery", False, on_bad_image)
        self.images: list[MarketImage] = query + gallery
        self.num_query = len(query)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return {**_item(self.images[index], self.transform), "is_query": index < self.num_query}


def _item(m: MarketImage, transform: Callable | None) -> dict:
    image = read_image(m.path)
    return {"image": transform(image) if transform else image, "pid": m.pid, "camid": m.camera}
