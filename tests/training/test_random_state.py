"""The global random state round-trips through a checkpoint file loaded with weights_only=True."""
import random

import numpy as np
import torch

from reidfw.training.atomic_checkpoint_io import atomic_torch_save
from reidfw.training.random_state import capture, restore


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_capture_save_load_restore_continues_the_same_streams(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    _draw()
    atomic_torch_save({"state": capture()}, tmp_path / "c.ckpt")
    expected = [_draw() for _ in range(3)]
    random.seed(9), np.random.seed(9), torch.manual_seed(9)  # a new process, elsewhere in its life
    restore(torch.load(tmp_path / "c.ckpt", weights_only=True)["state"])
    assert [_draw() for _ in range(3)] == expected
