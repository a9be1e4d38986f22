"""MoCo v2 (He et al. 2020; Chen et al. 2020): the paper's "MoCo model" (Fu et al.'s LUPerson recipe).

Train batches: ``{"view1": (B, 3, H, W), "view2": (B, 3, H, W)}``, two augmentations of
the same crops (view1 -> queries, view2 -> positive keys).

- query encoder: ``self.backbone`` + ``self.head_q`` (MLP embed_dim -> proj_hidden -> proj_dim);
- key encoder: ``self.backbone_k`` + ``self.head_k``, frozen copies updated by EMA
  ``θ_k <- m·θ_k + (1 − m)·θ_q`` every step before the keys are computed (parameters only;
  the key encoder's BN running statistics come from its own forward passes, as in MoCo);
- ``self.queue``: :class:`~reidfw.losses.infonce.MoCoQueue` of past keys (the negatives);
  under DDP every process's keys are gathered before they enter it, so the queues stay
  identical across ranks;
- validation and export use ``self.backbone`` alone (GAP embedding), not the projection.

BatchNorm leakage (``shuffle_bn``): with one BN over a batch, a query and its key share
batch statistics and the network can match them through that channel.
- Under DDP (world size > 1): shuffle BN as in MoCo — gather the key inputs of all
  processes, permute them with a permutation broadcast from rank 0, run the key encoder
  on this process's shard of the permuted batch, gather the keys and undo the permutation.
- On a single device: the BN layers of *both* encoders are SplitBatchNorm with
  ``split_bn_groups`` groups, emulating that many GPUs as MoCo's own single-GPU recipe does
  (each emulated GPU normalises its own queries and, after the shuffle, someone else's keys),
  and the key batch is randomly permuted before the forward pass and restored after it, so
  key sub-batches do not follow the loader's order (a P×K sampler would otherwise put one
  identity in one group). With one group there is nothing to shuffle between: a warning says so.
"""
from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from reidfw.errors import ConfigValueError
from reidfw.losses.infonce import MoCoQueue, info_nce
from reidfw.methods import distributed as D
from reidfw.methods.base import ReIDMethod
from reidfw.methods.split_bn import convert_split_bn, set_num_splits

log = logging.getLogger(__name__)

# Warn when the queue holds more than this fraction of the training set: the queue then
# contains keys of the current images themselves (from earlier epochs), i.e. false negatives.
QUEUE_FRACTION_WARN = 0.5


def projection_head(in_dim: int, hidden: int, out_dim: int, batch_norm: bool = False) -> nn.Sequential:
    """MoCo v2's MLP head: Linear -> ReLU -> Linear; with ``batch_norm`` SimCLR's and MoCo v3's
    Linear -> BN -> ReLU -> Linear -> BN (no affine), which centres the projections.

    Why it matters on a short schedule: a freshly initialised network maps every crop to nearly
    the same direction (cosine ~0.99), so InfoNCE starts from collapsed projections and spends
    its first hundreds of steps spreading them; the BN spreads them from the first step."""
    if not batch_norm:
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))
    return nn.Sequential(nn.Linear(in_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out_dim, bias=False), nn.BatchNorm1d(out_dim, affine=False))


