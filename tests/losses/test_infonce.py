"""InfoNCE against a hand computation; MoCoQueue ring-buffer behaviour."""
import math

import pytest
import torch
import torch.nn.functional as F

from reidfw.losses.infonce import MoCoQueue, info_nce


def test_info_nce_logits_labels_and_loss_by_hand():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1).requires_grad_(True)
    k = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(5, 4, dtype=torch.float64), dim=1)
    tau = 0.07
    loss, logits, labels = info_nce(q, k, queue, tau)
    assert logits.shape == (3, 6)
    assert labels.dtype == torch.long and labels.tolist() == [0, 0, 0]
    total = 0.0
    q_ = q.detach()
    for i in range(3):
        pos = math.exp(float(q_[i] @ k[i]) / tau)
        negs = sum(math.exp(float(q_[i] @ queue[j]) / tau) for j in range(5))
        total += -math.log(pos / (pos + negs))
    assert loss.item() == pytest.approx(total / 3, rel=1e-6)
    assert logits[1, 0].item() == pytest.approx(float(q_[1] @ k[1]) / tau)
    assert logits[2, 3].item() == pytest.approx(float(q_[2] @ queue[2]) / tau)
    loss.backward()
    assert torch.isfinite(q.grad).all()


def test_info_nce_sends_no_gradient_to_keys_or_queue():
    q = torch.randn(2, 4, requires_grad=True)
    k = torch.randn(2, 4, requires_grad=True)
    queue = torch.randn(3, 4, requires_grad=True)
    info_nce(q, k, queue, tau=0.07)[0].backward()
    assert q.grad is not None and k.grad is None and queue.grad is None


def test_info_nce_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="projection dim"):
        info_nce(torch.randn(2, 4), torch.randn(2, 4), torch.randn(3, 5), tau=0.07)


def test_queue_init_is_unit_norm_and_pointer_is_a_saved_buffer():
    qu = MoCoQueue(dim=8, size=10)
    assert torch.allclose(qu.keys.norm(dim=1), torch.ones(10))
    sd = qu.state_dict()
    assert set(sd) == {"keys", "ptr"} and sd["ptr"].item() == 0


def test_queue_wraps_around_when_size_not_multiple_of_batch():
    qu = MoCoQueue(dim=2, size=10)
    a, b, c = (torch.full((4, 2), float(v)) + torch.arange(4.0)[:, None] / 10 for v in (1, 2, 3))
    qu.enqueue(a)
    assert qu.ptr.item() == 4
    qu.enqueue(b)
    assert qu.ptr.item() == 8
    qu.enqueue(c)  # rows 8, 9 <- c[0:2]; rows 0, 1 <- c[2:4]
    assert qu.ptr.item() == 2
    expected = torch.cat([c[2:4], a[2:4], b, c[0:2]])
    assert torch.equal(qu.keys, expected)


def test_queue_batch_larger_than_queue_keeps_the_newest():
    qu = MoCoQueue(dim=1, size=3)
    qu.enqueue(torch.tensor([[0.0]]))  # ptr 1
    qu.enqueue(torch.arange(1.0, 6.0)[:, None])  # 5 keys: 1..5, only 3, 4, 5 survive
    assert qu.ptr.item() == (1 + 5) % 3
    # FIFO order from the pointer: oldest survivor (3) sits at the pointer
    order = torch.roll(qu.keys[:, 0], -qu.ptr.item())
    assert order.tolist() == [3.0, 4.0, 5.0]


def test_queue_pointer_restored_from_state_dict():
    a = MoCoQueue(dim=2, size=5)
    a.enqueue(torch.ones(3, 2))
    b = MoCoQueue(dim=2, size=5)
    b.load_state_dict(a.state_dict())
    assert b.ptr.item() == 3 and torch.equal(a.keys, b.keys)


def test_info_nce_is_computed_in_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(8, 32), dim=1)
    k = F.normalize(torch.randn(8, 32), dim=1)
    queue = F.normalize(torch.randn(4096, 32), dim=1)
    ref_loss, ref_logits, _ = info_nce(q, k, queue, tau=0.07)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, logits, _ = info_nce(q, k, queue, tau=0.07)
        # what a bf16 matmul would have given: logit errors of ~0.05 at tau = 0.07
        bf16 = (q.bfloat16() @ queue.bfloat16().t()).float() / 0.07
    assert logits.dtype == torch.float32 and loss.dtype == torch.float32
    torch.testing.assert_close(logits, ref_logits)
    torch.testing.assert_close(loss, ref_loss)
    assert (bf16 - ref_logits[:, 1:]).abs().max() > 1e-2  # the error the fp32 path avoids
