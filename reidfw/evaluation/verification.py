"""Pair verification: "are these two crops the same person?" answered by a similarity threshold.

These are the numbers behind the paper's judgment that ArcFace is
precision-first (similarity rarely high, but right when it is) and MoCo
recall-first: TAR at a fixed FAR, precision at a fixed recall, and the full
ROC / precision-recall curves.

Pairs come from a gallery (all same-identity pairs across cameras, and
different-identity pairs) or from query x gallery (with the retrieval rules:
same pid + same camera excluded, junk ignored). Negative pairs grow
quadratically (Market-1501: ~50M); above ``max_negatives`` a fixed-seed
uniform sample is taken, which changes FAR estimates only by sampling noise
(2M negatives leave 2,000 false accepts at FAR 1e-3).

Definitions (ties in score are kept together: a threshold accepts all pairs
with score >= t):
* TAR@FAR=f: the highest true-accept rate over thresholds whose false-accept rate is <= f.
* precision@recall=r: the highest precision over thresholds whose recall is >= r
  (the usual interpolated precision).
* AUC: area under the ROC (trapezoid); AP: area under the PR curve (step sum).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from reidfw.data.formats.market import DISTRACTOR_PID, JUNK_PID

FARS = (1e-3, 1e-2)
RECALLS = (0.5, 0.9)
_CURVE_POINTS = 1000


def gallery_pairs(
    feats: np.ndarray,
    pids: np.ndarray,
    cams: np.ndarray | None = None,
    max_negatives: int = 2_000_000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels) over pairs i < j of one set; junk (pid -1) dropped.

    Positives: all same-pid pairs (in different cameras when ``cams`` is given —
    a same-camera pair is tracking, not Re-ID). Negatives: all different-pid
    pairs, or a uniform sample of ``max_negatives`` when there are more.
    Distractors (pid 0) are people who match nothing: two of them are two different people,
    a negative pair, never a genuine one.
    """
    feats = np.asarray(feats, np.float32)
    pids = np.asarray(pids, np.int64)
    keep = pids != JUNK_PID
    feats, pids = feats[keep], pids[keep]
    cams = np.asarray(cams, np.int64)[keep] if cams is not None else np.zeros(len(pids), np.int64)
    pos = []
    for p in np.unique(pids[pids != DISTRACTOR_PID]):
        idx = np.flatnonzero(pids == p)
        if len(idx) < 2:
            continue
        i, j = np.triu_indices(len(idx), k=1)
        i, j = idx[i], idx[j]
        ok = cams[i] != cams[j] if cams.any() else np.ones(len(i), bool)
        pos.append(np.einsum("nd,nd->n", feats[i[ok]], feats[j[ok]]))
    pos_scores = np.concatenate(pos) if pos else np.zeros(0, np.float32)
    n = len(pids)
    n_pairs = n * (n - 1) // 2
    distractor = pids == DISTRACTOR_PID
    if n_pairs - len(pos_scores) <= max_negatives:
        neg = []
        for s in range(0, n, 512):
            sims = feats[s : s + 512] @ feats.T
            rows = np.arange(s, min(s + 512, n))[:, None]
            cols = np.arange(n)[None, :]
            mask = (cols > rows) & ((pids[rows] != pids[cols]) | distractor[rows])
            neg.append(sims[mask])
        neg_scores = np.concatenate(neg) if neg else np.zeros(0, np.float32)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, size=2 * max_negatives)
        j = rng.integers(0, n, size=2 * max_negatives)
        ok = (pids[i] != pids[j]) | (distractor[i] & (i != j))
        i, j = i[ok][:max_negatives], j[ok][:max_negatives]
        neg_scores = np.einsum("nd,nd->n", feats[i], feats[j])
    return _join(pos_scores, neg_scores)


