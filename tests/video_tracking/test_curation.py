"""Curation rules: every rule removes what it says, and the summary counts it under that rule."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reidfw.video_tracking.curation import CurationRules, crop_reason, curate, identity_switches
from reidfw.video_tracking.measures import occlusion, sharpness

W, H = 640, 360
RULES = CurationRules(min_height=64, min_width=20, max_aspect=0.75, border_px=2, min_sharpness=15, max_occlusion=0.3,
                      dedup_iou=0.8, dedup_max_gap=15, max_crops_per_track=64, min_track_frames=8, min_crops=4)


def row(track, frame, box=None, sharp=100.0, occ=0.0, dx=12.0):
    """A walker moving dx px per frame: consecutive boxes are not duplicates unless dx is small."""
    box = box or [100 + dx * frame, 100, 140 + dx * frame, 200]
    return {"track": track, "frame": frame, "box": box, "score": 0.9, "sharpness": sharp, "occlusion": occ,
            "crop": f"part-00000/{track}_{frame:07d}.jpg"}


@pytest.mark.parametrize("r, reason", [
    (row(1, 0, [100, 100, 140, 150]), "tiny"),                     # 50 px tall
    (row(1, 0, [100, 100, 110, 200]), "tiny"),                     # 10 px wide
    (row(1, 0, [100, 100, 200, 200]), "wide"),                     # as wide as tall: two people, not one
    (row(1, 0, [0, 100, 40, 200]), "truncated"),
    (row(1, 0, [100, 100, 140, H]), "truncated"),
    (row(1, 0, sharp=3.0), "blurred"),
    (row(1, 0, occ=0.5), "occluded"),
    (row(1, 0), None),
])
def test_crop_rules(r, reason):
    assert crop_reason(r, RULES, W, H) == reason


def test_tracks_kept_split_dropped_and_counted():
    rows = [row(1, f) for f in range(20)]                                        # a clean 20-frame track
    rows += [row(2, f) for f in range(5)]                                        # too short
    rows += [row(3, f, sharp=1.0) for f in range(10)] + [row(3, f) for f in range(10, 12)]   # mostly blurred
    rows += [row(4, f, dx=0.5) for f in range(30)]                               # standing still: duplicates
    decisions, summary = curate(rows, RULES, W, H, "cam7")
    by = {d.track_id: d for d in decisions}
    assert set(by) == {"cam7_t00001", "cam7_t00002", "cam7_t00003", "cam7_t00004"}
    assert by["cam7_t00001"].reason is None and len(by["cam7_t00001"].kept) == 20
    assert by["cam7_t00002"].reason == "short"
    assert by["cam7_t00003"].reason == "few_crops"
    kept4 = by["cam7_t00004"].kept
    # 0.5 px per frame: the IoU with the last kept box (40 px wide) falls below 0.8 after 9 frames.
    assert by["cam7_t00004"].reason is None and [r["frame"] for r in kept4] == [0, 9, 18, 27]
    assert summary["kept_tracks"] == sum(d.reason is None for d in decisions)
    assert summary["dropped_tracks"]["short"] == 1 and summary["dropped_tracks"]["few_crops"] >= 1
    assert summary["dropped_crops"]["blurred"] == 10 and summary["dropped_crops"]["duplicate"] == 26
    assert summary["dropped_crops"]["short"] == 5


def test_duplicates_and_cap():
    rules = CurationRules(**{**RULES.__dict__, "max_crops_per_track": 5, "min_crops": 2})
    rows = [row(1, f, dx=2.0) for f in range(40)]        # moves slowly: IoU with the last kept stays high for a while
    (d,), summary = curate(rows, rules, W, H, "c")
    frames = [r["frame"] for r in d.kept]
    assert len(frames) == 5 and frames == sorted(frames)
    assert summary["dropped_crops"]["duplicate"] > 0 and summary["dropped_crops"]["over_cap"] > 0
    assert summary["dropped_crops"]["duplicate"] + summary["dropped_crops"]["over_cap"] + 5 == 40


def _two_people(n_a, n_b, dim=16, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=dim), rng.normal(size=dim)
    emb = np.array([*(a + noise * rng.normal(size=dim) for _ in range(n_a)),
                    *(b + noise * rng.normal(size=dim) for _ in range(n_b))])
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def test_identity_switch_found_where_the_appearance_jumps():
    assert identity_switches(_two_people(12, 9), threshold=0.5, window=3, min_segment=4) == [12]
    assert identity_switches(_two_people(20, 0), threshold=0.5, window=3, min_segment=4) == []
    three = np.concatenate([_two_people(8, 8, seed=1), _two_people(0, 8, seed=2)])
    assert identity_switches(three, 0.5, 3, 4) == [8, 16]


def test_curate_splits_a_track_with_an_embedding_model():
    rows = [row(5, f) for f in range(21)]
    emb = _two_people(12, 9)
    (first, second), summary = curate(rows, RULES, W, H, "cam", embed=lambda rs: emb[[r["frame"] for r in rs]])
    assert (first.track_id, second.track_id) == ("cam_t00005", "cam_t00005_2")
    assert [r["frame"] for r in first.kept] == list(range(12)) and [r["frame"] for r in second.kept] == list(range(12, 21))
    assert summary["identity_switch_splits"] == 1 and summary["kept_tracks"] == 2


def test_sharpness_and_occlusion_measures():
    rng = np.random.default_rng(0)
    sharp = (rng.random((200, 80)) * 255).astype(np.uint8)
    assert sharpness(cv2.GaussianBlur(sharp, (0, 0), 3)) < 0.1 * sharpness(sharp)
    box = np.array([100, 100, 140, 200.0])
    nearer = np.array([[120, 100, 160, 220.0]])      # its bottom is lower: it stands in front
    farther = np.array([[120, 90, 160, 180.0]])
    assert occlusion(box, nearer) == pytest.approx(0.5)
    assert occlusion(box, farther) == 0.0
