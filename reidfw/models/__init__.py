"""Backbones. Importing this package registers reidfw's families with timm.

Also here: the model spec and export format (``export_model``, ``load_exported_model``) and
``load_embedding_model``, which turns any checkpoint kind into (backbone, spec).
"""
from reidfw.models import iresnet as _iresnet  # noqa: F401  (registers iresnet18/34/50/100)
from reidfw.models import reid_resnet as _reid_resnet  # noqa: F401  (registers reid_resnet18/34/50/101)
from reidfw.models.backbone import build_backbone
from reidfw.models.checkpoints import load_embedding_model
from reidfw.models.errors import CheckpointError
from reidfw.models.export import export_model, load_exported_model
from reidfw.models.spec import make_model_spec

__all__ = [
    "build_backbone",
    "load_embedding_model",
    "CheckpointError",
    "export_model",
    "load_exported_model",
    "make_model_spec",
]
