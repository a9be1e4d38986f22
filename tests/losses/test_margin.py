"""CombinedMarginHead against the paper's loss (1) computed by hand."""
import math

import pytest
import torch

from reidfw.losses.margin import CombinedMarginHead, margin_head


def unit(angle: float) -> list[float]:
    return [math.cos(angle), math.sin(angle)]


def make_head(m1=1.0, m2=0.0, m3=0.0, s=10.0, **kw) -> CombinedMarginHead:
    """3 classes in 2-D at angles 0, 2π/3, 4π/3 (weights deliberately not unit length: the head normalises)."""
    head = CombinedMarginHead(2, 3, s=s, m1=m1, m2=m2, m3=m3, **kw)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([unit(0.0), unit(2 * math.pi / 3), unit(4 * math.pi / 3)]) * 3.0)
    return head


def hand_loss(angles, labels, s, psi):
    """Mean over samples of -log softmax, target logit s·psi(θ_y), others s·cos θ_j."""
    centres = [0.0, 2 * math.pi / 3, 4 * math.pi / 3]
    total = 0.0
    for a, y in zip(angles, labels):
        logits = []
        for j, c in enumerate(centres):
            cos = math.cos(a - c)
            logits.append(s * psi(math.acos(max(-1.0, min(1.0, cos))), cos) if j == y else s * cos)
        lse = math.log(sum(math.exp(v) for v in logits))
        total += lse - logits[y]
    return total / len(angles)


def run(head, angles, labels):
    emb = torch.tensor([unit(a) for a in angles], dtype=torch.float64) * 2.0  # norm 2: the head normalises
    head = head.double()
    emb.requires_grad_(True)
    out = head(emb, torch.tensor(labels))
    out.loss.backward()
    assert torch.isfinite(emb.grad).all() and torch.isfinite(head.weight.grad).all()
    return out


# sample angles: θ_y small, mid, and near π (class 0 at angle 0, so θ_0 = |angle|)
ANGLES = [0.3, 1.2, 3.0, 2.5]
LABELS = [0, 0, 0, 1]


def test_arcface_matches_formula_including_theta_plus_m_beyond_pi():
    m = 0.5
    head = make_head(m2=m)

    def psi(theta, cos):
        # θ + m <= π: the formula; beyond (θ = 3.0 here): insightface's cos θ − m·sin m
        return math.cos(theta + m) if theta <= math.pi - m else cos - m * math.sin(m)

    out = run(head, ANGLES, LABELS)
    assert out.loss.item() == pytest.approx(hand_loss(ANGLES, LABELS, 10.0, psi), rel=1e-6)
    # the θ = 3.0 sample really is in the fallback branch
    assert 3.0 + m > math.pi
    assert out.logits[2, 0].item() == pytest.approx(10.0 * (math.cos(3.0) - m * math.sin(m)), rel=1e-6)


def test_cosface_matches_formula():
    m = 0.35
    out = run(make_head(m3=m), ANGLES, LABELS)
    assert out.loss.item() == pytest.approx(hand_loss(ANGLES, LABELS, 10.0, lambda t, c: c - m), rel=1e-6)


def test_sphereface_matches_formula_and_fallback():
    m1 = 1.35
    th = math.pi / m1
    mm = 1.0 + math.cos(th)  # continuity constant for m1 > 1 (m2 = 0)

    def psi(theta, cos):
        return math.cos(m1 * theta) if theta <= th else cos - mm

    out = run(make_head(m1=m1), ANGLES, LABELS)
    assert 2.5 > th  # one sample in the fallback branch
    assert out.loss.item() == pytest.approx(hand_loss(ANGLES, LABELS, 10.0, psi), rel=1e-6)


def test_combined_margins_match_formula():
    m1, m2, m3 = 1.0, 0.3, 0.2
    out = run(make_head(m1=m1, m2=m2, m3=m3), [0.3, 1.2], [0, 1])
    psi = lambda t, c: math.cos(m1 * t + m2) - m3  # noqa: E731  (both θ far from the threshold)
    assert out.loss.item() == pytest.approx(hand_loss([0.3, 1.2], [0, 1], 10.0, psi), rel=1e-6)


@pytest.mark.parametrize("kw", [dict(m2=0.5), dict(m3=0.4), dict(m1=1.35), dict(m1=2.0, m2=0.3, m3=0.1), dict(m2=1.2)])
def test_target_logit_is_monotonic_in_theta(kw):
    head = make_head(**kw).double()
    theta = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    psi = head.target_logit(torch.cos(theta))
    assert (psi[1:] - psi[:-1] <= 1e-12).all()


def test_gradients_finite_at_cos_exactly_plus_minus_one():
    head = make_head(m2=0.5)
    emb = torch.tensor([unit(0.0), unit(math.pi)], requires_grad=True)  # cos_y = +1 and -1 exactly
    out = head(emb, torch.tensor([0, 0]))
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.isfinite(emb.grad).all() and torch.isfinite(head.weight.grad).all()


def test_easy_margin_uses_plain_cosine_when_negative():
    head = make_head(m2=0.5, easy_margin=True).double()
    cos = torch.tensor([0.8, -0.3], dtype=torch.float64)
    psi = head.target_logit(cos)
    assert psi[0].item() == pytest.approx(math.cos(math.acos(0.8) + 0.5))
    assert psi[1].item() == pytest.approx(-0.3)


def test_presets_set_the_right_margin():
    a, c = margin_head("arcface", 8, 4, s=64.0, margin=0.4), margin_head("cosface", 8, 4, s=30.0, margin=0.4)
    s = margin_head("sphereface", 8, 4, s=64.0, margin=1.5)
    assert (a.m1, a.m2, a.m3, a.s) == (1.0, 0.4, 0.0, 64.0) and c.s == 30.0
    assert (c.m1, c.m2, c.m3) == (1.0, 0.0, 0.4)
    assert (s.m1, s.m2, s.m3) == (1.5, 0.0, 0.0)
    comb = margin_head("combined", 8, 4, s=64.0, m1=1.0, m2=0.3, m3=0.2)
    assert (comb.m1, comb.m2, comb.m3) == (1.0, 0.3, 0.2)
    with pytest.raises(ValueError, match="choices"):
        margin_head("normface", 8, 4, s=64.0)
    with pytest.raises(ValueError, match="combined"):
        margin_head("arcface", 8, 4, s=64.0, m3=0.1)
    with pytest.raises(ValueError, match="needs margin="):
        margin_head("arcface", 8, 4, s=64.0)


def test_bad_labels_and_shapes_raise_clear_errors():
    head = make_head(m2=0.5)
    with pytest.raises(ValueError, match="num_classes"):
        head(torch.randn(2, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="embed_dim"):
        head(torch.randn(2, 5), torch.tensor([0, 1]))
