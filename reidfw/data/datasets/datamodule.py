"""``ReIDDataModule``: training crops (tracks or unlabeled) + Market-layout validation.

Roots are folders (train.py first renders the embedded synthetic sets into its cache when a
config leaves a root unset; see ``reidfw.training.run.data_roots``).

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
from reidfw.config_values import to_plain
from reidfw.errors import ConfigValueError
from reidfw.data.augment import build_transform
from reidfw.model_input import InputSpec

TRAIN_KINDS = {"tracks": "supervised", "unlabeled": "contrastive"}  # train kind -> transform kind
SAMPLERS = ("random", "pk")
# the synthetic generator each role reads (names of reidfw.synthetic's generators)


class ReIDDataModule(pl.LightningDataModule):
    def __init__(
        self,
        train_kind: str = "tracks",
        train_root: str | Path | None = None,
        val_root: str | Path | None = None,
        input_spec: InputSpec | Mapping | None = None,
        transform: Mapping | None = None,
        batch_size: int = 64,
        val_batch_size: int | None = None,
        num_workers: int = 4,
        sampler: Mapping | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = False,
        min_images_per_identity: int = 2,
        positives: str = "crop",
        on_bad_image: str = "raise",
        seed: int = 0,
        canonicalize=None,
    ):
        """
        input_spec: the model input (``reidfw.model_input.InputSpec`` or its dict), the same for
            train and val; default the paper's 384x128 ImageNet-normalised input.
        transform: options of the train transform (``build_transform(kind, spec, **transform)``;
            "supervised" for tracks, "contrastive" for unlabeled).
        positives: unlabeled data only: "crop" (two views of one crop, MoCo's instance task) or "moment"
            (the second view another moment of the same person; see ``UnlabeledDataset``).
        sampler: ``{"name": "random"}`` (default) or ``{"name": "pk", "p": P, "k": K}`` with
            P * K == batch_size (either of p / k may be left out and is derived).
        pin_memory: None = when CUDA is available.
        canonicalize: an orientation estimator (``reidfw.orientation``): training crops facing the
            other half-circle are mirrored first, and the recipe's random flip is off. Validation
            inputs are never changed.
        """
        super().__init__()
        if train_kind not in TRAIN_KINDS:
            raise ValueError(f"train_kind must be one of {sorted(TRAIN_KINDS)}, got {train_kind!r}")
        if train_root is None:
            raise ValueError("give train_root, the folder of the training set")
        self.train_kind = train_kind
        self.train_root, self.val_root = train_root, val_root
        if input_spec is None:
            input_spec = InputSpec()
        self.input_spec = input_spec if isinstance(input_spec, InputSpec) else InputSpec.from_dict(to_plain(input_spec))
        self.transform_options = dict(to_plain(transform) or {})
        if not int(batch_size) >= 1:
            raise ConfigValueError(
                f"data.batch_size={batch_size}", "at least one image per batch", f"{batch_size}",
                "set data.batch_size= to a positive number (the recipes: conf/data/)",
            )
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.min_images_per_identity = int(min_images_per_identity)
        self.positives = positives
        self.on_bad_image = check_on_bad_image(on_bad_image)
        self.seed = int(seed)
        self.canonicalize = canonicalize
        self.sampler_name, self.p, self.k = self._sampler_spec(dict(to_plain(sampler) or {}))
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

    @property
    def has_val(self) -> bool:
        return self.val_root is not None

    # ---- Lightning hooks ------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None) and self.train_set is None:
            root = Path(self.train_root).expanduser()
            options = dict(self.transform_options)
            if self.canonicalize is not None:
                options["canonicalize"] = self.canonicalize
            t = build_transform(TRAIN_KINDS[self.train_kind], self.input_spec, **options)
            if self.train_kind == "tracks":
                self.train_set = TrackDataset(root, t, self.min_images_per_identity, self.on_bad_image)
            else:
                self.train_set = UnlabeledDataset(root, t, self.on_bad_image, positives=self.positives)
        if stage in ("fit", "validate", None) and self.val_set is None and self.has_val:
            root = Path(self.val_root).expanduser()
            t = build_transform("evaluation", self.input_spec)
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
