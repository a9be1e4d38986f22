"""Images/s of a Lightning training step against a plain PyTorch loop, same model, batch and data.

    .venv/bin/python benchmarks/train_throughput.py [--backbone iresnet18] [--img-size 128 64] [--batch 32]

Both loops run the ArcFace recipe (backbone -> combined-margin head -> loss ->
SGD step) on the same in-memory batches in this process, alternating so machine
noise hits both; the ratio Lightning / plain is the framework's overhead
(target >= 0.95).
"""
from __future__ import annotations

import argparse
import copy
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from reidfw.methods.arcface import ArcFaceMethod


class InMemoryBatches(Dataset):
    """Pre-made batches, so neither loop pays for decoding."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def make_batches(n, batch, img_size, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        {"image": torch.randn(batch, 3, *img_size, generator=g), "label": torch.randint(0, num_classes, (batch,), generator=g)}
        for _ in range(n)
    ]


def plain_loop(module: ArcFaceMethod, batches, warmup: int) -> float:
    module.train()
    opt = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    t0, seen = None, 0
    for i, b in enumerate(batches):
        if i == warmup:
            t0, seen = time.perf_counter(), 0
        opt.zero_grad(set_to_none=True)
        out = module.head(module.backbone(b["image"]), b["label"])
        out.loss.backward()
        opt.step()
        seen += b["image"].shape[0]
    return seen / (time.perf_counter() - t0)


class StepTimer(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.t0, self.seen = warmup, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.t0, self.seen = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen += batch["image"].shape[0]
        self.t1 = time.perf_counter()


def lightning_loop(module: ArcFaceMethod, batches, warmup: int) -> float:
    timer = StepTimer(warmup)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        log_every_n_steps=5,
    )
    loader = DataLoader(InMemoryBatches(batches), batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    return timer.seen / (timer.t1 - timer.t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="iresnet18")
    ap.add_argument("--img-size", type=int, nargs=2, default=[128, 64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    num_classes = 64
    base = ArcFaceMethod(
        backbone={"name": args.backbone},
        input={"size": args.img_size},
        num_classes=num_classes,
        head={"kind": "arcface", "margin": 0.5, "s": 64.0},
        optimizer={"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4},
        scheduler={"name": "none"},
    )
    batches = make_batches(args.steps + args.warmup, args.batch, tuple(args.img_size), num_classes)
    plain, light = [], []
    for _ in range(args.rounds):
        plain.append(plain_loop(copy.deepcopy(base), batches, args.warmup))
        light.append(lightning_loop(copy.deepcopy(base), batches, args.warmup))
    p, l = max(plain), max(light)  # best of rounds: the least disturbed measurement of each
    print(f"backbone {args.backbone} input {args.img_size[0]}x{args.img_size[1]} batch {args.batch}, "
          f"{args.steps} timed steps x {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(f"plain PyTorch loop : {p:8.1f} img/s")
    print(f"Lightning          : {l:8.1f} img/s")
    print(f"ratio Lightning / plain: {l / p:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
