"""reidfw: person re-identification training and evaluation.

Importing reidfw registers its backbones with timm, so
``timm.create_model("iresnet50", img_size=(384, 128))`` works afterwards.
"""
import cv2

# OpenCV's thread pool does not survive fork: a DataLoader worker forked after the parent
# used it can hang inside cv2. reidfw parallelises image work with processes (DataLoader
# workers, the renderer's pool), so OpenCV stays single-threaded in every process.
cv2.setNumThreads(1)

import reidfw.models  # noqa: E402,F401  (registers reidfw's backbones with timm)

__version__ = "0.1.0"
