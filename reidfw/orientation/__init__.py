"""Person orientation: a small yaw estimator for crops, and the half-circle rule that canonicalises
them (mirror every crop facing (180, 360) into [0, 180], the paper's flip proposal).

estimator.py   the network, mirror-consistent prediction, the half-circle rule, files in and out
data.py        crops with known yaw: a user's CSV, a synthetic set's metadata.jsonl, a study manifest
train.py       training and the accuracy measures (angular error, half-circle accuracy)
synthetic.py   the default estimator, trained on the synthetic sets once and cached
__main__.py    ``python -m reidfw.orientation {train,evaluate,predict}``

Canonicalisation itself is applied where crops are turned into inputs: a training augmentation
step (``reidfw.data.augment.canonical``) and the evaluation embedder (``reidfw.evaluation.embed``).
"""
from reidfw.orientation.estimator import (
    ORIENTATION_SPEC,
    OrientationEstimator,
    OrientationModelError,
    OrientationNet,
    in_other_half,
    load_estimator,
    mirror_yaw,
)

__all__ = [
    "ORIENTATION_SPEC", "OrientationEstimator", "OrientationModelError", "OrientationNet", "in_other_half",
    "load_estimator", "mirror_yaw",
]
