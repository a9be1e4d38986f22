"""Train an orientation estimator on crops with known yaw, and measure it.

Plain PyTorch (the set is small enough to hold in memory as uint8 model inputs): AdamW, a cosine
learning rate, loss ``1 - cos(predicted yaw - true yaw)`` on the unit (cos, sin) vector. Two
augmentations that keep the label right: a horizontal flip with the yaw mirrored (360 - yaw), and
brightness / contrast jitter.

Measured (:func:`orientation_metrics`): the mean and median absolute angular error, and the
**half-circle accuracy** -- the decision canonicalisation takes -- over crops at least 10 degrees
(and, separately, 30 degrees) away from 0 / 180, the two self-mirror views where either side is right.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch

from reidfw.model_input import Normalizer
from reidfw.orientation.data import YawCrop, load_crops
from reidfw.orientation.estimator import ORIENTATION_SPEC, OrientationEstimator, OrientationNet, angular_difference

EPOCHS = 30
BATCH_SIZE = 64
LR = 3e-3
WEIGHT_DECAY = 1e-4


def _targets(yaw_deg: torch.Tensor) -> torch.Tensor:
    r = torch.deg2rad(yaw_deg)
    return torch.stack([torch.cos(r), torch.sin(r)], dim=1)


def train_estimator(
    items: list[YawCrop],
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    seed: int = 0,
    spec=ORIENTATION_SPEC,
    progress: Callable[[str], None] | None = print,
    info: dict | None = None,
) -> OrientationEstimator:
    """Train from ``items`` (their images are read once through ``reidfw.model_input``)."""
    if len(items) < 2:
        raise ValueError(f"an orientation estimator needs at least 2 labelled crops, got {len(items)}")
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    u8, yaw = load_crops(items, spec, say)
    say(f"orientation: {len(items)} crops read in {time.perf_counter() - t0:.1f} s; training {epochs} epochs")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = OrientationNet()
    normalize = Normalizer(spec)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = max(1, math.ceil(len(items) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(items), generator=g)
        total = 0.0
        for s in range(0, len(items), batch_size):
            idx = order[s : s + batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            x = normalize(u8[idx])
            y = yaw[idx].clone()
            flip = torch.rand(len(idx), generator=g) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip, (360.0 - y) % 360.0, y)
            # brightness / contrast jitter in normalised units (a per-image gain and offset)
            gain = 1 + 0.3 * (torch.rand(len(idx), 1, 1, 1, generator=g) - 0.5)
            shift = 0.3 * (torch.rand(len(idx), 1, 1, 1, generator=g) - 0.5)
            x = x * gain + shift
            v = torch.nn.functional.normalize(net(x), dim=1)
            loss = (1 - (v * _targets(y)).sum(1)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if epoch == 0 or (epoch + 1) % max(1, epochs // 6) == 0 or epoch + 1 == epochs:
            say(f"  epoch {epoch + 1}/{epochs}: loss {total / len(items):.4f} ({time.perf_counter() - t0:.0f} s)")
    return OrientationEstimator(net.eval(), spec, {"trained_on_crops": len(items), "epochs": epochs, **(info or {})})


def predict_items(est: OrientationEstimator, items: list[YawCrop], batch_size: int = 256) -> np.ndarray:
    u8, _ = load_crops(items, est.spec)
    return torch.cat([est.predict_u8(u8[s : s + batch_size]) for s in range(0, len(u8), batch_size)]).cpu().numpy()


def orientation_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Mean / median absolute angular error (degrees), share within 45 degrees, half-circle accuracy."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    err = angular_difference(pred, true)
    out = {"n": int(len(err)), "mae_deg": float(err.mean()), "median_deg": float(np.median(err)),
           "within_45deg": float((err <= 45).mean())}
    for margin in (10, 30):
        away = angular_difference(true, 0) >= margin
        away &= angular_difference(true, 180) >= margin
        same_half = (np.sin(np.radians(pred)) < 0) == (np.sin(np.radians(true)) < 0)
        out[f"half_circle_acc_{margin}deg"] = float(same_half[away].mean()) if away.any() else float("nan")
        out[f"n_{margin}deg"] = int(away.sum())
    return out


def evaluate_estimator(est: OrientationEstimator, items: list[YawCrop]) -> dict[str, float]:
    return orientation_metrics(predict_items(est, items), np.array([i.yaw for i in items]))


def format_metrics(name: str, m: dict) -> str:
    return (f"{name}: {m['n']} crops, mean abs error {m['mae_deg']:.1f} deg (median {m['median_deg']:.1f}), "
            f"within 45 deg {100 * m['within_45deg']:.1f} %, half-circle right {100 * m['half_circle_acc_10deg']:.1f} % "
            f"(>= 10 deg from 0/180, n={m['n_10deg']}) / {100 * m['half_circle_acc_30deg']:.1f} % (>= 30 deg, n={m['n_30deg']})")
