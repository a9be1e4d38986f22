"""Training batches as a pure function of (seed, epoch, sample index).

A run killed after epoch ``e`` and resumed from its checkpoint must see the batches the
uninterrupted run would have seen. Two things used to depend on process history instead:

- the order: one ``torch.Generator`` seeded once per process drove ``shuffle=True``, so a
  fresh process restarted at epoch 0's order (and worker seeds);
- the augmentations: each pipeline's random state advanced sample by sample in the main
  process (``num_workers=0``), or was reseeded from the workers' base seed, itself drawn
  from that generator.

Here the sampler yields :class:`SampleKey` ``(epoch, index)`` pairs instead of bare
indices. The order of an epoch comes from ``(seed, epoch)`` alone; :class:`KeyedDataset`
reseeds the transform from ``(seed, epoch, index)`` before each sample. Nothing depends on
which process, worker or iterator draws a sample, or on what ran before — so the number
of workers no longer changes the result either. The epoch a fresh loader starts at is part
of the resume state (``ReIDDataModule.state_dict``): Lightning builds the first iterator
before it restores its loop counters.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class SampleKey(NamedTuple):
    epoch: int
    index: int


def derive_seed(*parts: int) -> int:
    """A 32-bit seed from several integers; nearby inputs give unrelated seeds."""
    return int(np.random.SeedSequence([int(p) % 2**63 for p in parts]).generate_state(1)[0])


class ShuffleSampler(Sampler[SampleKey]):
    """A new random order of ``range(n)`` every epoch, fixed by ``(seed, epoch)``.

    As :class:`~reidfw.data.datasets.sampler.PKSampler`: each pass advances the epoch, and
    ``set_epoch(e)`` (Lightning calls it before every epoch) pins the next pass to ``e``.
    """

    def __init__(self, n: int, seed: int = 0, epoch: int = 0):
        self.n, self.seed, self.epoch = int(n), int(seed), int(epoch)
        self.pass_epoch: int | None = None  # the epoch of the pass begun last

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[SampleKey]:
        epoch = self.pass_epoch = self.epoch
        self.epoch += 1
        g = torch.Generator().manual_seed(derive_seed(self.seed, epoch))
        for i in torch.randperm(self.n, generator=g).tolist():
            yield SampleKey(epoch, i)


class KeyedBatches(Sampler[list[SampleKey]]):
    """Wraps a batch sampler of plain indices (a P x K sampler) so its batches carry the epoch."""

    def __init__(self, batches: Any, epoch: int = 0):
        self.batches, self.epoch = batches, int(epoch)
        self.pass_epoch: int | None = None

    @property
    def sampler(self) -> "KeyedBatches":
        # Lightning calls set_epoch on ``loader.batch_sampler.sampler``: make that us.
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        epoch = self.pass_epoch = self.epoch
        self.epoch += 1
        self.batches.set_epoch(epoch)
        for batch in self.batches:
            yield [SampleKey(epoch, int(i)) for i in batch]


def seed_transform(transform: Any, seed: int) -> None:
    """Reseed a reidfw transform (a Pipeline or TwoViews: anything with ``seed_sample``)."""
    reseed = getattr(transform, "seed_sample", None)
    if reseed is None:
        raise TypeError(
            f"{type(transform).__name__} cannot be reseeded per sample; training transforms must be reidfw "
            f"Pipelines (reidfw.data.augment.build_transform) or TwoViews of them"
        )
    reseed(seed)


class KeyedDataset(Dataset):
    """``dataset[SampleKey(epoch, i)]`` = ``dataset[i]`` augmented with randomness from ``(seed, epoch, i)``."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: SampleKey | Sequence[int]) -> Any:
        epoch, index = key
        transform = getattr(self.dataset, "transform", None)
        seed = derive_seed(self.seed, epoch, index)
        if transform is not None:
            seed_transform(transform, seed)
        if hasattr(self.dataset, "seed_sample"):  # its own draws (MoCo's other moment)
            self.dataset.seed_sample(derive_seed(seed, 1))
        return self.dataset[index]
