"""Weights in and out of files, apart from the architectures in ``reidfw.models``.

model_spec.py      the model spec (model.json): backbone, input spec, embedding
export.py          write / read an export: model.safetensors + model.json
load.py            load_embedding_model: any checkpoint kind -> (backbone, spec)
lightning_ckpt.py  reidfw's Lightning .ckpt
external.py        LUPerson / insightface state dicts (arch=)
weights.py         strict state-dict loading with a readable difference report
errors.py          CheckpointError, the one error every loader raises
"""
from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.export import export_embedding_model, export_model, load_exported_model
from reidfw.checkpoints.load import load_embedding_model
from reidfw.checkpoints.model_spec import input_spec_of, make_model_spec

__all__ = [
    "CheckpointError",
    "export_embedding_model",
    "export_model",
    "input_spec_of",
    "load_embedding_model",
    "load_exported_model",
    "make_model_spec",
]
