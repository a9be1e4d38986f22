"""reidfw: person re-identification training and evaluation.

Importing reidfw registers its backbones with timm, so
``timm.create_model("iresnet50", img_size=(384, 128))`` works afterwards.
"""
import reidfw.models  # noqa: F401

__version__ = "0.1.0"
