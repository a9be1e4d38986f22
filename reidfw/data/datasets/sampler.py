"""Identity-balanced P x K batches for metric learning (triplet, and ArcFace optionally).

Each batch holds ``p`` distinct identities with ``k`` images each, so every
anchor has ``k - 1`` positives and ``(p - 1) * k`` negatives in the batch.

Per epoch: identities are visited in a shuffled order, ``p`` at a time (a new
shuffle starts when the order runs out), and each identity hands out its images
from its own shuffled queue, ``k`` at a time, reshuffling when it runs dry; so
within an epoch images are drawn without replacement as far as possible.
Identities with fewer than ``k`` images are sampled with replacement.
An epoch has ``len(labels) // (p * k)`` batches (at least 1): about one pass
over the images. The order depends only on ``seed`` and the epoch
(:meth:`set_epoch`, which Lightning calls; without it each pass advances the
epoch by one), never on global random state.
Under DDP each of ``num_replicas`` ranks takes every ``num_replicas``-th batch of
the same stream (so pass the loader with ``use_distributed_sampler=False``).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class PKSampler(Sampler[list[int]]):
    def __init__(
        self,
        labels: Sequence[int],
        p: int,
        k: int,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        if p < 1 or k < 1:
            raise ValueError(f"PKSampler needs p >= 1 identities and k >= 1 images per identity, got p={p}, k={k}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        by_label: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            by_label[int(label)].append(index)
        if len(by_label) < p:
            raise ValueError(
                f"PKSampler: p={p} identities per batch but the data set has only {len(by_label)}; "
                f"lower sampler.p (and batch_size = p * k)"
            )
        self.p, self.k, self.seed = int(p), int(k), int(seed)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self._ids = sorted(by_label)
        self._indices = [np.asarray(by_label[i]) for i in self._ids]
        self._num_images = len(labels)
        self.epoch = 0

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def sampler(self) -> "PKSampler":
        # Lightning calls set_epoch on ``loader.sampler`` and ``loader.batch_sampler.sampler``,
        # not on the batch sampler itself; exposing ourselves here makes it reach us.
        return self

    def _total_batches(self) -> int:
        return max(self.num_replicas, self._num_images // self.batch_size)

    def __len__(self) -> int:
        return self._total_batches() // self.num_replicas

    def _take(self, rng: np.random.Generator, queues: list[list[int]], ident: int) -> list[int]:
        pool = self._indices[ident]
        if len(pool) < self.k:
            return rng.choice(pool, size=self.k, replace=True).tolist()
        if len(queues[ident]) < self.k:
            queues[ident] = rng.permutation(pool).tolist()
        taken, queues[ident] = queues[ident][: self.k], queues[ident][self.k :]
        return taken

    def __iter__(self) -> Iterator[list[int]]:
        # Each pass advances the epoch, so a plain loop that never calls set_epoch still
        # gets a new order every epoch; set_epoch(e) before a pass pins it to epoch e.
        epoch, self.epoch = self.epoch, self.epoch + 1
        rng = np.random.default_rng([self.seed, epoch])
        n_ids = len(self._ids)
        queues: list[list[int]] = [[] for _ in range(n_ids)]
        order: list[int] = []
        for b in range(len(self) * self.num_replicas):
            if len(order) >= self.p:
                chosen, order = order[: self.p], order[self.p :]
            else:
                # the pass over identities ends mid-batch: top up from a fresh shuffle,
                # skipping identities already in this batch (they go to the end of it)
                chosen = order
                fresh = [i for i in rng.permutation(n_ids).tolist() if i not in chosen]
                need = self.p - len(chosen)
                chosen, order = chosen + fresh[:need], fresh[need:] + chosen
            batch = [idx for ident in chosen for idx in self._take(rng, queues, ident)]
            if b % self.num_replicas == self.rank:
                yield batch
