"""Images (path + optional box + optional mask) -> L2-normalised float32 embeddings.

The preprocessing is the model's input spec through :mod:`reidfw.model_input`: crop to the
person box, letterbox keeping the aspect ratio into the spec's fill, normalise. With
``mask_background=True`` (the paper's Fig 13 proposal) every non-person pixel is replaced
by the fill first, so the network sees the person on a neutral gray whatever the background.

Decoding, cropping and letterboxing (:func:`reidfw.model_input.prepare`) run in DataLoader
workers and hand over uint8 tensors; :func:`reidfw.model_input.normalize` runs on the device.
uint8 is a quarter of the bytes of float32 to copy, and the device does the arithmetic for
free while the workers decode the next batch (see benchmarks/eval_throughput.py).

Two options act on the model input, never on the crop path itself:

- ``flip_tta``: the classic flip test-time augmentation -- the embedding is the mean of the
  model's outputs for the input and for its mirror image (then L2-normalised);
- ``canonicalize=<orientation estimator>``: the paper's flip proposal -- each input whose person
  the estimator reads as facing the other half-circle, yaw in (180, 360), is mirrored before the
  forward, so every crop is embedded facing [0, 180]. The estimator sees the crop through its own
  input spec (the same prepare path), batched on the device. With ``flip_tta`` as well, the
  canonicalisation changes nothing (the mean of an input and its mirror is mirror-invariant).
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

from reidfw.checkpoints.model_spec import input_spec_of, validate_model_spec
from reidfw.data.formats.image_io import read_image, read_mask
from reidfw.model_input import InputSpec, Normalizer, prepare, to_chw_tensor


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


class CropDataset(Dataset):
    """Decode, (mask), crop and letterbox one image; returns a uint8 (3, H, W) tensor.

    Runs in DataLoader workers, so it must stay picklable (plain fields only).
    """

    def __init__(self, items: Sequence[CropItem], spec: InputSpec, mask_background: bool = False,
                 orientation_spec: InputSpec | None = None):
        self.items = list(items)
        self.spec = spec
        self.mask_background = mask_background
        # With an orientation estimator: its own input of the same crop, returned beside the model's.
        self.orientation_spec = orientation_spec
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
        image = read_image(it.path)
        mask = read_mask(it.mask) if self.mask_background else None
        try:
            x = to_chw_tensor(prepare(image, self.spec, it.box, mask))
            if self.orientation_spec is None:
                return x
            return x, to_chw_tensor(prepare(image, self.orientation_spec, it.box, mask))
        except ValueError as e:
            from reidfw.data.formats.study_manifest import ManifestError  # one-argument: survives a worker

            raise ManifestError(
                f"{it.path}: {e}. Fix: correct its 'box' (x, y, w, h in this image's pixels) or 'mask' in the study "
                f"manifest, or remove them to use the whole image"
            ) from None


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


PROGRESS_FROM_IMAGES = 2000  # a Market-size gallery takes minutes on a CPU: show it; a study's images take seconds


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
        flip_tta: bool = False,
        canonicalize=None,
    ):
        self.device = resolve_device(device)
        on_gpu = self.device.type == "cuda"
        channels_last = on_gpu if channels_last is None else bool(channels_last)
        amp = on_gpu if amp is None else bool(amp)
        self.input_spec = input_spec_of(validate_model_spec(spec, source="the model spec given to Embedder"))
        self.size = self.input_spec.size
        self._normalize = Normalizer(self.input_spec)
        self.batch_size = int(batch_size)
        self.num_workers = default_num_workers(self.device) if num_workers is None else int(num_workers)
        self.channels_last = channels_last
        self.amp = amp
        self.model = model.to(self.device).eval()
        self.flip_tta = bool(flip_tta)
        self.canonicalize = canonicalize.to(self.device) if canonicalize is not None else None
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def loader(self, items: Iterable[Any], mask_background: bool = False) -> DataLoader:
        orientation_spec = self.canonicalize.spec if self.canonicalize is not None else None
        ds = CropDataset([as_crop_item(i) for i in items], self.input_spec, mask_background, orientation_spec)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.num_workers > 0 else None,
        )

    @torch.inference_mode()
    def forward_batch(self, batch_u8: torch.Tensor, orientation_u8: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 (B, 3, H, W) on any device -> L2-normalised float32 (B, D) on the device.

        ``orientation_u8``: the same crops as the orientation estimator's inputs (needed with
        ``canonicalize``)."""
        x = self._normalize(batch_u8.to(self.device, non_blocking=True))
        if self.canonicalize is not None:
            if orientation_u8 is None:
                raise ValueError("canonicalize needs the orientation estimator's inputs of the batch (orientation_u8)")
            flip = self.other_half(orientation_u8)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        out = self._forward(x)
        if self.flip_tta:
            out = (out + self._forward(x.flip(-1))) / 2
        return F.normalize(out, dim=1)

    def other_half(self, orientation_u8: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the estimator reads the person as facing (180, 360)."""
        from reidfw.orientation import in_other_half

        yaw = self.canonicalize.predict_u8(orientation_u8.to(self.device, non_blocking=True))
        return torch.as_tensor(in_other_half(yaw.cpu().numpy()), device=self.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's embedding of normalised inputs, float32 (B, D), not normalised."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.model(x)
        if isinstance(out, (tuple, list)):  # some heads return (embedding, extras)
            out = out[0]
        return out.float().flatten(1)

    def embed(self, items: Iterable[Any], mask_background: bool = False, progress: bool | None = None,
              desc: str = "embedding") -> np.ndarray:
        """Features (N, D) float32, rows L2-normalised, in the order of ``items``.

        ``progress``: a bar on stderr (``desc``, images done); None shows it from
        ``PROGRESS_FROM_IMAGES`` images on (a gallery; a study's few hundred take seconds)."""
        from tqdm import tqdm

        loader = self.loader(items, mask_background)
        n = len(loader.dataset)
        if n == 0:
            raise ValueError("no images to embed: the list is empty (check the data root)")
        bar = tqdm(total=n, desc=desc, unit="img", dynamic_ncols=True, mininterval=1.0,
                   disable=not (n >= PROGRESS_FROM_IMAGES if progress is None else progress))
        # Features stay on the device until the end: a .cpu() per batch would
        # synchronise and stall the copy of the next batch behind the forward.
        feats = []
        with bar:
            for b in loader:
                feats.append(self.forward_batch(*b) if isinstance(b, (tuple, list)) else self.forward_batch(b))
                bar.update(len(feats[-1]))
        return torch.cat(feats).cpu().numpy()


def embed_images(model: nn.Module, spec: dict, items: Iterable[Any], mask_background: bool = False, **kwargs) -> np.ndarray:
    """One-shot :meth:`Embedder.embed`; ``kwargs`` go to :class:`Embedder`."""
    return Embedder(model, spec, **kwargs).embed(items, mask_background=mask_background)
