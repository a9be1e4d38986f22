"""Has the embedding collapsed? Two numbers and a verdict in plain words.

A contrastive model that has not learned the person can map every crop to nearly the same
direction: then two different people score a cosine of 0.9 and its study matrices look
"robust" everywhere. Two measurements catch it, from features of many different people:

- the **impostor mean**: the mean cosine of different-identity pairs (and its 99th
  percentile). A healthy Re-ID embedding keeps strangers well apart (typically < 0.3);
- the **effective rank** (Roy & Vetterli 2007): exp of the entropy of the normalised
  singular values of the L2-normalised feature matrix, i.e. how many directions the
  features really use. A collapsed embedding uses one or two.

Verdicts (thresholds chosen so a verdict is never a close call on a healthy model):
collapsed when the impostor mean is >= 0.9 or the effective rank < 2; nearly collapsed when
the impostor mean is >= 0.5 (strangers are closer than orthogonal-ish, and raw similarity
says little); healthy otherwise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

COLLAPSED_MEAN = 0.9
COLLAPSED_RANK = 2.0
NEARLY_MEAN = 0.5


@dataclass
class CollapseCheck:
    impostor_mean: float
    impostor_p99: float
    effective_rank: float
    dim: int
    verdict: str  # "healthy" | "nearly collapsed" | "collapsed"

    def message(self, name: str = "the model") -> str:
        """One plain sentence for the terminal and the report."""
        numbers = (f"two different people score a cosine of {self.impostor_mean:.2f} on average (1 % of pairs above "
                   f"{self.impostor_p99:.2f}); the features use an effective rank of {self.effective_rank:.1f} of "
                   f"{self.dim} dimensions")
        if self.verdict == "healthy":
            return f"{name}: embedding healthy: {numbers}."
        return (f"{name}: the embedding has {self.verdict.upper()}: {numbers}. Its raw similarities are high for "
                "everyone, so they say little: read the calibrated (impostor z) numbers, and retrain or fix the recipe.")

    def metrics(self) -> dict[str, float]:
        return {"collapse/impostor_mean": self.impostor_mean, "collapse/impostor_p99": self.impostor_p99,
                "collapse/effective_rank": self.effective_rank}

    def to_json(self) -> dict:
        return asdict(self)


def effective_rank(feats: np.ndarray) -> float:
    s = np.linalg.svd(np.asarray(feats, np.float64), compute_uv=False)
    p = s / max(s.sum(), 1e-12)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def impostor_similarities(feats: np.ndarray, pids: np.ndarray, max_pairs: int = 200_000, seed: int = 0) -> np.ndarray:
    """Cosine similarities of up to ``max_pairs`` random different-identity pairs (pid -1, junk, left out)."""
    feats, pids = np.asarray(feats, np.float32), np.asarray(pids)
    keep = pids != -1
    feats, pids = feats[keep], pids[keep]
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(pids), 2 * max_pairs)
    j = rng.integers(0, len(pids), 2 * max_pairs)
    ok = pids[i] != pids[j]
    i, j = i[ok][:max_pairs], j[ok][:max_pairs]
    return np.einsum("nd,nd->n", feats[i], feats[j]).astype(np.float64)


def collapse_check(feats: np.ndarray, pids: np.ndarray, max_pairs: int = 200_000, seed: int = 0) -> CollapseCheck:
    """Measure L2-normalised ``feats`` of labelled images (pid -1 = junk, left out)."""
    sims = impostor_similarities(feats, pids, max_pairs, seed)
    if len(sims) == 0:
        raise ValueError("collapse_check needs images of at least two different people")
    mean, p99 = float(sims.mean()), float(np.percentile(sims, 99))
    rows = np.asarray(feats, np.float32)[np.random.default_rng(seed).permutation(len(feats))[:4096]]  # enough for the spectrum
    rank = effective_rank(rows)
    return CollapseCheck(mean, p99, rank, int(feats.shape[1]), verdict(mean, rank))


def verdict(impostor_mean: float, rank: float) -> str:
    if impostor_mean >= COLLAPSED_MEAN or rank < COLLAPSED_RANK:
        return "collapsed"
    return "nearly collapsed" if impostor_mean >= NEARLY_MEAN else "healthy"
