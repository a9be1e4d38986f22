"""ONNX and TorchScript exports give PyTorch's embeddings, input by input, at the paper's 384x128."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from reidfw.checkpoints import load_embedding_model  # noqa: E402
from reidfw.checkpoints.errors import CheckpointError  # noqa: E402
from reidfw.checkpoints.onnx_export import ONNX_FILE, TORCHSCRIPT_FILE, TORCHSCRIPT_SPEC, OnnxEmbedding, export_deployment  # noqa: E402
from reidfw.checkpoints.model_spec import make_model_spec  # noqa: E402
from reidfw.model_input import InputSpec  # noqa: E402

SIZE = (384, 128)


def distinct_images(spec) -> torch.Tensor:
    """Five person-crop-like uint8 images that share nothing, normalised as the Embedder does."""
    H, W = SIZE
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    imgs = np.zeros((5, H, W, 3), np.uint8)
    imgs[0] = np.stack([xx * 2, yy * 255 // H, 255 - yy * 255 // H], -1)  # colour gradients
    imgs[1] = ((xx // 8) % 2 * 200 + 30)[..., None].repeat(3, -1)  # vertical stripes
    blobs = rng.normal(size=(12, 4, 3))  # smooth random colours, upsampled
    imgs[2] = np.clip(np.kron(blobs, np.ones((32, 32, 1))) * 60 + 128, 0, 255).astype(np.uint8)
    imgs[3] = rng.integers(0, 255, size=(H, W, 3))  # noise background ...
    imgs[3, 60:330, 35:95] = (200, 40, 40)  # ... with a red "person"
    imgs[4] = 128  # the letterbox fill ...
    imgs[4, 40:360, 20:110] = (30, 30, 120)  # ... with a dark blue "person"
    mean = torch.tensor(spec["input"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(spec["input"]["std"]).view(1, 3, 1, 1)
    return (torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255 - mean) / std


@pytest.mark.parametrize("arch,method", [("iresnet18", "arcface"), ("reid_resnet18", "moco")])
def test_onnx_and_torchscript_match_pytorch(arch, method, make_model, tmp_path):
    model = make_model(arch, SIZE)
    spec = make_model_spec(method=method, backbone={"name": arch, "kwargs": {}}, input_spec=InputSpec(size=SIZE), embed_dim=model.embed_dim)
    written = export_deployment(model, spec, tmp_path)
    assert [p.name for p in written] == [ONNX_FILE, TORCHSCRIPT_FILE]

    x = distinct_images(spec)
    with torch.no_grad():
        ref = model(x)
    ort_model, ort_spec = load_embedding_model(tmp_path / ONNX_FILE)  # the evaluate.py ckpt=model.onnx path
    assert isinstance(ort_model, OnnxEmbedding) and ort_spec == spec
    got = ort_model(x)  # one batch of 5 ...
    one_by_one = torch.cat([ort_model(x[i : i + 1]) for i in range(len(x))])  # ... and batches of 1: dynamic batch
    assert got.shape == ref.shape == (5, spec["embed_dim"])
    for out in (got, one_by_one):
        cos = F.cosine_similarity(out, ref, dim=1)
        assert cos.min() >= 0.9999, cos
    # A collapsed export (the same output whatever the input) must fail: the five outputs differ
    # from each other, and each is nearest to PyTorch's embedding of its own input.
    n = F.normalize(got, dim=1)
    pairwise = n @ n.T
    off = ~torch.eye(5, dtype=torch.bool)
    ref_n = F.normalize(ref, dim=1)
    # (an untrained GAP network already scores ~0.99 between any two inputs: compare to PyTorch's own)
    assert pairwise[off].max() < 0.9995, pairwise  # a collapsed export gives 1.0
    assert (pairwise - ref_n @ ref_n.T).abs().max() < 1e-3  # the same geometry as PyTorch's
    assert torch.equal((n @ F.normalize(ref, dim=1).T).argmax(1), torch.arange(5))

    meta = {p.key: p.value for p in onnx.load(str(tmp_path / ONNX_FILE), load_external_data=False).metadata_props}
    assert (meta["input_height"], meta["input_width"]) == ("384", "128")
    assert json.loads(meta["input_mean"]) == spec["input"]["mean"]
    assert json.loads(meta["input_std"]) == spec["input"]["std"]
    assert json.loads(meta["input_fill"]) == [128, 128, 128]
    assert json.loads(meta["reidfw.spec"]) == spec

    extra = {TORCHSCRIPT_SPEC: ""}
    ts = torch.jit.load(str(tmp_path / TORCHSCRIPT_FILE), _extra_files=extra)
    assert json.loads(extra[TORCHSCRIPT_SPEC]) == spec
    with torch.no_grad():
        assert F.cosine_similarity(ts(x), ref, dim=1).min() >= 0.9999


def test_foreign_or_corrupt_onnx_is_a_clear_error(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph), str(tmp_path / "foreign.onnx"))
    with pytest.raises(CheckpointError, match="exported by reidfw"):
        load_embedding_model(tmp_path / "foreign.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(CheckpointError, match="broken.onnx"):
        load_embedding_model(tmp_path / "broken.onnx")