class MoCoMethod(ReIDMethod):
    method_name = "moco"

    def __init__(
        self,
        backbone: Any,
        proj_dim: int,
        proj_hidden: int,
        queue_size: int,
        momentum: float,
        temperature: float,
        optimizer: dict,
        proj_bn: bool = False,
        shuffle_bn: bool = True,
        split_bn_groups: int = 1,
        input: dict | None = None,
        scheduler: dict | None = None,
    ):
        super().__init__(backbone, optimizer, input, scheduler)
        self.head_q = projection_head(self.embed_dim, proj_hidden, proj_dim, batch_norm=proj_bn)
        if shuffle_bn and split_bn_groups > 1:
            # Same parameter/buffer names as nn.BatchNorm: the EMA pairing, export and checkpoints are
            # unaffected, and in eval mode (validation, export) a SplitBatchNorm is exactly a BatchNorm.
            self.backbone = convert_split_bn(self.backbone, split_bn_groups)
            self.head_q = convert_split_bn(self.head_q, split_bn_groups)
        self.backbone_k = copy.deepcopy(self.backbone)
        self.head_k = copy.deepcopy(self.head_q)
        for p in self._key_params():  # after the conversion, which creates new BN parameters
            p.requires_grad_(False)
        self.queue = MoCoQueue(proj_dim, queue_size)
        q_shapes = [p.shape for p in self._query_params()]
        k_shapes = [p.shape for p in self._key_params()]
        assert q_shapes == k_shapes, "key encoder parameters must pair one-to-one with the query encoder's"

    def complete_hparams(self, hp: dict[str, Any]) -> dict[str, Any]:
        if not 0.0 <= hp["momentum"] < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {hp['momentum']} (the recipe: conf/loss/moco.yaml).")
        if not hp["temperature"] > 0:
            raise ConfigValueError(
                f"loss.temperature={hp['temperature']}", "an InfoNCE temperature tau > 0 (MoCo v2: 0.07)",
                f"{hp['temperature']}", "set loss.temperature= to a positive value (the recipe: conf/loss/moco.yaml)",
            )
        if hp["queue_size"] < 1 or hp["proj_dim"] < 1 or hp["proj_hidden"] < 1:
            raise ValueError("queue_size, proj_dim and proj_hidden must be positive integers.")
        if hp["split_bn_groups"] < 1:
            raise ValueError(f"split_bn_groups must be >= 1 (1 disables split BN), got {hp['split_bn_groups']}.")
        return hp

    # ----- encoders ----------------------------------------------------------------------------
    def _query_params(self) -> list[torch.Tensor]:
        return [*self.backbone.parameters(), *self.head_q.parameters()]

    def _key_params(self) -> list[torch.Tensor]:
        return [*self.backbone_k.parameters(), *self.head_k.parameters()]

    @torch.no_grad()
    def momentum_update(self) -> None:
        """θ_k <- m·θ_k + (1 − m)·θ_q for every key-encoder parameter."""
        m = float(self.hparams.momentum)
        k_params = self._key_params()
        torch._foreach_mul_(k_params, m)
        torch._foreach_add_(k_params, [p.detach() for p in self._query_params()], alpha=1.0 - m)

    def encode_query(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head_q(self.backbone(images)), dim=1)

    @torch.no_grad()
    def _encode_key(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head_k(self.backbone_k(images)), dim=1)

    @torch.no_grad()
    def compute_keys(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys for this process's ``images`` and the keys of all processes (rank order).

        Returns (local keys (B, proj_dim), all keys (world·B, proj_dim)); on one process both are the same.
        """
        shuffle = bool(self.hparams.shuffle_bn)
        if D.world_size() == 1:
            if not shuffle:
                k = self._encode_key(images)
                return k, k
            perm = torch.randperm(images.shape[0], device=images.device)
            k_shuffled = self._encode_key(images[perm])
            k = torch.empty_like(k_shuffled)
            k[perm] = k_shuffled  # restore the loader's order
            return k, k
        if not shuffle:
            k = self._encode_key(images)
            return k, D.concat_all_gather(k)
        # Shuffle BN across processes.
        x_all, sizes = D.gather_with_sizes(images)
        perm = D.broadcast(torch.randperm(x_all.shape[0], device=images.device), src=0)
        start = sum(sizes[: D.rank()])
        shard = perm[start : start + sizes[D.rank()]]  # which global samples this process encodes
        k_shuffled, _ = D.gather_with_sizes(self._encode_key(x_all[shard]))
        k_all = torch.empty_like(k_shuffled)
        k_all[perm] = k_shuffled  # k_shuffled[j] is the key of x_all[perm[j]]
        return k_all[start : start + images.shape[0]], k_all

    # ----- training --------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        # Under DDP shuffle BN replaces split BN (each process's BN already sees one shard).
        groups = 1 if D.world_size() > 1 else self.hparams.split_bn_groups
        for encoder in (self.backbone, self.head_q, self.backbone_k, self.head_k):
            set_num_splits(encoder, groups)
        if self.hparams.shuffle_bn and D.world_size() == 1 and self.hparams.split_bn_groups < 2:
            msg = (
                "MoCo: shuffle_bn is on but split_bn_groups=1 on a single device: every key is normalised with the "
                "statistics of the whole batch, its own query's included, so BN can leak which key is the positive "
                "and nothing is shuffled. Set loss.split_bn_groups to batch_size / 16 or more groups (>= 2), "
                "or train on several devices."
            )
            warnings.warn(msg, stacklevel=2)
            log.warning(msg)
        if self.hparams.shuffle_bn and any(isinstance(m, nn.SyncBatchNorm) for m in self.backbone_k.modules()):
            warnings.warn(
                "MoCo: the key encoder has SyncBatchNorm (Trainer(sync_batchnorm=True)), which shares statistics "
                "across all processes and undoes shuffle BN; train MoCo without sync_batchnorm.",
                stacklevel=2,
            )

    def on_train_start(self) -> None:
        n = self._train_set_size()
        size = int(self.hparams.queue_size)
        if n is not None and size > QUEUE_FRACTION_WARN * n:
            msg = (
                f"MoCo queue_size={size} is not much smaller than the {n} training images: the queue will hold "
                "keys of the very images being trained on (stale copies of each query's own positive act as "
                f"negatives). Use queue_size <= {max(1, int(QUEUE_FRACTION_WARN * n))}, e.g. about 10% of the data "
                f"({max(1, n // 10)})."
            )
            warnings.warn(msg, stacklevel=2)
            log.warning(msg)

    def _train_set_size(self) -> int | None:
        """Number of training samples if the loader tells us, else None."""
        try:
            dl = self.trainer.train_dataloader
            if hasattr(dl, "dataset"):
                return len(dl.dataset)
            nb, bs = self.trainer.num_training_batches, getattr(dl, "batch_size", None)
            if bs and nb != float("inf"):
                return int(nb) * int(bs) * self.trainer.world_size
        except (TypeError, AttributeError, RuntimeError):
            pass  # iterable datasets without length: nothing to compare against
        return None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if "view1" not in batch or "view2" not in batch:
            raise KeyError(
                f"MoCo train batches must be dicts with 'view1' and 'view2' (two augmentations of each crop); "
                f"got keys {sorted(batch)}. Use a two-view transform in the datamodule."
            )
        x1, x2 = batch["view1"], batch["view2"]
        q = self.encode_query(x1)
        self.momentum_update()
        k, k_all = self.compute_keys(x2)
        # The queue is read again in backward, after enqueue() has overwritten part of it: pass a copy.
        loss, logits, _ = info_nce(q, k, self.queue.keys.clone(), tau=float(self.hparams.temperature))
        self.queue.enqueue(k_all)
        acc = (logits.argmax(dim=1) == 0).float().mean()  # instance discrimination: positive ranked first
        self.log_train(loss, x1.shape[0], acc=acc)
        return loss
