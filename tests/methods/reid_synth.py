"""Tiny synthetic data and helpers for the method tests (module-level so ddp_spawn can pickle them)."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset

from reidfw.methods.moco import MoCoMethod

BACKBONE = {"name": "test_resnet", "kwargs": {}}  # timm's ~0.4M-parameter test ResNet
H, W = 64, 32
INPUT = {"size": [H, W]}
SGD = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}
# The methods hold no recipe defaults (conf/loss/ does): tests pass every value they rely on.
MOCO = dict(backbone=BACKBONE, input=INPUT, optimizer=SGD, proj_hidden=16, proj_dim=8, queue_size=12,
            momentum=0.9, temperature=0.2, split_bn_groups=2)


def identity_pattern(cls: int, n_classes: int) -> torch.Tensor:
    """A distinct colour + stripe pattern per identity, (3, H, W) in [0, 1]."""
    g = torch.Generator().manual_seed(1000 + cls)
    colour = torch.rand(3, 1, 1, generator=g)
    stripes = (torch.arange(H)[:, None] // (4 + 2 * cls) % 2).float().expand(H, W)
    return (0.6 * colour + 0.4 * stripes[None] * torch.rand(3, 1, 1, generator=g)).clamp(0, 1)


class IdentityImages(Dataset):
    """``n_classes`` identities × ``per_class`` noisy images: {"image", "label"}."""

    def __init__(self, n_classes: int = 4, per_class: int = 8, noise: float = 0.15, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n_classes).repeat_interleave(per_class)
        base = torch.stack([identity_pattern(c, n_classes) for c in range(n_classes)])
        self.images = (base[self.labels] + noise * torch.randn(len(self.labels), 3, H, W, generator=g) - 0.5) / 0.25

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.labels[i]}


class RetrievalImages(IdentityImages):
    """Validation set: per identity, the first 2 images are queries (camera 0), the rest gallery (camera 1)."""

    def __init__(self, n_classes: int = 4, per_class: int = 6, seed: int = 1):
        super().__init__(n_classes, per_class, seed=seed)
        self.is_query = (torch.arange(len(self.labels)) % per_class) < 2
        self.camid = (~self.is_query).long()

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "pid": self.labels[i], "camid": self.camid[i], "is_query": self.is_query[i], "index": torch.tensor(i)}


class TwoViews(Dataset):
    """``n`` random-pattern crops; each item returns two noisy views of the same crop."""

    def __init__(self, n: int = 32, noise: float = 0.2, seed: int = 0, offset: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        # smooth random blobs: low-res noise upsampled, so crops differ in layout and colour
        low = torch.rand(n, 3, 4, 2, generator=g)
        self.images = torch.nn.functional.interpolate(low, size=(H, W), mode="bilinear", align_corners=False) + offset
        self.noise = noise

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        x = self.images[i]
        return {"view1": x + self.noise * torch.randn_like(x), "view2": x + self.noise * torch.randn_like(x)}


class LossRecorder(pl.Callback):
    def __init__(self):
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


def fake_evaluate_retrieval(calls: list):
    """A stand-in for reidfw.evaluation.retrieval.evaluate_retrieval that records its inputs."""

    def evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, topk=None, use_faiss=True):
        calls.append(dict(qf=np.asarray(qf), q_pids=np.asarray(q_pids), q_cams=np.asarray(q_cams),
                          gf=np.asarray(gf), g_pids=np.asarray(g_pids), g_cams=np.asarray(g_cams)))
        sims = np.asarray(qf) @ np.asarray(gf).T
        top = np.asarray(g_pids)[sims.argmax(1)]
        r1 = float((top == np.asarray(q_pids)).mean())
        return {"mAP": r1, "rank1": r1, "rank5": r1, "rank10": r1, "mINP": r1}

    return evaluate_retrieval


def install_fake_retrieval(monkeypatch, calls: list) -> None:
    mod = types.ModuleType("reidfw.evaluation.retrieval")
    mod.evaluate_retrieval = fake_evaluate_retrieval(calls)
    monkeypatch.setitem(sys.modules, "reidfw.evaluation.retrieval", mod)


class RecordingMoCo(MoCoMethod):
    """MoCoMethod that, after its first training step, saves what the DDP test checks to ``out_dir``."""

    out_dir: str = ""

    def compute_keys(self, images):
        # Key encoder in eval mode (BN from running statistics): a sample's key then does not
        # depend on which process / sub-batch encoded it, so the test can recompute each key
        # locally and check that shuffle BN's gather/permute/unshuffle routed it back correctly.
        self.backbone_k.eval()
        k, k_all = super().compute_keys(images)
        self.backbone_k.train()
        self._recorded = (images.detach().clone(), k.detach().clone(), k_all.detach().clone())
        return k, k_all

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx != 0:
            return
        images, k, k_all = self._recorded
        self.backbone_k.eval()
        with torch.no_grad():  # key params are unchanged by the optimizer step: same encoder as before
            k_eval = self._encode_key(images)
        self.backbone_k.train()
        torch.save(
            {
                "rank": self.global_rank,
                "local_keys": k,
                "all_keys": k_all,
                "local_keys_eval": k_eval,
                "queue": self.queue.keys.clone(),
                "ptr": int(self.queue.ptr),
                "key_param": next(self.backbone_k.parameters()).detach().clone(),
            },
            f"{self.out_dir}/rank{self.global_rank}.pt",
        )
