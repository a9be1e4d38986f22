"""A similarity read against its null: the impostor distribution of the model that produced it.

Raw cosine similarity is not comparable across models: a nearly collapsed embedding scores
0.95 for everyone, a good one 0.3 for strangers and 0.8 for the same person. So every cell of
a study matrix is also read against **impostors**: the similarities between the subject and
*other people* photographed under the same two conditions (the study's impostors), or, when
a study has none, different-identity pairs of a retrieval set (one pooled distribution for
every cell). Two numbers come of it:

- per cell, the **impostor z-score** ``z = (s - mu_imp) / sigma_imp`` of the cell's mean
  similarity ``s`` (Z-norm score normalisation, the standard in speaker and face
  verification): 0 = as similar as a stranger. It keeps resolving cells that lie far above
  every impostor, so the calibrated heatmaps and the ``to_standard`` numbers use it;
- per cell, **strangers beaten**: the share of those impostor pairs that score below ``s``
  (1 - the false-accept rate a threshold at ``s`` would have). 0.5 is chance, 1 means the
  person, photographed this way, outscores every stranger photographed the same way.

The **calibrated robustness** of a factor is the mean of strangers-beaten over the cells where
the factor changes (off the diagonal): how reliably the person is still told from strangers
when the factor changes. A collapsed model, whose genuine and impostor similarities are
equally high, sits near 0.5 however high its raw cosines are; a model that keeps the person
apart under every change is near 1. (A ratio such as across / within — the paper's raw
robustness — is scale-free, so it would rate a collapsed model as robust again; that is why
the calibrated robustness is not a ratio.)

Uncertainty: a cluster bootstrap (:func:`bootstrap_weights`) resamples the subject's images
of each condition and the impostor people (not pairs: pairs sharing an image are not
independent). Every cell and summary number gets a 95 % percentile interval, and replicates
are kept so two models evaluated on the same study compare pair-wise (the same resamples
for both, so the interval of their *difference* is exact for that design).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP = 1000  # replicates; enough for stable 2.5 / 97.5 % percentiles
CI = (2.5, 97.5)


@dataclass
class ImpostorSource:
    """Where a model's impostor similarities come from, in words for the report."""

    kind: str  # "study" (condition-matched impostors of the manifest) | "retrieval" (pooled) | "none"
    description: str
    mean: float | None = None  # pooled mode: the one distribution every cell is read against
    std: float | None = None
    sample: np.ndarray | None = field(default=None, repr=False)  # pooled impostor similarities (for FAR)


def pooled_impostors(feats: np.ndarray, pids: np.ndarray, description: str, max_pairs: int = 200_000,
                     seed: int = 0) -> ImpostorSource:
    """The pooled impostor distribution of a labelled set: similarities of random different-identity pairs
    (junk, pid -1, left out)."""
    from reidfw.evaluation.collapse import impostor_similarities

    sims = impostor_similarities(feats, pids, max_pairs, seed)
    if len(sims) < 2:
        raise ValueError(f"{description}: fewer than two different-identity pairs; it cannot calibrate a study")
    return ImpostorSource("retrieval", description, float(sims.mean()), float(sims.std()), sims)


