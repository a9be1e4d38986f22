"""GPU training throughput: MoCo v2, ResNet50 at the paper's 384x128, as ``trainer=gpu`` runs it.

Lightning with ``precision=bf16-mixed`` (conf/trainer/gpu.yaml) and the model in channels_last
(reidfw.training.channels_last, on by default), against the same in fp32 / NCHW, on the same
in-memory batches (no decoding in the timing). Prints images/s of each and their ratio; without
a CUDA device it prints a skip line and exits 0 (the CPU figures are benchmarks/train_throughput.py's).

    .venv/bin/python benchmarks/gpu_training.py [--batch 64] [--steps 30]
"""
from __future__ import annotations

import argparse
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset


class Batches(Dataset):
    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


class Timer(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.t0, self.seen, self.t1 = warmup, None, 0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            torch.cuda.synchronize()
            self.t0, self.seen = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.t0 is not None:
            self.seen += batch["view1"].shape[0]
            torch.cuda.synchronize()
            self.t1 = time.perf_counter()


def images_per_second(args, fast: bool) -> float:
    from reidfw.methods import build_method
    from reidfw.training.channels_last import ChannelsLast

    torch.manual_seed(0)
    module = build_method("moco", backbone={"name": "reid_resnet50", "img_size": [384, 128]}, queue_size=16384,
                          optimizer={"name": "sgd", "lr": 0.03}, scheduler={"name": "none"})
    g = torch.Generator().manual_seed(0)
    batches = [{"view1": torch.randn(args.batch, 3, 384, 128, generator=g), "view2": torch.randn(args.batch, 3, 384, 128, generator=g)}
               for _ in range(4)]
    timer = Timer(args.warmup)
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed" if fast else "32-true",
                         max_steps=args.steps + args.warmup, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[timer] + ([ChannelsLast()] if fast else []))
    loader = DataLoader(Batches([batches[i % 4] for i in range(args.steps + args.warmup)]), batch_size=None,
                        pin_memory=True)
    trainer.fit(module, train_dataloaders=loader)
    return timer.seen / (timer.t1 - timer.t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("GPU training throughput: skipped (no CUDA device here). benchmarks/train_throughput.py gives the CPU figures.")
        return
    print(f"MoCo v2, reid_resnet50 384x128, batch {args.batch}, {args.steps} timed steps on {torch.cuda.get_device_name(0)}")
    base = images_per_second(args, fast=False)
    fast = images_per_second(args, fast=True)
    print(f"  fp32, NCHW                 : {base:8.1f} img/s")
    print(f"  bf16-mixed + channels_last : {fast:8.1f} img/s   ({fast / base:.2f}x)")


if __name__ == "__main__":
    main()
