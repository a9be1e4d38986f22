"""channels_last memory format for training on CUDA.

With bf16 autocast (``conf/trainer/gpu.yaml``: ``precision: bf16-mixed``) cuDNN runs
convolutions on tensor cores in NHWC; an NCHW network is transposed around every layer.
Converting the module's 4-D weights once makes every convolution NHWC (a convolution whose
weight is channels_last returns channels_last, so activations follow from the first layer on).
CPU training keeps the default format.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch


class ChannelsLast(pl.Callback):
    """Put the LightningModule in ``torch.channels_last`` when it trains on a CUDA device."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.strategy.root_device.type == "cuda":
            pl_module.to(memory_format=torch.channels_last)
