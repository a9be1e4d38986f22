"""Training augmentation (albumentations) wrapped around the model-input contract:
``ops`` (reidfw's own steps), ``pipeline`` (how a transform is assembled), ``recipes``
(supervised, MoCo v2, LUPerson) and ``build_transform(kind, spec, **options)``."""
from reidfw.data.augment.pipeline import ModelInput, Pipeline, TwoViews
from reidfw.data.augment.recipes import KINDS, build_transform

__all__ = ["KINDS", "ModelInput", "Pipeline", "TwoViews", "build_transform"]
