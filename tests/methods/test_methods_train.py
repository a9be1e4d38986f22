"""Short Lightning runs on tiny synthetic data: the loss falls; validation logs; resume restores MoCo state."""
import importlib

import pytest
import pytorch_lightning as pl
import torch
from reid_synth import BACKBONE, INPUT, MOCO, SGD, IdentityImages, LossRecorder, RetrievalImages, TwoViews, install_fake_retrieval
from torch.utils.data import DataLoader

from reidfw.methods import ArcFaceMethod, MoCoMethod, TripletMethod


def trainer(max_epochs: int, **kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", max_epochs=max_epochs, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **kw)


def use_retrieval(monkeypatch) -> None:
    """Real evaluate_retrieval when it imports, otherwise a stand-in."""
    try:
        importlib.import_module("reidfw.evaluation.retrieval").evaluate_retrieval  # noqa: B018
    except (ImportError, AttributeError):
        install_fake_retrieval(monkeypatch, [])


def epoch_means(losses: list[float], per_epoch: int) -> list[float]:
    return [sum(losses[i : i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)]


def test_arcface_loss_falls_and_val_metrics_logged(monkeypatch):
    use_retrieval(monkeypatch)
    pl.seed_everything(0)
    m = ArcFaceMethod(backbone=BACKBONE, input=INPUT, num_classes=4, head={"kind": "arcface", "margin": 0.2, "s": 16.0},
                      optimizer=SGD, scheduler={"name": "none"})
    rec = LossRecorder()
    t = trainer(4, callbacks=[rec], check_val_every_n_epoch=4)  # validate once, at the end
    t.fit(m, DataLoader(IdentityImages(), batch_size=16, shuffle=True), DataLoader(RetrievalImages(), batch_size=12))
    means = epoch_means(rec.losses, 2)
    assert means[-1] < 0.7 * means[0], means
    for k in ("val/mAP", "val/rank1", "val/rank5", "val/rank10", "val/mINP", "train/loss_epoch", "train/acc_epoch"):
        assert k in t.callback_metrics, sorted(t.callback_metrics)


def test_triplet_loss_falls():
    pl.seed_everything(0)
    m = TripletMethod(backbone=BACKBONE, input=INPUT, margin=0.3, optimizer={**SGD, "lr": 3e-3}, scheduler={"name": "none"})
    rec = LossRecorder()
    trainer(4, callbacks=[rec]).fit(m, DataLoader(IdentityImages(), batch_size=16, shuffle=True))
    means = epoch_means(rec.losses, 2)
    assert means[-1] < 0.7 * means[0], means


def test_moco_loss_falls():
    pl.seed_everything(0)
    m = MoCoMethod(**{**MOCO, "proj_hidden": 64, "proj_dim": 16, "queue_size": 16}, scheduler={"name": "none"})
    rec = LossRecorder()
    trainer(5, callbacks=[rec]).fit(m, DataLoader(TwoViews(n=32), batch_size=16, shuffle=True))
    means = epoch_means(rec.losses, 2)
    # Epoch 0 starts against the random initial queue (easy negatives), so the loss first rises
    # as real keys fill the queue; compare from epoch 1, when the queue holds only real keys.
    assert means[-1] < 0.75 * means[1], means


def test_moco_resume_restores_queue_pointer_and_key_encoder(tmp_path):
    pl.seed_everything(0)
    m = MoCoMethod(**{**MOCO, "queue_size": 8, "momentum": 0.5})
    t = trainer(1, limit_train_batches=3)
    with pytest.warns(UserWarning, match="queue_size"):
        t.fit(m, DataLoader(TwoViews(n=12), batch_size=4))
    path = tmp_path / "moco.ckpt"
    t.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)  # plain hparams: loads without unpickling code
    assert ckpt["hyper_parameters"]["method"] == "moco"
    assert int(m.queue.ptr) == (3 * 4) % 8 and int(m.queue.ptr) != 0
    fresh = MoCoMethod(**{**MOCO, "queue_size": 8})
    assert not torch.equal(fresh.queue.keys, m.queue.keys)
    loaded = MoCoMethod.load_from_checkpoint(path)
    assert torch.equal(loaded.queue.keys, m.queue.keys) and int(loaded.queue.ptr) == int(m.queue.ptr)
    for name in ("backbone_k", "head_k", "backbone"):
        a, b = getattr(m, name).state_dict(), getattr(loaded, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert dict(loaded.hparams) == dict(m.hparams)
