"""A tiny rendered clip with ground truth shared by the tracking tests (rendered once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from reidfw.synthetic.generators.video import generate_video

CONF = str(Path(__file__).resolve().parents[2] / "conf")
CLIP = {"seed": 3, "people": 4, "seconds": 4.0, "fps": 10.0, "width": 480, "height": 270}


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """40 frames, 480x270, four walkers (one crossing pair), img1/ + video.mp4 + gt/gt.txt."""
    return generate_video(tmp_path_factory.mktemp("clip") / "seq", **CLIP, mp4=True, workers=1)


def compose_track(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="track", overrides=overrides)
