"""ReIDMethod: hyper-parameters, registry, optimizer/schedule, retrieval validation."""
import math

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from reid_synth import BACKBONE, INPUT, MOCO, SGD, RetrievalImages, install_fake_retrieval
from torch.utils.data import DataLoader

from reidfw.methods import METHODS, ArcFaceMethod, MoCoMethod, TripletMethod, build_method
from reidfw.methods.base import lr_factor


def is_plain(v) -> bool:
    if isinstance(v, dict):
        return all(isinstance(k, str) and is_plain(x) for k, x in v.items())
    if isinstance(v, list):
        return all(is_plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


def test_hparams_are_plain_python_with_method_and_backbone():
    cfg = OmegaConf.create({"backbone": {"name": "test_resnet"}, "head": {"kind": "cosface", "margin": 0.4, "s": 30.0}})
    m = ArcFaceMethod(backbone=cfg.backbone, input=OmegaConf.create(INPUT), num_classes=5, head=cfg.head,
                      optimizer=OmegaConf.create({**SGD, "lr": 0.01}))
    hp = dict(m.hparams)
    assert is_plain(hp), hp
    assert hp["method"] == "arcface"
    assert hp["backbone"] == {"name": "test_resnet", "kwargs": {}}
    # the input spec is recorded whole: the given size, the backbone's own normalisation (timm's test_resnet: 0.5)
    assert hp["input"]["size"] == [64, 32] and hp["input"]["mean"] == [0.5, 0.5, 0.5] and hp["input"]["fill"] == [128] * 3
    assert hp["head"] == {"kind": "cosface", "margin": 0.4, "s": 30.0}
    assert hp["optimizer"]["lr"] == 0.01 and hp["optimizer"]["name"] == "sgd"
    assert m.head.m3 == 0.4 and m.head.s == 30.0
    assert m.backbone.embed_dim == m.embed_dim


def test_registry_and_unknown_names():
    assert METHODS == {"arcface": ArcFaceMethod, "moco": MoCoMethod, "triplet": TripletMethod}
    triplet = dict(backbone=BACKBONE, input=INPUT, margin=0.3, optimizer=SGD)
    assert isinstance(build_method("triplet", method="triplet", **triplet), TripletMethod)
    with pytest.raises(ValueError, match=r"choices: \['arcface', 'moco', 'triplet'\]"):
        build_method("simclr", backbone=BACKBONE)
    with pytest.raises(ValueError, match="backbone.kwargs"):
        TripletMethod(**{**triplet, "backbone": {"name": "test_resnet", "drop_rate": 0.1}})
    with pytest.raises(ValueError, match=r"choices: \['adamw', 'sgd'\]"):
        TripletMethod(**{**triplet, "optimizer": {"name": "lamb"}})
    with pytest.raises(ValueError, match=r"needs \['momentum'\]"):
        TripletMethod(**{**triplet, "optimizer": {"name": "sgd", "lr": 0.1, "weight_decay": 0.0}})
    with pytest.raises(ValueError, match="num_classes"):
        ArcFaceMethod(backbone=BACKBONE, num_classes=0, head={"kind": "arcface", "margin": 0.5, "s": 64.0}, optimizer=SGD)
    with pytest.raises(ValueError, match="head.margin is required"):
        ArcFaceMethod(backbone=BACKBONE, num_classes=3, head={"kind": "arcface", "s": 64.0}, optimizer=SGD)


def test_lr_schedule_warmup_then_cosine_and_step():
    sched = {"name": "cosine", "min_lr_ratio": 0.1, "milestones": [], "gamma": 0.1}
    f = [lr_factor(s, 100, 10, sched, 10.0) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # linear warmup over 10 steps
    assert f[10] == pytest.approx(1.0)
    assert f[55] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    step = {"name": "step", "min_lr_ratio": 0.0, "milestones": [3, 6], "gamma": 0.1}
    assert [lr_factor(s, 100, 0, step, 10.0) for s in (29, 30, 60)] == pytest.approx([1.0, 0.1, 0.01])


def test_optimizer_skips_frozen_key_encoder():
    m = MoCoMethod(**MOCO)
    ids = {id(p) for p in m.trainable_parameters()}
    assert ids == {id(p) for p in [*m.backbone.parameters(), *m.head_q.parameters()]}
    assert not any(p.requires_grad for p in [*m.backbone_k.parameters(), *m.head_k.parameters()])


def test_validation_gathers_embeddings_and_logs_metrics(monkeypatch):
    calls = []
    install_fake_retrieval(monkeypatch, calls)
    ds = RetrievalImages(n_classes=3, per_class=4)
    m = TripletMethod(backbone=BACKBONE, input=INPUT, margin=0.3, optimizer=SGD)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    metrics = trainer.validate(m, DataLoader(ds, batch_size=5), verbose=False)[0]
    assert set(metrics) == {"val/mAP", "val/rank1", "val/rank5", "val/rank10", "val/mINP",
                            "val/impostor_mean", "val/impostor_p99", "val/effective_rank"}  # + the collapse check
    (c,) = calls
    assert c["qf"].shape == (6, m.embed_dim) and c["gf"].shape == (6, m.embed_dim)
    assert sorted(c["q_pids"].tolist()) == [0, 0, 1, 1, 2, 2] and (c["q_cams"] == 0).all() and (c["g_cams"] == 1).all()
    assert abs(float((c["qf"] ** 2).sum(1).mean()) - 1.0) < 1e-5  # L2-normalised
