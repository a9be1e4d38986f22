"""Calibrated study numbers: a collapsed embedding cannot look robust, intervals cover the truth."""
from __future__ import annotations

import numpy as np
import pytest

from reidfw.evaluation.calibration import (
    ImpostorSource,
    calibrate_factor,
    difference,
    interval,
    pooled_impostors,
    resolved,
    summary,
)

STUDY = ImpostorSource("study", "constructed impostors")
D = 64


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def constructed(rng, identity_weight: float, common_weight: float, drift: float = 0.0, K: int = 3, n: int = 5, m: int = 20):
    """Features of one subject (n images per condition) and m impostors under K conditions.

    Every feature = common direction * common_weight + the person's own direction * identity_weight
    + image noise. identity_weight 0 = an embedding that carries no identity at all; a large
    common_weight = everything scores high (a collapsed embedding). ``drift`` > 0 makes every
    condition after the first move the subject's look towards someone else (a change of clothes)."""
    common = unit(rng.normal(size=D))
    subject, people = unit(rng.normal(size=D)), unit(rng.normal(size=(m, D)))
    looks = [subject] + [unit(subject + drift * unit(rng.normal(size=D))) for _ in range(K - 1)]
    noise = lambda *s: 1.2 * rng.normal(size=(*s, D)) / np.sqrt(D)  # noqa: E731
    groups = [unit(common_weight * common + identity_weight * looks[k] + noise(n)) for k in range(K)]
    imps = [unit(common_weight * common + identity_weight * people + noise(m)) for k in range(K)]
    return groups, imps


def test_a_collapsed_embedding_gets_chance_a_good_one_near_one():
    rng = np.random.default_rng(0)
    # collapsed: one direction dominates and carries no identity: raw cosines ~0.98 everywhere
    groups, imps = constructed(rng, identity_weight=0.0, common_weight=6.0)
    cal = calibrate_factor(groups, imps, STUDY, np.random.default_rng(1), replicates=200)
    s = summary(cal, standard=0)
    assert s["raw"]["robustness"][0] > 0.97  # the paper's ratio calls it "robust"
    assert cal.mean[0][np.isfinite(cal.mean[0])].min() > 0.9
    assert abs(s["z"]["robustness"][0] - 0.5) < 0.15  # calibrated: chance
    # good: the person's direction dominates: the person beats every stranger under every condition
    groups, imps = constructed(rng, identity_weight=3.0, common_weight=0.5)
    cal = calibrate_factor(groups, imps, STUDY, np.random.default_rng(1), replicates=200)
    s = summary(cal, standard=0)
    assert s["z"]["robustness"][0] > 0.98 and s["z"]["within_mean"][0] > 3
    lo, hi = interval(s["z"]["robustness"])
    assert lo <= s["z"]["robustness"][0] <= hi


def test_a_factor_that_moves_the_person_off_identity_loses_strangers_beaten():
    rng = np.random.default_rng(2)
    groups, imps = constructed(rng, identity_weight=1.0, common_weight=0.5, drift=0.0)
    steady = summary(calibrate_factor(groups, imps, STUDY, np.random.default_rng(3), replicates=200), 0)["z"]
    groups, imps = constructed(rng, identity_weight=1.0, common_weight=0.5, drift=3.0)
    hurt = summary(calibrate_factor(groups, imps, STUDY, np.random.default_rng(3), replicates=200), 0)["z"]
    assert steady["robustness"][0] > hurt["robustness"][0] + 0.1
    assert hurt["across_mean"][0] < hurt["within_mean"][0]


def test_bootstrap_intervals_cover_the_known_mean():
    # the population mean of a cell's genuine similarity, from a huge sample of the same generator
    rng = np.random.default_rng(4)
    centre = unit(rng.normal(size=D))
    draw = lambda k: unit(centre + 0.9 * rng.normal(size=(k, D)) / np.sqrt(D) * 4)  # noqa: E731
    big = draw(4000)
    truth = float((big[:2000] @ big[2000:].T).mean())
    covered, runs = 0, 150
    for i in range(runs):
        groups = [draw(6), draw(6)]
        cal = calibrate_factor(groups, None, ImpostorSource("none", ""), np.random.default_rng(100 + i), replicates=400)
        lo, hi = interval(cal.mean[:, 0, 1])
        covered += lo <= truth <= hi
    assert 0.85 <= covered / runs <= 1.0, covered / runs  # nominal 95 %


def test_paired_differences_of_two_models_on_one_study():
    rng = np.random.default_rng(5)
    a_groups, a_imps = constructed(rng, identity_weight=3.0, common_weight=0.5)
    b_groups, b_imps = constructed(rng, identity_weight=1.0, common_weight=0.5, drift=3.0)
    # the same seed gives both models the same resamples, so their difference is paired
    a = summary(calibrate_factor(a_groups, a_imps, STUDY, np.random.default_rng(9), 300), 0)["z"]["robustness"]
    b = summary(calibrate_factor(b_groups, b_imps, STUDY, np.random.default_rng(9), 300), 0)["z"]["robustness"]
    d, lo, hi = difference(a, b)
    assert d > 0 and resolved(lo, hi)
    d, lo, hi = difference(a, a)
    assert d == 0 and not resolved(lo, hi)


def test_pooled_impostors_from_a_retrieval_set():
    rng = np.random.default_rng(6)
    feats = unit(rng.normal(size=(300, D)))
    pids = np.repeat(np.arange(100), 3)
    src = pooled_impostors(feats, pids, "a retrieval set")
    assert src.kind == "retrieval" and abs(src.mean) < 0.05 and 0.05 < src.std < 0.2
    groups, _ = constructed(rng, identity_weight=3.0, common_weight=0.0)
    cal = calibrate_factor(groups, None, src, np.random.default_rng(0), replicates=100)
    assert np.allclose(cal.z[0], (cal.mean[0] - src.mean) / src.std, equal_nan=True)
    assert np.nanmin(cal.beaten[0]) > 0.99
    with pytest.raises(ValueError, match="fewer than two"):
        pooled_impostors(feats[:3], np.zeros(3), "one person")
