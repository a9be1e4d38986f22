"""Single-camera tracks as a labelled set: every track is one identity (the ArcFace data)."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from reidfw.data.datasets.bad_images import check_on_bad_image, drop_unreadable
from reidfw.data.formats.image_io import read_image
from reidfw.data.formats.tracks import read_tracks

log = logging.getLogger(__name__)


class TrackDataset(Dataset):
    """Items ``{"image": transform(crop), "label": int, "path": str}``.

    Labels are contiguous 0..C-1 over the kept tracks, in sorted track-id order.
    Tracks with fewer than ``min_images_per_identity`` crops are dropped: a class
    seen once teaches a margin loss nothing about intra-class variation and
    cannot form a positive pair. The crops are already person crops (the table's
    bbox is the box in the camera frame), so images are used whole.
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable | None = None,
        min_images_per_identity: int = 2,
        on_bad_image: str = "raise",
    ):
        self.root = Path(root)
        self.transform = transform
        crops = read_tracks(self.root)
        if check_on_bad_image(on_bad_image) == "skip":
            crops = drop_unreadable(crops, lambda c: c.path, f"tracks {self.root}")
        by_track: dict[str, list[Path]] = defaultdict(list)
        for c in crops:
            by_track[c.track_id].append(c.path)
        kept = sorted(t for t, paths in by_track.items() if len(paths) >= min_images_per_identity)
        n_dropped = len(by_track) - len(kept)
        log.info(
            "tracks %s: %d identities kept, %d dropped with fewer than %d images",
            self.root, len(kept), n_dropped, min_images_per_identity,
        )  # fmt: skip
        if not kept:
            raise ValueError(
                f"tracks {self.root}: none of its {len(by_track)} tracks has >= {min_images_per_identity} images; "
                f"lower min_images_per_identity or use longer tracks"
            )
        self.num_dropped_identities = n_dropped
        self.track_ids: list[str] = kept  # label -> track id
        self.samples: list[tuple[Path, int]] = [(p, label) for label, t in enumerate(kept) for p in by_track[t]]
        self.labels: list[int] = [label for _, label in self.samples]

    @property
    def num_classes(self) -> int:
        return len(self.track_ids)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        path, label = self.samples[index]
        image = read_image(path)
        return {"image": self.transform(image) if self.transform else image, "label": label, "path": str(path)}
