"""``ReIDDataModule``: training crops (tracks or unlabeled) + Market-layout validation.

Each root is either a path or ``None`` plus a ``{"kind", "settings"}`` spec for a
synthetic set, which ``reidfw.data.synthetic.cache.ensure_dataset`` generates
once into ``synthetic_cache_dir`` and returns the root of.

The ArcFace head needs the class count before ``trainer.fit``, so call
``dm.prepare_data(); dm.setup("fit")`` first and read ``dm.num_classes``; setup
is idempotent, Lightning's own call later reuses the built sets.

Batches:
- train, tracks:    ``{"image": (B,3,H,W), "label": (B,), "path": list[str]}``
- train, unlabeled: ``{"view1": (B,3,H,W), "view2": (B,3,H,W), "index": (B,)}``
- val:              ``{"image": (B,3,H,W), "pid": (B,), "camid": (B,), "is_query": (B,) bool}``
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from reidfw.data.datasets.bad_images import check_on_bad_image
from reidfw.data.datasets.epoch_keys import KeyedBatches, KeyedDataset, ShuffleSampler
from reidfw.data.datasets.market import RetrievalSet
from reidfw.data.datasets.sampler import PKSampler
from reidfw.data.datasets.tracks import TrackDataset
from reidfw.data.datasets.unlabeled import UnlabeledDataset
from reidfw.data.transforms.factory import build_transform
from reidfw.data.transforms.normalize import MEAN, STD

TRAIN_KINDS = {"tracks": "supervised", "unlabeled": "contrastive"}  # train kind -> transform kind
SAMPLERS = ("random", "pk")
# the synthetic generator each role reads (names of reidfw.data.synthetic's generators)
_SYNTHETIC_KIND = {"tracks": "tracks", "unlabeled": "unlabeled", "val": "market"}
DEFAULT_CACHE_DIR = Path("~/.cache/reidfw/synthetic")


def _plain(obj):
    """Hydra hands over DictConfig/ListConfig; give the generator plain Python types."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(obj, (DictConfig, ListConfig)):
            return OmegaConf.to_container(obj, resolve=True)
    except ImportError:  # omegaconf comes with hydra; without it there is nothing to convert
        pass
    return obj


