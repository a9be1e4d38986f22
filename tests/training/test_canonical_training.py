"""train.py canonicalize=true: the training data mirror the crops an estimator reads as facing (180, 360)."""
from pathlib import Path

import albumentations as A
import torch
from hydra import compose, initialize_config_dir

from reidfw.orientation import OrientationEstimator, OrientationNet
from reidfw.synthetic.generators.tracks import generate_tracks

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def test_canonicalize_puts_the_estimator_first_and_drops_the_random_flip(tmp_path):
    from reidfw.training.run import build_datamodule, input_spec_from_config

    torch.manual_seed(0)
    OrientationEstimator(OrientationNet()).save(tmp_path / "estimator")
    tracks = generate_tracks(tmp_path / "tracks", identities=2, per_identity=3, cameras=1, crop_height=48, workers=1)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "canonicalize=true", f"orientation_model={tmp_path / 'estimator'}", f"cache_dir={tmp_path}",
            f"data.train_root={tracks}", "data.val_root=null", "data.val_synthetic=null", "data.min_images_per_identity=2",
        ])
    dm = build_datamodule(cfg, input_spec_from_config(cfg))
    dm.setup("fit")
    steps = dm.train_set.transform.compose.transforms
    assert type(steps[0]).__name__ == "CanonicalFlip"
    assert not any(isinstance(s, A.HorizontalFlip) for s in steps)
    assert dm.train_set[0]["image"].shape == (3, *cfg.img_size)
