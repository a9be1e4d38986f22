"""The Hydra configuration: composition, the margin key, presets and clear errors."""
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from reidfw.data.synthetic.presets import DEMO_SETTINGS, TINY_SETTINGS

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def _compose(overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def test_synthetic_yaml_equals_python_presets():
    # The CLI and evaluate.py use the Python presets, train.py the YAML: equal settings share one cache.
    assert yaml.safe_load(Path(CONF, "synthetic/demo.yaml").read_text()) == DEMO_SETTINGS
    assert yaml.safe_load(Path(CONF, "synthetic/tiny.yaml").read_text()) == TINY_SETTINGS


@pytest.mark.parametrize(
    "loss, head_kind, default_margin, family, data_kind",
    [
        ("arcface", "arcface", 0.5, "iresnet", "tracks"),
        ("cosface", "cosface", 0.4, "iresnet", "tracks"),
        ("sphereface", "sphereface", 1.35, "iresnet", "tracks"),
    ],
)
def test_margin_losses_read_the_top_level_margin(loss, head_kind, default_margin, family, data_kind):
    cfg = _compose([f"loss={loss}"])
    assert cfg.margin == default_margin and cfg.loss.head.margin == default_margin
    assert cfg.loss.head.kind == head_kind
    assert cfg.model.name == f"{family}18" and cfg.data.train_kind == data_kind
    cfg = _compose([f"loss={loss}", "margin=0.3"])
    assert cfg.loss.head.margin == 0.3


def test_moco_switches_data_and_backbone_but_the_command_line_wins():
    cfg = _compose(["loss=moco"])
    assert cfg.data.train_kind == "unlabeled" and cfg.model.name == "reid_resnet18"
    assert cfg.loss.temperature == 0.07 and cfg.loss.queue_size == 65536 and cfg.loss.momentum == 0.999
    cfg = _compose(["loss=moco", "model=timm", "model.name=resnet34"])
    assert cfg.model.name == "resnet34"


def test_triplet_uses_pk_batches_and_its_own_margin():
    cfg = _compose(["loss=triplet"])
    assert cfg.loss.margin == 0.3 and cfg.data.sampler.name == "pk"
    assert cfg.data.sampler.p * cfg.data.sampler.k == cfg.data.batch_size


def test_paper_presets_are_the_papers_settings():
    arc = _compose(["experiment=paper_arcface"])
    assert arc.model.name == "iresnet50" and list(arc.img_size) == [384, 128] and arc.loss.head.margin == 0.5
    moco = _compose(["experiment=paper_moco"])
    assert moco.model.name == "reid_resnet50" and moco.model.kwargs.last_stride == 1
    assert list(moco.img_size) == [384, 128] and moco.loss.temperature == 0.07 and moco.loss.queue_size == 65536


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ConfigCompositionException) as e:
        _compose(["loss=arcfce"])
    msg = str(e.value)
    assert "arcfce" in msg and "arcface" in msg and "moco" in msg


def test_wrong_key_is_refused():
    with pytest.raises(ConfigCompositionException) as e:
        _compose(["trainer.max_epoch=3"])
    assert "max_epoch" in str(e.value)


def test_margin_is_not_a_moco_setting():
    # MoCo has no margin: a sweep over it must fail loudly rather than run identical jobs.
    with pytest.raises(ConfigCompositionException):
        _compose(["experiment=demo_moco", "margin=0.5"])


def test_resolves_fully():
    cfg = _compose(["experiment=demo_moco"])
    OmegaConf.resolve(cfg.loss)
    assert cfg.loss.queue_size < DEMO_SETTINGS["unlabeled"]["count"]