def bootstrap_weights(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates + 1, n) resampling counts; row 0 is the observed sample (all ones)."""
    w = np.ones((replicates + 1, n))
    if replicates:
        w[1:] = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
    return w


def _cell_mean(S: np.ndarray, ca: np.ndarray, cb: np.ndarray, diagonal: bool) -> np.ndarray:
    """Weighted mean similarity of one cell per replicate. On the diagonal, pairs of one image with
    itself (a self-similarity of 1) never count: resampled duplicates are not distinct images."""
    total = np.einsum("ri,ij,rj->r", ca, S, cb)
    if not diagonal:
        return total / (ca.sum(1) * cb.sum(1))
    same = (ca**2) @ np.diag(S)
    pairs = ca.sum(1) ** 2 - (ca**2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (total - same) / np.where(pairs > 0, pairs, 1), np.nan)


@dataclass
class FactorCalibration:
    """Per-cell arrays (K, K) of one factor, replicate 0 = the observed study."""

    mean: np.ndarray  # (R, K, K) raw mean genuine similarity per replicate
    z: np.ndarray | None  # (R, K, K) impostor z-score per replicate (None: no impostors)
    beaten: np.ndarray | None  # (R, K, K) share of impostor pairs scoring below the cell's mean similarity
    imp_mean: np.ndarray | None  # (K, K) observed impostor mean
    imp_std: np.ndarray | None

    def interval(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanpercentile(values[1:], CI, axis=0)
        return lo, hi


def calibrate_factor(
    groups: list[np.ndarray],
    impostors: list[np.ndarray] | None,
    source: ImpostorSource,
    rng: np.random.Generator,
    replicates: int = BOOTSTRAP,
) -> FactorCalibration:
    """Bootstrap the cells of one factor.

    ``groups[k]``: the subject's L2-normalised features in condition k (n_k, D);
    ``impostors[k]``: the impostors' features in condition k (m, D), rows in the same
    identity order for every k (the synthetic study writes them so); None in pooled mode.
    """
    K = len(groups)
    feats = [np.asarray(g, np.float64) for g in groups]
    C = [bootstrap_weights(len(f), replicates, rng) for f in feats]
    R = replicates + 1
    mean = np.full((R, K, K), np.nan)
    for a in range(K):
        for b in range(a, K):
            S = feats[a] @ feats[b].T
            mean[:, a, b] = mean[:, b, a] = _cell_mean(S, C[a], C[b], a == b)

    if source.kind == "study":
        imps = [np.asarray(x, np.float64) for x in impostors]
        W = bootstrap_weights(imps[0].shape[0], replicates, rng)  # impostor people, shared by all conditions
        X = [[feats[a] @ imps[b].T for b in range(K)] for a in range(K)]  # subject(a) x impostor(b)
        m1 = np.full((R, K, K), np.nan)
        sd = np.full((R, K, K), np.nan)
        beaten = np.full((R, K, K), np.nan)
        for a in range(K):
            for b in range(a, K):
                parts = [(X[a][b], C[a])] + ([(X[b][a], C[b])] if a != b else [])
                # every impostor pair of the cell and its resampling weight (subject image x impostor person)
                vals = np.concatenate([x.ravel() for x, _ in parts])
                wts = np.concatenate([(c[:, :, None] * W[:, None, :]).reshape(R, -1) for _, c in parts], axis=1)
                total = wts.sum(1)
                mu = wts @ vals / total
                var = wts @ vals**2 / total - mu**2
                below = (wts * (vals[None, :] < mean[:, a, b, None])).sum(1) / total
                m1[:, a, b] = m1[:, b, a] = mu
                sd[:, a, b] = sd[:, b, a] = np.sqrt(np.maximum(var, 1e-12))
                beaten[:, a, b] = beaten[:, b, a] = below
        return FactorCalibration(mean, (mean - m1) / sd, beaten, m1[0], sd[0])
    if source.kind == "retrieval":
        sample = np.sort(source.sample)
        beaten = np.searchsorted(sample, mean, side="left") / len(sample)
        beaten = np.where(np.isfinite(mean), beaten, np.nan)
        z = (mean - source.mean) / source.std
        return FactorCalibration(mean, z, beaten, np.full((K, K), source.mean), np.full((K, K), source.std))
    return FactorCalibration(mean, None, None, None, None)


def within_across(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate: the mean of the diagonal (within) and off the diagonal (across)."""
    K = cells.shape[-1]
    off = ~np.eye(K, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.diagonal(cells, axis1=1, axis2=2), axis=1), np.nanmean(cells[:, off], axis=1)


def summary(cal: FactorCalibration, standard: int) -> dict[str, dict[str, np.ndarray]]:
    """Replicates of every summary number, by scale: ``raw`` (the paper's: within, across, robustness =
    across / within, the standard's row) and, with impostors, ``z`` (within, across and the standard's
    row in impostor z; robustness = mean strangers beaten where the factor changes; see the module docstring)."""
    K = cal.mean.shape[-1]
    within, across = within_across(cal.mean)
    raw = {"within_mean": within, "across_mean": across,
           "robustness": np.where(within != 0, across / np.where(within != 0, within, 1.0), np.nan)}
    raw.update({f"to_standard/{k}": cal.mean[:, standard, k] for k in range(K)})
    out = {"raw": raw}
    if cal.z is not None:
        within_z, across_z = within_across(cal.z)
        beaten_within, beaten_across = within_across(cal.beaten)
        z = {"within_mean": within_z, "across_mean": across_z, "robustness": beaten_across,
             "strangers_beaten_within": beaten_within}
        z.update({f"to_standard/{k}": cal.z[:, standard, k] for k in range(K)})
        out["z"] = z
    return out


def interval(replicates: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of bootstrap replicates (row 0, the observed value, excluded)."""
    vals = np.asarray(replicates, float)[1:]
    vals = vals[np.isfinite(vals)]
    if len(vals) < 10:
        return math.nan, math.nan
    lo, hi = np.percentile(vals, CI)
    return float(lo), float(hi)


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(observed a - b, 95 % interval of the paired difference) from replicates drawn with the same resamples."""
    d = np.asarray(a, float) - np.asarray(b, float)
    lo, hi = interval(d)
    return float(d[0]), lo, hi


def resolved(lo: float, hi: float) -> bool:
    """An interval that excludes 0."""
    return math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)
