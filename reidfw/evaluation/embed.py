"""Images (path + optional box + optional mask) -> L2-normalised float32 embeddings.

The preprocessing is the paper's: crop to the person box, letterbox into the
model input keeping the aspect ratio, fill the rest with RGB (128, 128, 128).
With ``mask_background=True`` (the paper's Fig 13 proposal) every non-person
pixel is replaced by the same fill before the letterbox, so the network sees
the person on a neutral gray, whatever the background was.

Decoding, cropping and resizing run in DataLoader workers and hand over uint8
tensors; the float conversion and normalisation happen on the device. uint8
is a quarter of the bytes of float32 to copy, and the device does the
arithmetic for free while the workers decode the next batch — that is what
keeps the data path from being the bottleneck (see benchmarks/eval_throughput.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from reidfw.data.formats.image_io import read_image, read_mask
from reidfw.data.transforms.letterbox import PAPER_FILL, crop_box, letterbox


@dataclass(frozen=True)
class CropItem:
    """One image to embed: the file, the person box in it (x, y, w, h) and an optional person mask."""

    path: Path
    box: tuple[float, float, float, float] | None = None
    mask: Path | None = None


def as_crop_item(item: Any) -> CropItem:
    """Accept a path, a :class:`CropItem`, or anything with ``.path`` (StudyImage, MarketImage)."""
    if isinstance(item, CropItem):
        return item
    if isinstance(item, (str, os.PathLike)):
        return CropItem(Path(item))
    if hasattr(item, "path"):
        box = getattr(item, "box", None)
        return CropItem(Path(item.path), tuple(box) if box is not None else None, getattr(item, "mask", None))
    raise TypeError(f"cannot embed {item!r}: pass a path, a CropItem, or an object with a .path attribute")


def spec_input_size(spec: dict) -> tuple[int, int]:
    """(height, width) of the model input from a model spec."""
    try:
        h, w = spec["backbone"]["img_size"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"model spec has no backbone.img_size [H, W] ({e!r}); pass img_size= to load_embedding_model "
            f"or add it to the exported model JSON"
        ) from None
    return int(h), int(w)


def spec_normalization(spec: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) for RGB in [0, 1]; the reidfw default (ImageNet) when the spec does not say."""
    norm = (spec or {}).get("normalization") or {}
    if "mean" in norm and "std" in norm:
        return tuple(float(v) for v in norm["mean"]), tuple(float(v) for v in norm["std"])
    from reidfw.data.transforms.normalize import MEAN, STD  # lazy: written by the data engineer

    return tuple(MEAN), tuple(STD)


class CropDataset(Dataset):
    """Decode, crop, (mask) and letterbox one image; returns a uint8 (3, H, W) tensor.

    Runs in DataLoader workers, so it must stay picklable (plain fields only).
    """

    def __init__(self, items: Sequence[CropItem], size: tuple[int, int], fill=PAPER_FILL, mask_background: bool = False):
        self.items = list(items)
        self.size = (int(size[0]), int(size[1]))
        self.fill = tuple(int(v) for v in fill)
        self.mask_background = mask_background
        if mask_background:
            missing = [str(it.path) for it in self.items if it.mask is None]
            if missing:
                raise ValueError(
                    f"mask_background=True needs a person mask for every image, but {len(missing)} have none "
                    f"(first: {missing[0]}). Add 'mask' entries to the study manifest or set mask_background=false."
                )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        it = self.items[i]
        img = read_image(it.path)
        if self.mask_background:
            mask = read_mask(it.mask)
            if mask.shape != img.shape[:2]:
                raise ValueError(
                    f"mask {it.mask} is {mask.shape[1]}x{mask.shape[0]} but image {it.path} is "
                    f"{img.shape[1]}x{img.shape[0]}; a mask must cover its image pixel for pixel"
                )
            img = img.copy()
            img[~mask] = self.fill
        img = letterbox(crop_box(img, it.box), self.size, fill=self.fill)
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device} asked for but CUDA is not available here; use device=auto or device=cpu")
    return dev


def default_num_workers(device: torch.device | None = None) -> int:
    """Decoding workers: none on a CPU device, cores - 1 (at most 8) on a GPU.

    On a CPU the forward already uses every core through torch's intra-op threads, so a
    worker process only takes cores from it; decoding in line costs far less (measured on
    2 cores, ResNet18 384x128: whole/forward-only 0.94 in line vs 0.89 with one worker,
    ``benchmarks/eval_throughput.py``). On a GPU the workers overlap decoding with the forward.
    """
    if device is not None and torch.device(device).type == "cpu":
        return 0
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(8, n - 1))


class Embedder:
    """A model plus its input contract, ready to turn crops into features.

    ``model`` is moved to ``device`` and put in eval mode (in place). ``amp``
    runs the forward under autocast (bfloat16) — faster on GPUs, features are
    still returned as float32 and re-normalised. ``channels_last`` helps
    convolutional networks on GPUs with tensor cores. Both default (None) to
    on for a CUDA device and off on a CPU.
    """

    def __init__(
        self,
        model: nn.Module,
        spec: dict,
        device: str | torch.device = "auto",
        batch_size: int = 64,
        num_workers: int | None = None,
        channels_last: bool | None = None,
        amp: bool | None = None,
        fill=PAPER_FILL,
    ):
        self.device = resolve_device(device)
        on_gpu = self.device.type == "cuda"
        channels_last = on_gpu if channels_last is None else bool(channels_last)
        amp = on_gpu if amp is None else bool(amp)
        self.size = spec_input_size(spec)
        mean, std = spec_normalization(spec)
        # Folding /255 into the affine map: x = u8 * scale + shift, one fused op on the device.
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = (1.0 / (255.0 * std_t)).to(self.device)
        self._shift = (-mean_t / std_t).to(self.device)
        self.batch_size = int(batch_size)
        self.num_workers = default_num_workers(self.device) if num_workers is None else int(num_workers)
        self.channels_last = channels_last
        self.amp = amp
        self.fill = fill
        self.model = model.to(self.device).eval()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def loader(self, items: Iterable[Any], mask_background: bool = False) -> DataLoader:
        ds = CropDataset([as_crop_item(i) for i in items], self.size, self.fill, mask_background)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.num_workers > 0 else None,
        )

    @torch.inference_mode()
    def forward_batch(self, batch_u8: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) on any device -> L2-normalised float32 (B, D) on the device."""
        x = batch_u8.to(self.device, non_blocking=True).float().mul_(self._scale).add_(self._shift)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.model(x)
        if isinstance(out, (tuple, list)):  # some heads return (embedding, extras)
            out = out[0]
        return F.normalize(out.float().flatten(1), dim=1)

    def embed(self, items: Iterable[Any], mask_background: bool = False) -> np.ndarray:
        """Features (N, D) float32, rows L2-normalised, in the order of ``items``."""
        loader = self.loader(items, mask_background)
        if len(loader.dataset) == 0:
            raise ValueError("no images to embed: the list is empty (check the data root)")
        # Features stay on the device until the end: a .cpu() per batch would
        # synchronise and stall the copy of the next batch behind the forward.
        feats = [self.forward_batch(b) for b in loader]
        return torch.cat(feats).cpu().numpy()


def embed_images(model: nn.Module, spec: dict, items: Iterable[Any], mask_background: bool = False, **kwargs) -> np.ndarray:
    """One-shot :meth:`Embedder.embed`; ``kwargs`` go to :class:`Embedder`."""
    return Embedder(model, spec, **kwargs).embed(items, mask_background=mask_background)
