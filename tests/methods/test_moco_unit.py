"""MoCoMethod pieces on one process: EMA, frozen key encoder, split BN, key order, queue warning."""
import warnings

import pytest
import pytorch_lightning as pl
import torch
import torch.nn as nn
from reid_synth import MOCO, H, W, TwoViews
from torch.utils.data import DataLoader

from reidfw.methods.moco import MoCoMethod
from reidfw.methods.split_bn import SplitBatchNorm, convert_split_bn


def tiny_moco(**kw) -> MoCoMethod:
    return MoCoMethod(**{**MOCO, **kw})


def test_momentum_update_formula():
    torch.manual_seed(0)
    m = tiny_moco(momentum=0.9)
    with torch.no_grad():
        for p in [*m.backbone.parameters(), *m.head_q.parameters()]:
            p.add_(torch.randn_like(p))
    q_before = [p.detach().clone() for p in [*m.backbone.parameters(), *m.head_q.parameters()]]
    k_before = [p.detach().clone() for p in [*m.backbone_k.parameters(), *m.head_k.parameters()]]
    m.momentum_update()
    k_after = [*m.backbone_k.parameters(), *m.head_k.parameters()]
    assert len(k_after) == len(q_before)
    for kb, qb, ka in zip(k_before, q_before, k_after):
        torch.testing.assert_close(ka, 0.9 * kb + 0.1 * qb)


def test_key_encoder_gets_no_gradient_and_queue_advances():
    m = tiny_moco()
    x = torch.randn(4, 3, H, W)
    loss = m.training_step({"view1": x, "view2": x + 0.1}, 0)
    loss.backward()
    assert all(p.grad is None for p in [*m.backbone_k.parameters(), *m.head_k.parameters()])
    assert all(p.grad is not None for p in m.head_q.parameters())
    assert int(m.queue.ptr) == 4


def test_state_dict_holds_queue_pointer_and_key_encoder():
    keys = tiny_moco().state_dict().keys()
    assert {"queue.keys", "queue.ptr"} <= set(keys)
    assert any(k.startswith("backbone_k.") for k in keys) and any(k.startswith("head_k.") for k in keys)


def test_split_bn_matches_per_group_batchnorm_and_eval_is_plain_bn():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    split = convert_split_bn(nn.Sequential(nn.BatchNorm2d(3)), 2)[0]
    assert isinstance(split, SplitBatchNorm)
    x = torch.randn(6, 3, 4, 4)
    out = split(x)
    for g in range(2):  # group g = samples g, g+2, g+4
        ref = nn.functional.batch_norm(x[g::2], None, None, training=True)
        torch.testing.assert_close(out[g::2], ref)
    # running stats: mean of the two groups' updates
    m0 = x[0::2].mean((0, 2, 3)); m1 = x[1::2].mean((0, 2, 3))
    torch.testing.assert_close(split.running_mean, 0.1 * (m0 + m1) / 2)
    split.eval(); bn.eval()
    bn.load_state_dict(split.state_dict())
    torch.testing.assert_close(split(x), bn(x))


def test_single_device_shuffle_restores_key_order():
    torch.manual_seed(0)
    m = tiny_moco(split_bn_groups=2)
    m.backbone_k.eval()  # per-sample keys: any reordering error would show
    x = torch.randn(6, 3, H, W)
    k, k_all = m.compute_keys(x)
    torch.testing.assert_close(k, m._encode_key(x))
    assert k_all is k


def test_warns_when_queue_is_not_much_smaller_than_dataset():
    m = tiny_moco(queue_size=20)
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with pytest.warns(UserWarning, match=r"queue_size=20 is not much smaller than the 32 training images"):
        trainer.fit(m, DataLoader(TwoViews(n=32), batch_size=8))
    m2 = tiny_moco(queue_size=8)
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        trainer.fit(m2, DataLoader(TwoViews(n=32), batch_size=8))
    assert not any("queue_size" in str(w.message) for w in rec)


def test_bad_batch_names_the_fix():
    with pytest.raises(KeyError, match="view1"):
        tiny_moco().training_step({"image": torch.randn(2, 3, H, W)}, 0)


def test_split_bn_in_both_encoders_and_eval_is_plain_bn(tmp_path):
    m = tiny_moco(split_bn_groups=2)
    for enc in (m.backbone, m.backbone_k):
        bns = [x for x in enc.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]
        assert bns and all(isinstance(x, SplitBatchNorm) and x.num_splits == 2 for x in bns)
    # what is exported and evaluated is a plain backbone with the same weights and outputs
    from reidfw.models import build_backbone

    plain = build_backbone("test_resnet", img_size=(H, W)).eval()
    plain.load_state_dict(m.backbone.state_dict())
    x = torch.randn(4, 3, H, W)
    m.backbone.eval()
    torch.testing.assert_close(m.backbone(x), plain(x))


def test_warns_when_shuffle_bn_has_one_split_group_on_one_device():
    m = tiny_moco(split_bn_groups=1, queue_size=4)
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with pytest.warns(UserWarning, match="split_bn_groups=1 on a single device"):
        trainer.fit(m, DataLoader(TwoViews(n=32), batch_size=8))
