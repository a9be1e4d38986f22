"""Where a cosine similarity comes from: the similarity of two crops split over their feature-map cells.

Two images a, b; the last feature maps ``f_a`` (C, h_a, w_a) and ``f_b``; embeddings ``e_a``, ``e_b``;
``N = |e_a| |e_b|``. Whenever the head that turns the map into the embedding is *affine*,

    e = sum_p u_p + beta                (u_p: what cell p adds to the embedding; beta: a constant)

the cosine splits exactly over pairs of cells (Stylianou et al., "Visualizing Deep Similarity
Networks", WACV 2019, for GAP; the FC-head form below is reidfw's):

    cos(a, b) = sum_{p,q} <u_a,p, u_b,q> / N          cell pairs
              + sum_p <u_a,p, beta> / N + sum_q <beta, u_b,q> / N   cells x head bias
              + <beta, beta> / N                         head bias x head bias

The per-image map is the marginal ``map_a[p] = <u_a,p, e_b> / N`` (cell p of a against all of b),
so ``cos = map_a.sum() + bias_a`` with ``bias_a = <beta, e_b> / N``, and the same for b.

Three methods, chosen per model:

- ``gap`` (reid_resnet, any timm model whose head is global average pooling, checked numerically on
  the pair itself): ``u_p = f[:, p] / (h w)``, ``beta = 0``. Exact; the biases are 0.
- ``fc-head`` (insightface iresnet: bn2 -> flatten -> dropout -> fc -> features BN1d). In eval mode
  every step is affine: bn2 is ``g(x) = s * x + t`` per channel, dropout is the identity, the fc is
  ``W vec(g) + b`` and the features BN is ``s' * (z - mu') + beta'``. So with ``W_p`` the fc columns
  that read cell p,

      u_p  = s' * W_p g(f[:, p])                   what the fc reads from cell p (bn2's shift included)
      beta = s' * (b - mu') + beta'                the head's own constant

  Exact. **What the bias means**: ``beta`` does not depend on the image at all -- it is the fc bias
  minus the features BN's running mean (the average embedding of the training crops), plus that BN's
  learned shift: the head's centring of the embedding space. ``bias_a = <beta, e_b> / N`` is the part of
  the similarity no region of image a is responsible for: how well b's embedding lines up with that
  constant. It is usually small; a large one says the model's similarities are partly a constant
  offset (a sign of a collapsing embedding). Cells in the letterbox fill are regions too: their
  share is reported separately.
- ``gradient`` (any other model): gradient x activation on the last feature map of the linearised
  similarity ``<e_a, e_b / |e_b|> / |e_a|`` (|e_a| and e_b held fixed) -- Grad-CAM's product without
  its channel averaging or ReLU, so the map is signed. For a GAP head it reproduces the exact map (a
  test checks it); otherwise it is a first-order approximation, labelled ``approximate`` everywhere,
  and ``cos - map.sum()`` is reported as the unexplained remainder. Models without a feature map
  (e.g. ViT tokens) get gradient x input at the pixels, pooled into 8x8-pixel cells.

Gradients of the cosine itself are useless here: the cosine does not change when an embedding is
scaled, so by Euler's theorem gradient x activation of it sums to zero over the cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GAP, GAP_BN, FC_HEAD, GRADIENT = "gap", "gap-bn", "fc-head", "gradient"
METHOD_TITLES = {
    GAP: "exact (GAP: cell-pair decomposition)",
    GAP_BN: "exact (GAP + BN neck: cells centred on the training mean)",
    FC_HEAD: "exact (FC head: cells + head bias)",
    GRADIENT: "APPROXIMATE (gradient x activation)",
}
# Cells of the pixel-level fallback (models without a spatial feature map): 8x8 input pixels.
PIXEL_CELL = 8
# Agreement required between the affine decomposition and the model's own forward before it is
# called exact (relative to the embedding's scale); a head that fails it is explained by gradients.
_AFFINE_RTOL = 1e-4


@dataclass
class PairAttribution:
    """The similarity of one pair of model inputs, split over their cells.

    ``cosine`` is the model's own cosine (its float32 forward). For exact methods
    ``map_a.sum() + bias_a == cosine`` (and for b) up to float rounding; ``pairs`` holds the
    cell-pair terms (h_a w_a, h_b w_b). For the gradient method ``bias_a`` is the unexplained
    remainder ``cosine - map_a.sum()`` and ``pairs`` is None.
    """

    cosine: float
    method: str
    map_a: np.ndarray  # (h_a, w_a)
    map_b: np.ndarray  # (h_b, w_b)
    bias_a: float
    bias_b: float
    pairs: np.ndarray | None = None  # (h_a * w_a, h_b * w_b)
    cells_bias_a: np.ndarray | None = None  # (h_a, w_a): <u_a,p, beta> / N
    cells_bias_b: np.ndarray | None = None
    bias_bias: float = 0.0  # <beta, beta> / N
    details: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.method != GRADIENT

    @property
    def title(self) -> str:
        return METHOD_TITLES[self.method]

    def residual(self) -> float:
        """|map_a.sum() + bias_a - cosine| (float rounding for exact methods)."""
        return float(max(abs(self.map_a.sum() + self.bias_a - self.cosine), abs(self.map_b.sum() + self.bias_b - self.cosine)))

    def summary(self) -> str:
        """One line: how the cosine splits."""
        if self.method == GAP:
            return f"cosine {self.cosine:.3f} = the sum of its cell pairs; exact (GAP head, no bias term)"
        if self.method == GAP_BN:
            return (f"cosine {self.cosine:.3f} = the sum of its cell pairs, each cell centred on the training set's "
                    "mean; exact (GAP + BN neck)")
        if self.method == FC_HEAD:
            cells = float(self.pairs.sum())
            cross = float(self.cells_bias_a.sum() + self.cells_bias_b.sum())
            return (f"cosine {self.cosine:.3f} = cell pairs {cells:+.3f} + cells x head bias {cross:+.3f} "
                    f"+ head bias x head bias {self.bias_bias:+.3f}; exact (FC head)")
        return (f"cosine {self.cosine:.3f} ~ map {self.map_a.sum():+.3f} (image A) / {self.map_b.sum():+.3f} (image B); "
                "APPROXIMATE (gradient x activation), the rest is unexplained")

    def to_json(self) -> dict:
        return {
            "cosine": self.cosine, "method": self.method, "exact": self.exact,
            "map_a": self.map_a.tolist(), "map_b": self.map_b.tolist(),
            "bias_a": self.bias_a, "bias_b": self.bias_b, "bias_bias": self.bias_bias,
            "cell_pairs_sum": None if self.pairs is None else float(self.pairs.sum()),
            "residual": self.residual(), **self.details,
        }


# --------------------------------------------------------------------------- affine heads


def not_explainable(model: nn.Module) -> str | None:
    """Why a model's similarities cannot be attributed to image regions (None when they can): a model
    with no trainable parameters -- the colour-histogram baseline, an ONNX export run by onnxruntime --
    has neither a feature map to decompose nor gradients to follow."""
    if not any(p.requires_grad for p in model.parameters()):
        return f"{type(model).__name__} has no differentiable parameters (a fixed baseline or an exported graph)"
    return None


def attribution_method(model: nn.Module) -> str:
    """The method a model gets by its structure (a GAP head is confirmed numerically per pair)."""
    from reidfw.models.iresnet import IResNet

    if isinstance(model, IResNet):
        return FC_HEAD
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        return GAP_BN if isinstance(getattr(model, "neck", None), nn.modules.batchnorm._BatchNorm) else GAP
    return GRADIENT


def _neck_affine(neck: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A BN neck in eval mode as a per-channel affine map ``e = s * pooled + t`` (float64)."""
    s = 1.0 / torch.sqrt(neck.running_var.double() + neck.eps)
    if neck.weight is not None:
        s = s * neck.weight.double()
    t = -neck.running_mean.double() * s
    if neck.bias is not None:
        t = t + neck.bias.double()
    return s, t


