"""The model-input contract: an :class:`InputSpec` carried with every model, and the one
crop -> letterbox -> normalise implementation every consumer uses (a leaf room)."""
from reidfw.model_input.preprocess import (
    Normalizer,
    crop_box,
    fit,
    letterbox,
    normalize,
    normalized_fill,
    pad_to,
    prepare,
    to_chw_tensor,
    to_model_input,
)
from reidfw.model_input.spec import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INSIGHTFACE_MEAN,
    INSIGHTFACE_STD,
    PAPER_FILL,
    PAPER_SIZE,
    InputSpec,
    InputSpecError,
    as_size,
    resolve_input_spec,
)

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "INSIGHTFACE_MEAN", "INSIGHTFACE_STD", "PAPER_FILL", "PAPER_SIZE",
    "InputSpec", "InputSpecError", "Normalizer", "as_size", "crop_box", "fit", "letterbox", "normalize",
    "normalized_fill", "pad_to", "prepare", "resolve_input_spec", "to_chw_tensor", "to_model_input",
]
