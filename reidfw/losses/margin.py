"""Combined angular-margin softmax head: the paper's loss (1).

    L = -log( e^{s(cos(m1·θ_y + m2) − m3)} / (e^{s(cos(m1·θ_y + m2) − m3)} + Σ_{j≠y} e^{s·cos θ_j}) )

m1 is SphereFace's multiplicative margin, m2 ArcFace's additive angular margin and
m3 CosFace's additive cosine margin; θ_j is the angle between the embedding and the
(L2-normalised) weight row of class j.

Numerical convention (where m1·θ + m2 leaves [0, π])
-----------------------------------------------------
cos(m1·θ + m2) stops decreasing once m1·θ + m2 passes π, so a target pushed further
away would get a *larger* logit and be rewarded for it. We follow insightface's
"th/mm" convention (the one its ArcFace head uses): below the threshold angle
θ_th = (π − m2) / m1 the exact formula is used, beyond it the target logit falls back
to the CosFace-style ``cos θ − m3 − mm``. We pick it because the paper's ArcFace model
was trained with insightface, so with m1 = 1 the logits here equal insightface's
bit for bit (``mm = m2·sin m2``). insightface's constant alone is only monotone when
m1 = 1, so for SphereFace-style m1 > 1 ``mm`` is raised to ``1 + cos θ_th``, the
smallest value for which the fallback starts at or below the value the exact formula
reaches at θ_th (−1 − m3). The target logit is then non-increasing in θ over [0, π]
for every preset. (``easy_margin=True`` is insightface's other option: margin only
where cos θ > 0, plain cos θ elsewhere; it is not monotone at θ = π/2 by design.)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# acos has an infinite derivative at ±1; keep cosines strictly inside (−1, 1).
COS_EPS = 1e-7


class MarginOutput(NamedTuple):
    loss: torch.Tensor  # scalar cross-entropy
    logits: torch.Tensor  # (B, C) scaled logits with the margin applied to the target
    cos: torch.Tensor  # (B, C) plain cosines, for accuracy / monitoring


class CombinedMarginHead(nn.Module):
    """Normalised-weight classifier with the combined (m1, m2, m3) margin and cross-entropy.

    ``forward(embeddings (B, embed_dim), labels (B,) long) -> MarginOutput``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_classes: int,
        s: float,
        m1: float = 1.0,
        m2: float = 0.0,
        m3: float = 0.0,
        easy_margin: bool = False,
    ):
        super().__init__()
        if embed_dim <= 0 or num_classes <= 1:
            raise ValueError(
                f"CombinedMarginHead needs embed_dim > 0 and num_classes > 1, got {embed_dim}, {num_classes}; "
                "num_classes comes from the training set's identity count."
            )
        if m1 < 1.0 or m2 < 0.0 or m3 < 0.0:
            raise ValueError(f"margins must satisfy m1 >= 1, m2 >= 0, m3 >= 0 (got m1={m1}, m2={m2}, m3={m3}).")
        if m2 > math.pi / 2:
            raise ValueError(f"m2={m2} rad is above π/2; additive angular margins are ~0.1–0.7 rad (ArcFace uses 0.5).")
        self.embed_dim, self.num_classes = int(embed_dim), int(num_classes)
        self.s, self.m1, self.m2, self.m3 = float(s), float(m1), float(m2), float(m3)
        self.easy_margin = bool(easy_margin)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.embed_dim))
        nn.init.normal_(self.weight, std=0.01)  # insightface's init; only the direction matters
        # θ_th: beyond it m1·θ + m2 > π (see module docstring). With m1·π + m2 <= π there is none.
        self.theta_th = min(math.pi, (math.pi - self.m2) / self.m1)
        self.mm = max(self.m2 * math.sin(self.m2), 1.0 + math.cos(self.theta_th)) if self.theta_th < math.pi else 0.0

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_classes={self.num_classes}, s={self.s}, "
            f"m1={self.m1}, m2={self.m2}, m3={self.m3}, easy_margin={self.easy_margin}"
        )

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, C) cosine between each embedding and each class centre."""
        # At least fp32 (fp16 inputs are upcast), fp64 kept for exact checks.
        dtype = torch.promote_types(embeddings.dtype, torch.float32)
        return F.linear(F.normalize(embeddings.to(dtype), dim=1), F.normalize(self.weight.to(dtype), dim=1))

    def target_logit(self, cos_y: torch.Tensor) -> torch.Tensor:
        """Unscaled target logit ψ(θ_y) for target cosines ``cos_y`` (any shape)."""
        cos_y = cos_y.clamp(-1.0 + COS_EPS, 1.0 - COS_EPS)
        theta = torch.acos(cos_y)
        exact = torch.cos(self.m1 * theta + self.m2) - self.m3
        if self.easy_margin:
            return torch.where(cos_y > 0, exact, cos_y)
        if self.theta_th >= math.pi:
            return exact
        fallback = cos_y - self.m3 - self.mm
        return torch.where(theta <= self.theta_th, exact, fallback)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> MarginOutput:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embed_dim:
            raise ValueError(
                f"expected embeddings of shape (B, {self.embed_dim}), got {tuple(embeddings.shape)}; "
                "embed_dim must equal the backbone's embed_dim."
            )
        labels = labels.long()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.num_classes}), got range [{int(labels.min())}, {int(labels.max())}]; "
                "set num_classes to the training set's identity count and relabel identities to 0..N-1."
            )
        # Margin maths in fp32 even under AMP: fp16 cosines near ±1 lose the margin entirely.
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            cos = self.cosine(embeddings)
            cos_y = cos.gather(1, labels[:, None])
            logits = cos.scatter(1, labels[:, None], self.target_logit(cos_y)) * self.s
            loss = F.cross_entropy(logits, labels)
        return MarginOutput(loss, logits, cos.detach())


# kind -> which margin the single `margin` number sets (its value is the recipe's: conf/loss/<kind>.yaml)
PRESETS = {"arcface": "m2", "cosface": "m3", "sphereface": "m1"}


def margin_head(
    kind: str,
    embed_dim: int,
    num_classes: int,
    s: float,
    margin: float | None = None,
    easy_margin: bool = False,
    m1: float | None = None,
    m2: float | None = None,
    m3: float | None = None,
) -> CombinedMarginHead:
    """Build a preset head: ``arcface`` (m2 = margin), ``cosface`` (m3 = margin), ``sphereface``
    (m1 = margin), or ``combined`` (give m1, m2, m3 explicitly; ``margin`` is not used)."""
    kind = kind.lower()
    if kind == "combined":
        if margin is not None:
            raise ValueError("kind='combined' takes m1, m2, m3, not margin; use arcface/cosface/sphereface for one margin.")
        return CombinedMarginHead(
            embed_dim, num_classes, s=s, m1=1.0 if m1 is None else m1, m2=0.0 if m2 is None else m2,
            m3=0.0 if m3 is None else m3, easy_margin=easy_margin,
        )
    if kind not in PRESETS:
        raise ValueError(f"unknown margin head kind {kind!r}; choices: {sorted(PRESETS) + ['combined']}.")
    if any(v is not None for v in (m1, m2, m3)):
        raise ValueError(f"kind={kind!r} sets its margin from `margin`; pass m1/m2/m3 only with kind='combined'.")
    if margin is None:
        raise ValueError(f"kind={kind!r} needs margin= (ArcFace's recipe uses 0.5; see conf/loss/{kind}.yaml).")
    lowest = 1.0 if PRESETS[kind] == "m1" else 0.0  # SphereFace multiplies the angle: 1 is no margin
    if not float(margin) >= lowest:
        from reidfw.errors import ConfigValueError

        raise ConfigValueError(
            f"margin={margin}", f"the {kind} margin >= {lowest:g} ({lowest:g} = no margin)", f"{margin}",
            f"set margin= to a value >= {lowest:g} (the recipe's: conf/loss/{kind}.yaml)",
        )
    margins = {"m1": 1.0, "m2": 0.0, "m3": 0.0, PRESETS[kind]: float(margin)}
    return CombinedMarginHead(embed_dim, num_classes, s=s, easy_margin=easy_margin, **margins)
