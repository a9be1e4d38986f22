"""Training methods (LightningModules) and their registry."""
from __future__ import annotations

from typing import Any

from reidfw.methods.arcface import ArcFaceMethod
from reidfw.methods.base import ReIDMethod
from reidfw.methods.moco import MoCoMethod
from reidfw.methods.triplet import TripletMethod

METHODS: dict[str, type[ReIDMethod]] = {"arcface": ArcFaceMethod, "moco": MoCoMethod, "triplet": TripletMethod}


def build_method(name: str, **kw: Any) -> ReIDMethod:
    """``METHODS[name](**kw)``. A ``method`` key in ``kw`` (as stored in hparams) must agree with ``name``."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choices: {sorted(METHODS)}.")
    stored = kw.pop("method", name)
    if stored != name:
        raise ValueError(f"method {name!r} was given hyper-parameters of method {stored!r}; build it with {stored!r}.")
    return METHODS[name](**kw)


__all__ = ["METHODS", "ArcFaceMethod", "MoCoMethod", "ReIDMethod", "TripletMethod", "build_method"]