def query_gallery_pairs(
    qf, q_pids, q_cams, gf, g_pids, g_cams, max_negatives: int = 2_000_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels) over query x gallery pairs with the retrieval exclusion rules."""
    qf, gf = np.asarray(qf, np.float32), np.asarray(gf, np.float32)
    q_pids, q_cams = np.asarray(q_pids, np.int64), np.asarray(q_cams, np.int64)
    g_pids, g_cams = np.asarray(g_pids, np.int64), np.asarray(g_cams, np.int64)
    real = g_pids[g_pids != JUNK_PID]
    ids, counts = np.unique(real, return_counts=True)
    per_pid = dict(zip(ids.tolist(), counts.tolist()))
    n_neg_total = sum(len(real) - per_pid.get(p, 0) for p in q_pids.tolist())
    keep_prob = min(1.0, max_negatives / max(n_neg_total, 1))
    rng = np.random.default_rng(seed)
    pos, neg = [], []
    for s in range(0, len(qf), 256):
        sims = qf[s : s + 256] @ gf.T
        qp, qc = q_pids[s : s + 256, None], q_cams[s : s + 256, None]
        valid = (g_pids[None] != JUNK_PID) & ~((g_pids[None] == qp) & (g_cams[None] == qc))
        same = (g_pids[None] == qp) & (qp != DISTRACTOR_PID)  # a distractor matches nothing
        pos.append(sims[valid & same])
        negmask = valid & ~same
        if keep_prob < 1.0:  # Bernoulli thinning keeps the sample uniform over all negative pairs
            negmask &= rng.random(negmask.shape) < keep_prob
        neg.append(sims[negmask])
    return _join(np.concatenate(pos), np.concatenate(neg))


def _join(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.concatenate([pos, neg]).astype(np.float64)
    labels = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    return scores, labels


def roc_pr(scores: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Exact curves at every distinct threshold (descending): tpr, fpr, precision, thresholds."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, bool)
    P, N = int(labels.sum()), int((~labels).sum())
    if P == 0 or N == 0:
        raise ValueError(
            f"verification needs both same-identity and different-identity pairs; got {P} positive and "
            f"{N} negative pairs (does the gallery hold at least one identity in two cameras?)"
        )
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each distinct score
    tp, fp, thr = tp[last], fp[last], s[last]
    return {
        "thresholds": thr,
        "tpr": tp / P,
        "fpr": fp / N,
        "precision": tp / (tp + fp),
        "num_pos": P,
        "num_neg": N,
    }


def verification_metrics(scores: np.ndarray, labels: np.ndarray, fars: Sequence[float] = FARS, recalls: Sequence[float] = RECALLS) -> dict:
    """TAR@FAR, precision@recall, AUC, AP and the thresholds behind them; plus downsampled curves."""
    c = roc_pr(scores, labels)
    tpr, fpr, prec, thr = c["tpr"], c["fpr"], c["precision"], c["thresholds"]
    out: dict = {"num_pos": c["num_pos"], "num_neg": c["num_neg"]}
    for f in fars:
        ok = fpr <= f
        i = int(np.argmax(np.where(ok, tpr, -1))) if ok.any() else None
        out[f"tar_at_far_{f:g}"] = float(tpr[i]) if i is not None else 0.0
        out[f"threshold_at_far_{f:g}"] = float(thr[i]) if i is not None else float("inf")
    for r in recalls:
        ok = tpr >= r - 1e-12
        i = int(np.argmax(np.where(ok, prec, -1)))  # recall reaches 1 at the last threshold: ok is never empty
        out[f"precision_at_recall_{r:g}"] = float(prec[i])
        out[f"threshold_at_recall_{r:g}"] = float(thr[i])
    f0, t0 = np.r_[0.0, fpr], np.r_[0.0, tpr]
    out["auc"] = float(np.sum(np.diff(f0) * (t0[1:] + t0[:-1]) / 2))
    out["ap"] = float(np.sum(np.diff(t0) * prec))
    out["curves"] = _downsample(c)
    return out


def _downsample(c: dict) -> dict:
    """At most ~1000 points per curve, for plotting and JSON."""
    n = len(c["tpr"])
    idx = np.unique(np.r_[np.linspace(0, n - 1, min(n, _CURVE_POINTS)).round().astype(int), n - 1])
    return {k: c[k][idx].tolist() for k in ("thresholds", "tpr", "fpr", "precision")}


def scalar_metrics(v: dict) -> dict[str, float]:
    """The numbers of :func:`verification_metrics` without the curves."""
    return {k: float(x) for k, x in v.items() if k != "curves" and isinstance(x, (int, float)) and math.isfinite(float(x))}


def plot_roc(curves: Sequence[tuple[str, dict]], path: str | Path) -> Path:
    """ROC of one or more models (FAR on a log axis: the operating region is FAR <= 1e-2)."""
    from reidfw.evaluation.figures import plt, save_figure  # matplotlib only when plotting

    fig, ax = plt.subplots(figsize=(5.5, 4.5), constrained_layout=True)
    for name, v in curves:
        cv = v["curves"]
        fpr = np.maximum(np.asarray(cv["fpr"]), 1e-6)
        ax.plot(fpr, cv["tpr"], label=f"{name} (AUC {v['auc']:.3f}, TAR@1e-3 {v.get('tar_at_far_0.001', float('nan')):.3f})")
    for f in FARS:
        ax.axvline(f, color="gray", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1)
    _label(ax, "false accept rate (FAR)", "true accept rate (TAR)", "Verification ROC", "lower right")
    return save_figure(fig, path)


def plot_pr(curves: Sequence[tuple[str, dict]], path: str | Path) -> Path:
    """Precision-recall of one or more models."""
    from reidfw.evaluation.figures import plt, save_figure  # matplotlib only when plotting

    fig, ax = plt.subplots(figsize=(5.5, 4.5), constrained_layout=True)
    for name, v in curves:
        cv = v["curves"]
        ax.plot(cv["tpr"], cv["precision"], label=f"{name} (AP {v['ap']:.3f})")
    for r in RECALLS:
        ax.axvline(r, color="gray", lw=0.6, ls=":")
    ax.set_xlim(0, 1)
    _label(ax, "recall", "precision", "Verification precision-recall", "lower left")
    return save_figure(fig, path)


def _label(ax, xlabel: str, ylabel: str, title: str, legend_loc: str) -> None:
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc=legend_loc)
