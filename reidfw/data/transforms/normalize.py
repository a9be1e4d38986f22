"""Input normalisation constants: what every reidfw model expects after scaling RGB to [0, 1].

reidfw trains every backbone on ImageNet-normalised input (``MEAN``/``STD``), the
convention of torchvision and of LUPerson's MoCo weights. insightface trains its
iresnet backbones on ``(x - 0.5) / 0.5`` instead, so a public insightface
``backbone.pth`` must be fed with ``INSIGHTFACE_MEAN``/``INSIGHTFACE_STD``; the
model spec written by ``reidfw.models.export`` records which pair a model needs.
"""
from __future__ import annotations

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

INSIGHTFACE_MEAN = (0.5, 0.5, 0.5)
INSIGHTFACE_STD = (0.5, 0.5, 0.5)
