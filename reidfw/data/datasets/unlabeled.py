"""A flat folder of unlabeled person crops (LUPerson-style) for MoCo: two views per crop.

``positives="crop"`` (MoCo's instance discrimination): both views are augmentations of the same
crop. ``positives="moment"``: the second view is another crop of the same person a moment
later in the same video, when the folder says which crops those are -- ``moments.csv``
(``path,person``: e.g. a tracker's track id) or the ``person`` field the synthetic generator
writes in ``metadata.jsonl``. Two augmentations of one crop share its exact background,
noise and compression, which tell instances apart as well as the person does; two moments
share only the person (and the camera). A crop whose person has no other moment falls back
to itself.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from reidfw.data.datasets.bad_images import check_on_bad_image, drop_unreadable
from reidfw.data.formats.image_io import IMAGE_SUFFIXES, list_images, read_image


class UnlabeledDataset(Dataset):
    """Items ``{"view1", "view2", "index"}``; ``transform(image)`` must return two views.

    The default transform is MoCo v2's two views at the paper's 384x128 input.
    """

    def __init__(self, root: str | Path, transform: Callable | None = None, on_bad_image: str = "raise",
                 positives: str = "crop"):
        if positives not in ("crop", "moment"):
            raise ValueError(f"positives must be 'crop' (two views of one crop) or 'moment' (two moments of one person), got {positives!r}")
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
        self.positives = positives
        self.others: list[list[int]] = [[] for _ in paths]  # per crop: the other crops of its person
        if positives == "moment":
            self.others = _moments(self.root, paths)
        self._pick_seed: int | None = None

    def seed_sample(self, seed: int) -> None:
        """Pick the next item's other moment from ``seed`` (``reidfw.data.datasets.epoch_keys``: resumable)."""
        self._pick_seed = int(seed)

    def _pick(self, n: int) -> int:
        if self._pick_seed is not None:
            return int(np.random.default_rng(self._pick_seed).integers(n))
        return int(torch.randint(n, ()))  # seeded per DataLoader worker and epoch, so runs repeat

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        image = read_image(self.paths[index])
        others = self.others[index]
        if others:
            other = read_image(self.paths[others[self._pick(len(others))]])
            if not (hasattr(self.transform, "view1") and hasattr(self.transform, "view2")):
                raise TypeError("positives='moment' needs a TwoViews transform (its view1 / view2 pipelines)")
            return {"view1": self.transform.view1(image), "view2": self.transform.view2(other), "index": index}
        views = self.transform(image)
        if not (isinstance(views, (tuple, list)) and len(views) == 2):
            raise TypeError(
                f"UnlabeledDataset needs a transform returning two views, got {type(views).__name__}; "
                f"wrap the pipeline in reidfw.data.augment.TwoViews"
            )
        return {"view1": views[0], "view2": views[1], "index": index}


def _moments(root: Path, paths: list[Path]) -> list[list[int]]:
    """For each crop, the indices of the other crops of its person (moments.csv, else metadata.jsonl)."""
    person: dict[str, str] = {}
    table, meta = root / "moments.csv", root / "metadata.jsonl"
    if table.is_file():
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            if not {"path", "person"} <= set(reader.fieldnames or []):
                raise ValueError(f"{table} needs the columns path,person (which crops show the same person)")
            person = {r["path"]: r["person"] for r in reader}
    elif meta.is_file():
        for line in meta.read_text().splitlines():
            m = json.loads(line)
            if "person" in m and "path" in m:
                person[m["path"]] = str(m["person"])
    if not person:
        raise ValueError(
            f"positives='moment' needs to know which crops show the same person: write {table} "
            "(columns path,person, e.g. a tracker's track id) or use positives='crop'"
        )
    by_person: dict[str, list[int]] = {}
    keys = [person.get(p.relative_to(root).as_posix()) for p in paths]
    for i, k in enumerate(keys):
        if k is not None:
            by_person.setdefault(k, []).append(i)
    return [[j for j in by_person.get(k, []) if j != i] if k is not None else [] for i, k in enumerate(keys)]
