"""The Hydra configuration: composition, the margin key, presets and clear errors."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from reidfw.synthetic.presets import synthetic_preset

DEMO_SETTINGS, TINY_SETTINGS = synthetic_preset("demo"), synthetic_preset("tiny")

REPO = Path(__file__).resolve().parents[2]
CONF = str(REPO / "conf")


def _compose(overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def test_synthetic_presets_are_read_from_the_config_group():
    # train.py composes conf/synthetic/demo.yaml; the CLI and evaluate.py read the same file, so
    # all of them render the same settings into one cache entry.
    assert dict(OmegaConf.to_container(_compose([]).synthetic)) == DEMO_SETTINGS
    assert set(DEMO_SETTINGS) == set(TINY_SETTINGS) == {"tracks", "unlabeled", "study", "market"}


def test_a_preset_built_on_another_reads_the_same_in_hydra_and_in_the_preset_reader():
    # conf/synthetic/demo_neutral.yaml lists "defaults: [demo, _self_]" and sets only the palette: the
    # demo's sizes stay written once, and train.py (Hydra) and the CLI / demo (synthetic_preset) agree.
    neutral = synthetic_preset("demo_neutral")
    assert neutral == {kind: {**settings, "palette": "neutral"} for kind, settings in DEMO_SETTINGS.items()}
    assert dict(OmegaConf.to_container(_compose(["synthetic=demo_neutral"]).synthetic)) == neutral


# (loss, optimizer name, lr, weight decay, gradient clipping, augmentation recipe) of each method's own recipe
RECIPES = [
    ("arcface", "sgd", 0.1, 5e-4, 5.0, None),
    ("cosface", "sgd", 0.1, 5e-4, 5.0, None),
    ("moco", "sgd", 0.03, 1e-4, None, "mocov2"),
    ("triplet", "adamw", 3.5e-4, 5e-4, None, None),
]


@pytest.mark.parametrize("loss, opt, lr, wd, clip, recipe", RECIPES)
def test_each_method_trains_with_its_own_recipe(loss, opt, lr, wd, clip, recipe):
    cfg = _compose([f"loss={loss}"])
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.weight_decay) == (opt, lr, wd)
    assert cfg.trainer.gradient_clip_val == clip
    assert cfg.data.transform.get("recipe") == recipe


def test_the_command_line_wins_over_the_recipe():
    cfg = _compose(["loss=moco", "optimizer.lr=0.5", "optimizer.weight_decay=0.001", "trainer.gradient_clip_val=1.0"])
    assert (cfg.optimizer.lr, cfg.optimizer.weight_decay, cfg.trainer.gradient_clip_val) == (0.5, 0.001, 1.0)
    assert cfg.optimizer.momentum == 0.9  # what was not overridden stays the recipe's
    # an experiment preset changes only what it names, and the command line still wins over it
    cfg = _compose(["experiment=demo_moco"])
    assert cfg.loss.temperature == 0.2  # the demo preset's (README, "MoCo in the demo")
    cfg = _compose(["experiment=demo_moco", "loss.temperature=0.1"])
    assert cfg.optimizer.weight_decay == 1e-4 and cfg.trainer.gradient_clip_val is None and cfg.loss.temperature == 0.1
    # switching the optimizer is an explicit choice that replaces the method's
    cfg = _compose(["loss=arcface", "optimizer=adamw"])
    assert (cfg.optimizer.name, cfg.optimizer.lr) == ("adamw", 3.5e-4)


def test_cfg_job_shows_the_recipe_that_will_run():
    p = subprocess.run([sys.executable, str(REPO / "train.py"), "loss=moco", "--cfg", "job"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    job = yaml.safe_load(p.stdout)
    assert job["optimizer"] == {"name": "sgd", "lr": 0.03, "ref_batch_size": 256, "momentum": 0.9, "weight_decay": 1.0e-4}
    assert job["trainer"]["gradient_clip_val"] is None and job["loss"]["temperature"] == 0.07
    assert job["data"]["transform"] == {"recipe": "mocov2"} and job["model"]["name"] == "${loss.backbone_family}${.depth}"


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


def test_unset_roots_become_the_rendered_synthetic_sets(tmp_path):
    from reidfw.synthetic.cache import dataset_key
    from reidfw.training.run import data_roots

    tiny = TINY_SETTINGS
    data = {"train_root": None, "val_root": "/data/Market-1501",
            "train_synthetic": {"kind": "unlabeled", "settings": {**tiny["unlabeled"], "count": 2}},
            "val_synthetic": {"kind": "market", "settings": tiny["market"]}}
    roots = data_roots(data, str(tmp_path))
    # a configured folder is taken as it is; an unset one is the cached synthetic set
    assert roots["val_root"] == "/data/Market-1501"
    assert roots["train_root"] == str(tmp_path / dataset_key("unlabeled", data["train_synthetic"]["settings"]))
    assert len(list((tmp_path / roots["train_root"]).glob("*.jpg"))) == 2
