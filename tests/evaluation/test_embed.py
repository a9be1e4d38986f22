import numpy as np
import pytest
import torch
import torch.nn as nn

from reidfw.data.formats.image_io import read_image, read_mask
from reidfw.data.formats.study_manifest import read_manifest
from reidfw.model_input import PAPER_FILL, crop_box, letterbox
from reidfw.evaluation.embed import CropItem, Embedder, embed_images



class Pixels(nn.Module):
    """The normalised input itself as the 'embedding', to check the preprocessing exactly."""

    def forward(self, x):
        return x.flatten(1)


def _expected(img, box, spec):
    x = letterbox(crop_box(img, box), tuple(spec["input"]["size"]), fill=PAPER_FILL).astype(np.float32) / 255.0
    x = (x - np.array(spec["input"]["mean"])) / np.array(spec["input"]["std"])
    v = x.transpose(2, 0, 1).ravel()
    return v / np.linalg.norm(v)


def test_crop_letterbox_normalise_exactly(study_root, make_spec):
    spec = make_spec()
    H, W = spec["input"]["size"]
    images = [i for c in read_manifest(study_root).factor("size").conditions for i in c.images]
    feats = embed_images(Pixels(), spec, images, num_workers=0, batch_size=2)
    assert feats.dtype == np.float32 and feats.shape == (5, 3 * H * W)
    for f, im in zip(feats, images):
        np.testing.assert_allclose(f, _expected(read_image(im.path), im.box, spec), atol=1e-5)


def test_mask_background_replaces_non_person_pixels(study_root, make_spec):
    spec = make_spec()
    im = read_manifest(study_root).factor("color").conditions[0].images[0]
    img = read_image(im.path)
    img[~read_mask(im.mask)] = PAPER_FILL
    f = embed_images(Pixels(), spec, [im], mask_background=True, num_workers=0)
    # the box is the person rectangle, so the masked crop equals the unmasked crop here; compare to a
    # whole-image embedding instead, where the background matters
    whole = CropItem(im.path, None, im.mask)
    f_whole = embed_images(Pixels(), spec, [whole], mask_background=True, num_workers=0)
    np.testing.assert_allclose(f_whole[0], _expected(img, None, spec), atol=1e-5)
    assert f.shape[0] == 1
    with pytest.raises(ValueError, match="mask_background"):
        embed_images(Pixels(), spec, [CropItem(im.path)], mask_background=True, num_workers=0)


def test_workers_give_the_same_unit_features(study_root, tiny_model, make_spec):
    images = [i for f in read_manifest(study_root).factors for c in f.conditions for i in c.images]
    spec = make_spec()
    a = Embedder(tiny_model, spec, num_workers=0, batch_size=3).embed(images)
    b = Embedder(tiny_model, spec, num_workers=1, batch_size=4).embed(images)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_spec_without_input_is_a_clear_error(tiny_model, make_spec):
    from reidfw.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="no input field"):
        Embedder(tiny_model, {k: v for k, v in make_spec().items() if k != "input"})


def test_forward_batch_handles_tuple_outputs(tiny_model, make_spec):
    class Pair(nn.Module):
        def forward(self, x):
            return tiny_model(x), None

    spec = make_spec()
    e = Embedder(Pair(), spec, num_workers=0)
    out = e.forward_batch(torch.zeros(2, 3, *spec["input"]["size"], dtype=torch.uint8))
    assert out.shape == (2, 8)


def test_cpu_decodes_in_line_and_gpu_uses_workers():
    # On a CPU the forward needs every core; worker processes would only compete with it.
    import torch

    from reidfw.evaluation.embed import default_num_workers

    assert default_num_workers(torch.device("cpu")) == 0
    assert default_num_workers(torch.device("cuda")) >= 0


def test_a_gallery_shows_its_embedding_progress_and_a_study_does_not(study_root, tiny_model, make_spec, capsys, monkeypatch):
    import reidfw.evaluation.embed as embed_module

    images = [i for f in read_manifest(study_root).factors for c in f.conditions for i in c.images]
    embedder = Embedder(tiny_model, make_spec(), num_workers=0, batch_size=3)
    quiet = embedder.embed(images)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(embed_module, "PROGRESS_FROM_IMAGES", len(images))  # as many images as a gallery's threshold
    shown = embedder.embed(images, desc="embedding gallery")
    err = capsys.readouterr().err
    assert "embedding gallery" in err and f"{len(images)}/{len(images)}" in err  # counts images, not batches
    np.testing.assert_array_equal(quiet, shown)  # the bar changes nothing it embeds
    embedder.embed(images, progress=False)
    assert capsys.readouterr().err == ""
