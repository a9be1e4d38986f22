"""The untrained baseline: the whole val set scored before the first step, logged at step 0, and the
training run afterwards exactly the run it would have been without it."""
import copy

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers.logger import Logger
from reid_synth import BACKBONE, INPUT, MOCO, SGD, IdentityImages, RetrievalImages, TwoViews
from torch.utils.data import DataLoader

from reidfw.methods import ArcFaceMethod, MoCoMethod
from reidfw.training.run import TrainResult, format_summary
from reidfw.training.untrained_baseline import SANITY_STEPS, UntrainedBaseline, untrained_score


class Recorder(Logger):
    def __init__(self):
        super().__init__()
        self.points: list[tuple[dict, int]] = []

    name, version = "recorder", "0"

    def log_metrics(self, metrics, step=None):
        self.points.append((dict(metrics), step))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def method() -> ArcFaceMethod:
    return ArcFaceMethod(backbone=BACKBONE, input=INPUT, num_classes=4, head={"kind": "arcface", "margin": 0.2, "s": 16.0},
                         optimizer=SGD, scheduler={"name": "none"})


def fit(baseline: bool, logger=False, moco: bool = False):
    pl.seed_everything(0)
    m = MoCoMethod(**{**MOCO, "queue_size": 16}, scheduler={"name": "none"}) if moco else method()
    t = pl.Trainer(accelerator="cpu", max_epochs=2, logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, check_val_every_n_epoch=2,
                   num_sanity_val_steps=SANITY_STEPS if baseline else 0, callbacks=[UntrainedBaseline()] if baseline else [])
    # MoCo's training draws from torch's global generator (the noisy views, split BN's shuffle),
    # which creating the val loader for the sanity pass also draws from.
    train = TwoViews(n=32) if moco else IdentityImages()
    t.fit(m, DataLoader(train, batch_size=8, shuffle=True), DataLoader(RetrievalImages(), batch_size=12))
    return m


def test_the_baseline_is_the_untrained_network_on_the_whole_val_set_and_lands_at_step_0():
    pl.seed_everything(0)
    untrained = method()
    t = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    want = t.validate(copy.deepcopy(untrained), DataLoader(RetrievalImages(), batch_size=12), verbose=False)[0]

    rec = Recorder()
    m = fit(True, rec)
    assert abs(m.untrained_metrics["mAP"] - want["val/mAP"]) < 1e-6
    assert abs(untrained_score(m, "val/mAP") - want["val/mAP"]) < 1e-6
    first = [(metrics, step) for metrics, step in rec.points if "val/mAP_untrained" in metrics]
    assert len(first) == 1 and first[0][1] == 0
    assert set(first[0][0]) == {"val/mAP_untrained", "val/rank1_untrained", "val/impostor_mean_untrained"}
    # The trained network's own validation is logged as usual, after it.
    assert any("val/mAP" in metrics for metrics, _ in rec.points)


def test_training_follows_the_same_path_with_or_without_the_baseline():
    with_it, without = fit(True, moco=True), fit(False, moco=True)
    assert with_it.untrained_metrics is not None and without.untrained_metrics is None
    for (name, a), (_, b) in zip(with_it.state_dict().items(), without.state_dict().items()):
        assert torch.equal(a, b), f"{name} differs: the sanity pass changed the training run"


def test_the_summary_reads_the_best_score_against_the_untrained_one():
    r = TrainResult(run_id="r", experiment_name="e", tracking_uri="sqlite:///x.db", method="moco", backbone="iresnet18",
                    best_checkpoint="b.ckpt", last_checkpoint="l.ckpt", exported_model=None, best_score=0.278,
                    monitor="val/mAP", output_dir=".", untrained_score=0.0695)
    assert "best val/mAP    0.2780  (untrained 0.0695: 4.0x)" in format_summary(r)
    assert "untrained" not in format_summary(TrainResult(**{**r.__dict__, "untrained_score": None}))
