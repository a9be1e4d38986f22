"""Config values as plain Python: what checkpoints, generators and JSON can hold."""
from __future__ import annotations

from typing import Any


def to_plain(value: Any) -> Any:
    """OmegaConf containers / tuples / numpy and torch scalars -> dict, list, int, float, str, bool, None.

    Hydra hands over DictConfig/ListConfig; checkpoints must load with ``torch.load(weights_only=True)``,
    so only plain types are kept, and anything else is refused with the offending value named.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "to_dict") and callable(value.to_dict):  # e.g. an InputSpec
        return to_plain(value.to_dict())
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    raise TypeError(
        f"config value {value!r} of type {type(value).__name__} is not a plain Python type; "
        "pass numbers, strings, lists and dicts so checkpoints load with weights_only=True."
    )