class ReIDDataModule(pl.LightningDataModule):
    def __init__(
        self,
        train_kind: str = "tracks",
        train_root: str | Path | None = None,
        val_root: str | Path | None = None,
        train_synthetic: Mapping | None = None,
        val_synthetic: Mapping | None = None,
        synthetic_cache_dir: str | Path = DEFAULT_CACHE_DIR,
        img_size=(384, 128),
        transform: Mapping | None = None,
        mean=MEAN,
        std=STD,
        batch_size: int = 64,
        val_batch_size: int | None = None,
        num_workers: int = 4,
        sampler: Mapping | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = False,
        min_images_per_identity: int = 2,
        on_bad_image: str = "raise",
        seed: int = 0,
    ):
        """
        transform: options of the train transform (``build_transform(kind, img_size, **transform)``;
            "supervised" for tracks, "contrastive" for unlabeled); mean/std apply to train and val.
        sampler: ``{"name": "random"}`` (default) or ``{"name": "pk", "p": P, "k": K}`` with
            P * K == batch_size (either of p / k may be left out and is derived).
        pin_memory: None = when CUDA is available.
        """
        super().__init__()
        if train_kind not in TRAIN_KINDS:
            raise ValueError(f"train_kind must be one of {sorted(TRAIN_KINDS)}, got {train_kind!r}")
        if train_root is None and train_synthetic is None:
            raise ValueError("give train_root (a folder) or train_synthetic ({kind, settings}) for the training set")
        self.train_kind = train_kind
        self.train_root, self.val_root = train_root, val_root
        self.train_synthetic, self.val_synthetic = _plain(train_synthetic), _plain(val_synthetic)
        self.synthetic_cache_dir = Path(synthetic_cache_dir).expanduser()
        self.img_size = tuple(int(v) for v in img_size)
        self.transform_options = dict(_plain(transform) or {})
        self.mean, self.std = tuple(mean), tuple(std)
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.min_images_per_identity = int(min_images_per_identity)
        self.on_bad_image = check_on_bad_image(on_bad_image)
        self.seed = int(seed)
        self.sampler_name, self.p, self.k = self._sampler_spec(dict(_plain(sampler) or {}))
        self.train_set: TrackDataset | UnlabeledDataset | None = None
        self.val_set: RetrievalSet | None = None
        # The epoch the next train loader starts at: 0, or the resumed checkpoint's next epoch.
        self._start_epoch = 0
        self._train_sampler: ShuffleSampler | KeyedBatches | None = None

    # ---- configuration checks -------------------------------------------------------------
    def _sampler_spec(self, spec: dict) -> tuple[str, int | None, int | None]:
        name = spec.pop("name", "random")
        if name not in SAMPLERS:
            raise ValueError(f"sampler.name must be one of {SAMPLERS}, got {name!r}")
        if name == "random":
            return name, None, None
        if self.train_kind != "tracks":
            raise ValueError("sampler 'pk' needs identity labels; train_kind 'unlabeled' has none: use 'random'")
        p, k = spec.pop("p", None), spec.pop("k", None)
        if spec:
            raise ValueError(f"unknown sampler option(s) {sorted(spec)}; pk takes p and k")
        if p is None and k is None:
            k = 4
        if p is None:
            p = self.batch_size // int(k)
        if k is None:
            k = self.batch_size // int(p)
        p, k = int(p), int(k)
        if p < 1 or k < 1 or p * k != self.batch_size:
            raise ValueError(
                f"sampler pk gives batches of p * k = {p} * {k} = {p * k} images but batch_size is "
                f"{self.batch_size}; set batch_size to p * k or change p / k"
            )
        return name, p, k

    def _resolve(self, root, synthetic, role: str) -> Path:
        if root is not None:
            return Path(root).expanduser()
        spec = dict(synthetic)
        if set(spec) - {"kind", "settings"} or "kind" not in spec:
            raise ValueError(f"the {role} synthetic spec must be {{kind, settings}}, got keys {sorted(spec)}")
        if spec["kind"] != _SYNTHETIC_KIND[role]:
            raise ValueError(
                f"the {role} set needs synthetic kind {_SYNTHETIC_KIND[role]!r}, got {spec['kind']!r}"
            )
        # imported here: the generators are heavy and not needed when every root is a folder
        from reidfw.data.synthetic.cache import ensure_dataset

        return Path(ensure_dataset(spec["kind"], dict(spec.get("settings") or {}), self.synthetic_cache_dir))

    @property
    def has_val(self) -> bool:
        return self.val_root is not None or self.val_synthetic is not None

    # ---- Lightning hooks ------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate synthetic sets (once, rank 0); folders given as roots are left alone."""
        if self.train_root is None:
            self._resolve(None, self.train_synthetic, self.train_kind)
        if self.val_root is None and self.val_synthetic is not None:
            self._resolve(None, self.val_synthetic, "val")

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None) and self.train_set is None:
            root = self._resolve(self.train_root, self.train_synthetic, self.train_kind)
            t = build_transform(
                TRAIN_KINDS[self.train_kind], self.img_size, mean=self.mean, std=self.std, **self.transform_options
            )
            if self.train_kind == "tracks":
                self.train_set = TrackDataset(root, t, self.min_images_per_identity, self.on_bad_image)
            else:
                self.train_set = UnlabeledDataset(root, t, self.on_bad_image)
        if stage in ("fit", "validate", None) and self.val_set is None and self.has_val:
            root = self._resolve(self.val_root, self.val_synthetic, "val")
            t = build_transform("evaluation", self.img_size, mean=self.mean, std=self.std)
            self.val_set = RetrievalSet(root, t, self.on_bad_image)

    @property
    def num_classes(self) -> int | None:
        """Identities in the training tracks (sizes the ArcFace head); None for unlabeled data."""
        if self.train_set is None:
            raise RuntimeError(
                "num_classes is known after dm.setup('fit'); call dm.prepare_data(); dm.setup('fit') first"
            )
        return self.train_set.num_classes if isinstance(self.train_set, TrackDataset) else None

    def _loader_kwargs(self) -> dict:
        return dict(
            num_workers=self.num_workers, pin_memory=self.pin_memory, persistent_workers=self.persistent_workers
        )

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_dataloader(self) -> DataLoader:
        """Batches fixed by (seed, epoch, index) alone: see ``reidfw.data.datasets.epoch_keys``."""
        if self.train_set is None:
            self.setup("fit")
        keyed = KeyedDataset(self.train_set, self.seed)
        # Only the workers' base seed comes from this generator (augmentation is keyed per sample);
        # a private one keeps the global torch RNG, which the model draws from, untouched.
        generator = torch.Generator().manual_seed(self.seed)
        if self.sampler_name == "pk":
            replicas, rank = self._rank()
            batches = PKSampler(self.train_set.labels, self.p, self.k, seed=self.seed, num_replicas=replicas, rank=rank)
            self._train_sampler = KeyedBatches(batches, epoch=self._start_epoch)
            return DataLoader(keyed, batch_sampler=self._train_sampler, generator=generator, **self._loader_kwargs())
        if len(self.train_set) < self.batch_size:
            raise ValueError(
                f"the training set has {len(self.train_set)} images, fewer than batch_size={self.batch_size}; "
                f"with drop_last there would be no batch: lower batch_size"
            )
        self._train_sampler = ShuffleSampler(len(self.train_set), self.seed, epoch=self._start_epoch)
        return DataLoader(
            keyed,
            batch_size=self.batch_size,
            sampler=self._train_sampler,
            drop_last=True,  # a short last batch breaks MoCo's queue size and batch-hard mining
            generator=generator,
            **self._loader_kwargs(),
        )

    # ---- resume state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Saved in every checkpoint: the epoch a resumed loader starts at (the one after the
        pass under way; checkpoints are written at the end of an epoch).

        Lightning restores this before it first builds the train loader; its own epoch counter
        comes back only later, after the first batch is already fetched.
        """
        sampler = self._train_sampler
        if sampler is None or sampler.pass_epoch is None:
            return {"train_epoch": self._start_epoch}
        return {"train_epoch": sampler.pass_epoch + 1}

    def load_state_dict(self, state: dict) -> None:
        self._start_epoch = int(state.get("train_epoch", 0))
        if self._train_sampler is not None:
            self._train_sampler.set_epoch(self._start_epoch)

    def val_dataloader(self):
        """The RetrievalSet loader (query then gallery, not shuffled); [] when no val set is configured."""
        if not self.has_val:
            return []
        if self.val_set is None:
            self.setup("validate")
        return DataLoader(self.val_set, batch_size=self.val_batch_size, shuffle=False, **self._loader_kwargs())
