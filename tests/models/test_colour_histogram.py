"""The colour-histogram baseline: a model like any other, blind to the letterbox, sensitive to clothes."""
import numpy as np
import torch

from reidfw.checkpoints import load_embedding_model
from reidfw.model_input import to_model_input


def person(top, bottom, h=120, w=48, background=(90, 90, 90)):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = background
    img[int(0.1 * h):int(0.5 * h), int(0.2 * w):int(0.8 * w)] = top
    img[int(0.5 * h):int(0.95 * h), int(0.2 * w):int(0.8 * w)] = bottom
    return img


def test_a_baseline_every_model_must_beat():
    model, spec = load_embedding_model("colour_histogram", img_size=(128, 64))
    assert spec["method"] == "baseline" and spec["embedding"] == "histogram" and spec["embed_dim"] == model.embed_dim == 256
    from reidfw.model_input import InputSpec

    s = InputSpec.from_dict(spec["input"])
    embed = lambda img: torch.nn.functional.normalize(model(to_model_input(img, s)[None]), dim=1)[0]  # noqa: E731
    red_blue, red_blue_wide = person((200, 30, 30), (30, 30, 200)), person((200, 30, 30), (30, 30, 200), w=90)
    green_blue = person((30, 200, 30), (30, 30, 200))
    same = float(embed(red_blue) @ embed(red_blue_wide))  # another letterbox, the same clothes
    other = float(embed(red_blue) @ embed(green_blue))  # another top
    assert same > 0.95 and other < same - 0.3
