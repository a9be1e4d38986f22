"""Scoring trackers against ground truth: TrackEval's HOTA/IDF1/MOTA and curated-track purity."""
from __future__ import annotations

from pathlib import Path

import pytest

from reidfw.data.formats.tracks import write_tracks_table
from reidfw.synthetic.generators.video import GT_FILE, read_mot_gt
from reidfw.evaluation.mot import mot_metrics
from reidfw.evaluation.track_purity import track_purity


def _gt_lines(clip):
    return [line.split(",") for line in (clip / GT_FILE).read_text().splitlines()]


def _write_result(path: Path, lines) -> Path:
    path.write_text("".join(f"{f},{i},{x},{y},{w},{h},1,-1,-1,-1\n" for f, i, x, y, w, h in lines))
    return path


def test_ground_truth_as_tracker_scores_one(clip, tmp_path):
    res = _write_result(tmp_path / "perfect.txt", [row[:6] for row in _gt_lines(clip)])
    scores = mot_metrics({"clip": (clip, res)})["COMBINED"]
    for key in ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "Recall", "Precision"):
        assert scores[key] == pytest.approx(1.0), key
    assert scores["IDSW"] == 0


def test_an_identity_swap_costs_what_idf1_defines(clip, tmp_path):
    rows = [row[:6] for row in _gt_lines(clip) if row[6] == "1"]
    swapped = [[f, {"1": "2", "2": "1"}.get(i, i) if int(f) > 20 else i, x, y, w, h] for f, i, x, y, w, h in rows]
    res = _write_result(tmp_path / "swap.txt", swapped)
    ours = mot_metrics({"clip": (clip, res)})["COMBINED"]
    assert ours["AssA"] < 1.0 and ours["MOTA"] < 1.0 and ours["IDSW"] >= 1
    # IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN) under the best one-to-one id mapping (Ristani et al.): every box
    # is right except those of people 1 and 2 on one side of the swap, whichever side is shorter.
    count = lambda pid, late: sum(1 for f, i, *_ in rows if i == pid and (int(f) > 20) == late)   # noqa: E731
    idtp = len(rows) - count("1", False) - count("2", False) - count("1", True) - count("2", True) \
        + max(count("1", False) + count("2", False), count("1", True) + count("2", True))
    assert ours["IDF1"] == pytest.approx(idtp / len(rows), abs=1e-9) and ours["IDF1"] < 1.0


def _tracks_from_gt(root: Path, clip, merge: tuple[int, int] | None = None) -> Path:
    rows = []
    for f, people in read_mot_gt(clip).items():
        for pid, (x, y, w, h), conf, vis in people:
            if conf == 0:
                continue
            tid = f"t{merge[0] if merge and pid in merge else pid}"
            rows.append({"track_id": tid, "frame": f - 1, "camera": "c", "x": x, "y": y, "w": w, "h": h,
                         "path": f"{tid}/{f:07d}.jpg"})
    write_tracks_table(root, rows)
    return root


def test_purity_of_clean_and_merged_tracks(clip, tmp_path):
    gt = read_mot_gt(clip)
    clean = track_purity(_tracks_from_gt(tmp_path / "clean", clip), gt)
    assert clean["purity_mean"] == 1.0 and clean["identities_recovered"] == 1.0 and clean["tracks_per_identity"] == 1.0
    merged = track_purity(_tracks_from_gt(tmp_path / "merged", clip, merge=(1, 2)), gt)
    n1 = sum(1 for rows in gt.values() for p in rows if p[0] == 1 and p[2] == 1)
    n2 = sum(1 for rows in gt.values() for p in rows if p[0] == 2 and p[2] == 1)
    assert merged["tracks"] == clean["tracks"] - 1
    assert merged["purity_crops"] == pytest.approx(1 - min(n1, n2) / merged["crops"])
    assert merged["identities_recovered"] == pytest.approx((clean["identities"] - 1) / clean["identities"])
