"""Backbones only: insightface's iresnet, the torchvision-layout Re-ID ResNet, and the registry
that builds them (and any timm model) by name. Importing this package registers reidfw's
families with timm. Weights in and out of files live in ``reidfw.checkpoints``."""
from reidfw.models import iresnet as _iresnet  # noqa: F401  (registers iresnet18/34/50/100)
from reidfw.models import reid_resnet as _reid_resnet  # noqa: F401  (registers reid_resnet18/34/50/101)
from reidfw.models.registry import build_backbone, default_input_spec

__all__ = ["build_backbone", "default_input_spec"]
