"""Backbones. Importing this package registers reidfw's families with timm."""
from reidfw.models.backbone import build_backbone

__all__ = ["build_backbone"]
