"""A flat folder of unlabeled person crops (LUPerson-style) for MoCo: two views per crop."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from reidfw.data.datasets.bad_images import check_on_bad_image, drop_unreadable
from reidfw.data.formats.image_io import IMAGE_SUFFIXES, list_images, read_image


class UnlabeledDataset(Dataset):
    """Items ``{"view1", "view2", "index"}``; ``transform(image)`` must return two views.

    The default transform is MoCo v2's two views at the paper's 384x128 input.
    """

    def __init__(self, root: str | Path, transform: Callable | None = None, on_bad_image: str = "raise"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"unlabeled image folder not found: {self.root}. Point train_root at a folder of person crops "
                f"or generate one with `python -m reidfw.synthetic unlabeled --out {self.root}`."
            )
        paths = list_images(self.root)
        if not paths:
            raise ValueError(
                f"no images ({', '.join(IMAGE_SUFFIXES)}) directly in {self.root}: UnlabeledDataset reads a flat "
                f"folder of person crops (sub-folders are not searched)."
            )
        if check_on_bad_image(on_bad_image) == "skip":
            paths = drop_unreadable(paths, lambda p: p, f"unlabeled {self.root}")
            if not paths:
                raise ValueError(f"every image in {self.root} is unreadable; replace the files")
        if transform is None:
            from reidfw.data.augment import build_transform
            from reidfw.model_input import InputSpec

            transform = build_transform("contrastive", InputSpec())
        self.transform = transform
        self.paths: list[Path] = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        views = self.transform(read_image(self.paths[index]))
        if not (isinstance(views, (tuple, list)) and len(views) == 2):
            raise TypeError(
                f"UnlabeledDataset needs a transform returning two views, got {type(views).__name__}; "
                f"wrap the pipeline in reidfw.data.augment.TwoViews"
            )
        return {"view1": views[0], "view2": views[1], "index": index}