def _fc_head_cells(model: nn.Module, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """iresnet's head written as per-cell contributions: (B, h*w, D) and the constant (D,), float64."""
    bn2, fc, bn = model.bn2, model.fc, model.features
    B, C, h, w = fmap.shape
    s = (bn2.weight / torch.sqrt(bn2.running_var + bn2.eps)).double()
    t = bn2.bias.double() - bn2.running_mean.double() * s
    g = fmap.double() * s.view(1, C, 1, 1) + t.view(1, C, 1, 1)  # bn2 in eval: per-channel affine
    s_out = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).double()
    W = fc.weight.view(fc.out_features, C, h * w)  # torch.flatten(x, 1) order: channel-major, then cells
    cells = g.view(B, C, h * w)
    U = torch.empty(B, h * w, fc.out_features, dtype=torch.float64, device=fmap.device)
    # The fc of a 384x128 iresnet50 is 512 x 98,304: convert it to float64 a slice of cells at a time (~64 MB).
    step = max(1, (1 << 23) // (fc.out_features * C))
    for p0 in range(0, h * w, step):
        Wp = W[:, :, p0 : p0 + step].double().permute(2, 1, 0)  # (cells, C, D)
        U[:, p0 : p0 + step] = torch.einsum("bcp,pcd->bpd", cells[:, :, p0 : p0 + step], Wp)
    U = U * s_out
    beta = s_out * (fc.bias.double() - bn.running_mean.double()) + bn.bias.double()
    return U, beta


@dataclass
class ImageCells:
    """One image's embedding written as ``sum_p U[p] + beta`` (see the module docstring)."""

    method: str
    U: torch.Tensor  # (h*w, D) float64, CPU
    beta: torch.Tensor  # (D,) float64
    e: torch.Tensor  # (D,) the model's own float32 embedding
    shape: tuple[int, int]  # (h, w)


def image_cells(model: nn.Module, x: torch.Tensor, batch_size: int = 16) -> list[ImageCells]:
    """The exact per-cell contributions of a batch of model inputs (B, 3, H, W), in batches.

    The decomposition is checked against the model's own head; a head it does not reproduce
    (not GAP after all, or a module in training mode) raises ``ValueError``.
    """
    method = attribution_method(model)
    if method == GRADIENT:
        raise ValueError(f"{type(model).__name__} has no forward_features/forward_head: no exact decomposition")
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            fmap = model.forward_features(x[s : s + batch_size])
            if fmap.ndim != 4:
                raise ValueError(f"{type(model).__name__}.forward_features gives a {fmap.ndim}-d output, not a (B, C, h, w) map")
            e = model.forward_head(fmap)
            if isinstance(e, (tuple, list)):
                e = e[0]
            e = e.flatten(1)
            B, C, h, w = fmap.shape
            if method == FC_HEAD:
                U, beta = _fc_head_cells(model, fmap)
            else:
                if e.shape[1] != C:
                    raise ValueError(f"head output has {e.shape[1]} dims, the map {C} channels: not global average pooling")
                U = fmap.double().flatten(2).transpose(1, 2) / (h * w)
                beta = torch.zeros(C, dtype=torch.float64, device=fmap.device)
                if method == GAP_BN:
                    # e = s * mean_p f_p + t = sum_p (s * f_p + t) / hw: each cell carries an equal share of
                    # the neck's shift, i.e. its feature centred on the training set's mean. A separate bias
                    # term would be exact too, but large and cancelling (cells x bias ~ -2 x bias x bias).
                    s_neck, t_neck = _neck_affine(model.neck)
                    U = (U * s_neck + t_neck / (h * w)).contiguous()
            rebuilt = U.sum(1) + beta
            scale = float(e.double().norm(dim=1).max()) or 1.0
            err = float((rebuilt - e.double()).abs().max()) / scale
            if err > _AFFINE_RTOL:
                raise ValueError(f"the {method} decomposition does not reproduce {type(model).__name__}'s embedding "
                                 f"(relative error {err:.1e}); is the model in eval mode, is its head what it seems?")
            U, beta, e = U.cpu(), beta.cpu(), e.float().cpu()
            out += [ImageCells(method, U[i], beta, e[i], (h, w)) for i in range(B)]
    return out


def pair_from_cells(a: ImageCells, b: ImageCells) -> PairAttribution:
    """The exact split of the cosine of two images from their cells (see the module docstring)."""
    (ha, wa), (hb, wb) = a.shape, b.shape
    e_a, e_b = a.U.sum(0) + a.beta, b.U.sum(0) + b.beta  # float64 embeddings the terms below sum to
    N = float(e_a.norm() * e_b.norm())
    beta = a.beta
    cb_a, cb_b = (a.U @ beta) / N, (b.U @ beta) / N
    out = PairAttribution(
        cosine=float(F.cosine_similarity(a.e[None], b.e[None]).item()),  # what Embedder computes
        method=a.method,
        map_a=((a.U @ e_b) / N).view(ha, wa).numpy(),  # = pairs.sum(1) + cells_bias_a
        map_b=((b.U @ e_a) / N).view(hb, wb).numpy(),
        bias_a=float(beta @ e_b) / N, bias_b=float(beta @ e_a) / N,
        pairs=((a.U @ b.U.T) / N).numpy(),
        cells_bias_a=cb_a.view(ha, wa).numpy(), cells_bias_b=cb_b.view(hb, wb).numpy(),
        bias_bias=float(beta @ beta) / N,
    )
    out.details["cosine_float64"] = float((e_a @ e_b) / N)
    return out


def _exact(model: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor) -> PairAttribution:
    a, b = image_cells(model, torch.stack([x_a, x_b]))
    return pair_from_cells(a, b)


# --------------------------------------------------------------------------- gradient fallback


def _gradient(model: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor) -> PairAttribution:
    x = torch.stack([x_a, x_b]).detach()
    spatial = hasattr(model, "forward_features") and hasattr(model, "forward_head")
    with torch.enable_grad():
        if spatial:
            with torch.no_grad():
                fmap = model.forward_features(x)
            spatial = fmap.ndim == 4
        if spatial:
            act = fmap.detach().requires_grad_(True)
            e = model.forward_head(act)
        else:
            act = x.clone().requires_grad_(True)
            e = model(act)
        if isinstance(e, (tuple, list)):
            e = e[0]
        e = e.flatten(1).float()
        n = e.norm(dim=1).detach()
        # image a against b held fixed, and b against a held fixed, in one backward (the terms do not mix)
        s = (e[0] @ (e[1].detach() / n[1])) / n[0] + (e[1] @ (e[0].detach() / n[0])) / n[1]
        (grad,) = torch.autograd.grad(s, act)
    cam = (grad * act.detach()).sum(1)  # (2, h, w): gradient x activation summed over channels
    if not spatial:
        cam = F.avg_pool2d(cam[:, None], PIXEL_CELL, ceil_mode=True)[:, 0] * PIXEL_CELL**2  # sum-pool to 8x8 cells
    cos = float(F.cosine_similarity(e[0:1].detach(), e[1:2].detach()).item())
    map_a, map_b = cam[0].double().cpu().numpy(), cam[1].double().cpu().numpy()
    out = PairAttribution(cosine=cos, method=GRADIENT, map_a=map_a, map_b=map_b,
                          bias_a=cos - float(map_a.sum()), bias_b=cos - float(map_b.sum()))
    out.details["gradient_on"] = "feature map" if spatial else f"input pixels ({PIXEL_CELL}x{PIXEL_CELL} cells)"
    return out


def explain_pair(model: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, method: str | None = None) -> PairAttribution:
    """Split the cosine similarity of two model inputs (each (3, H, W), normalised) over their cells.

    ``method``: None picks the exact decomposition the model allows, else the gradient fallback;
    ``"gradient"`` forces the fallback (e.g. to compare it with the exact map).
    """
    model = model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    x_a, x_b = x_a.to(device), x_b.to(device)
    if method not in (None, GRADIENT):
        raise ValueError(f"method={method!r}: choose None (the best the model allows) or {GRADIENT!r}")
    if method is None and attribution_method(model) != GRADIENT:
        try:
            return _exact(model, x_a, x_b)
        except ValueError as e:
            fallback = _gradient(model, x_a, x_b)
            fallback.details["why_not_exact"] = str(e)
            return fallback
    return _gradient(model, x_a, x_b)


def explain_pairs(model: nn.Module, xs: torch.Tensor, pairs: list[tuple[int, int]]) -> list[PairAttribution]:
    """:func:`explain_pair` for many pairs of the inputs ``xs`` (N, 3, H, W): each image is run through the
    network once (the study's standard image is in every pair of its factor)."""
    model = model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    if attribution_method(model) != GRADIENT:
        try:
            cells = image_cells(model, xs.to(device))
        except ValueError as e:
            why = str(e)
        else:
            return [pair_from_cells(cells[i], cells[j]) for i, j in pairs]
    else:
        why = None
    out = [_gradient(model, xs[i].to(device), xs[j].to(device)) for i, j in pairs]
    if why:
        for att in out:
            att.details["why_not_exact"] = why
    return out
