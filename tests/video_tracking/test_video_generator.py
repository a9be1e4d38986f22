"""The synthetic video generator: MOTChallenge files that agree with each other and with the pixels."""
from __future__ import annotations

import configparser

import cv2
import numpy as np

from reidfw.synthetic.generators.video import GT_FILE, read_mot_gt
from tests.video_tracking.conftest import CLIP


def _iou(a, b):
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    return ix * iy / (aw * ah + bw * bh - ix * iy)


def test_seqinfo_frames_video_and_gt_agree(clip):
    ini = configparser.ConfigParser()
    ini.read(clip / "seqinfo.ini")
    seq = ini["Sequence"]
    n = int(seq["seqLength"])
    assert n == int(CLIP["seconds"] * CLIP["fps"]) and float(seq["frameRate"]) == CLIP["fps"]
    frames = sorted((clip / seq["imDir"]).glob(f"*{seq['imExt']}"))
    assert [f.name for f in frames] == [f"{i:06d}.jpg" for i in range(1, n + 1)]
    first = cv2.imread(str(frames[0]))
    assert first.shape == (int(seq["imHeight"]), int(seq["imWidth"]), 3)
    cap = cv2.VideoCapture(str(clip / "video.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == n


def test_gt_rows_are_valid_mot(clip):
    lines = (clip / GT_FILE).read_text().splitlines()
    assert lines
    for line in lines:
        f, i, x, y, w, h, conf, cls, vis = line.split(",")
        f, i, conf, cls = int(f), int(i), int(conf), int(cls)
        x, y, w, h, vis = map(float, (x, y, w, h, vis))
        assert 1 <= f <= 40 and 1 <= i <= CLIP["people"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= CLIP["width"] and y + h <= CLIP["height"]
        assert 0.0 <= vis <= 1.0 and (conf, cls) == ((1, 1) if vis >= 0.25 else (0, 8))   # 8: MOT16 "distractor"


def test_people_cross_occlude_enter_and_leave(clip):
    gt = read_mot_gt(clip)
    frames_of: dict[int, list[int]] = {}
    for f, rows in gt.items():
        for pid, *_ in rows:
            frames_of.setdefault(pid, []).append(f)
    assert len(frames_of) == CLIP["people"]
    # Somebody is partly hidden behind somebody else (visibility < 1 while boxes overlap).
    occluded = [(f, r) for f, rows in gt.items() for r in rows if r[3] < 0.9]
    assert occluded
    assert any(_iou(a[1], b[1]) > 0.1 for rows in gt.values() for a in rows for b in rows if a[0] < b[0])
    # Walkers enter or leave during the clip, not all in view from the first frame to the last.
    assert any(min(fs) > 1 or max(fs) < 40 for fs in frames_of.values())


def test_gt_boxes_sit_on_the_people(clip):
    """Inside a fully visible person's box the frame differs from the same place a second later (the person moved)."""
    gt = read_mot_gt(clip)
    checked = 0
    for f in range(1, 31):
        for pid, (x, y, w, h), conf, vis in gt.get(f, []):
            if vis < 1.0 or h < 40:
                continue
            later = {p: b for p, b, *_ in gt.get(f + 10, [])}
            if pid in later and _iou((x, y, w, h), later[pid]) > 0.05:
                continue                      # still in about the same place: nothing to compare with
            a = cv2.imread(str(clip / "img1" / f"{f:06d}.jpg")).astype(np.int16)
            b = cv2.imread(str(clip / "img1" / f"{f + 10:06d}.jpg")).astype(np.int16)
            x0, y0, x1, y1 = int(x), int(y), int(x + w), int(y + h)
            inside = np.abs(a[y0:y1, x0:x1] - b[y0:y1, x0:x1]).max(axis=2) > 40
            assert inside.mean() > 0.2, f"frame {f} person {pid}: the box does not cover the person"
            checked += 1
    assert checked >= 3


def test_same_seed_same_pixels_whatever_the_workers(clip, tmp_path):
    from reidfw.synthetic.generators.video import generate_video

    again = generate_video(tmp_path / "again", **CLIP, workers=2)          # the fixture rendered with workers=1
    assert (again / GT_FILE).read_text() == (clip / GT_FILE).read_text()
    for i in (1, 17, 40):
        a = cv2.imread(str(again / "img1" / f"{i:06d}.jpg"))
        b = cv2.imread(str(clip / "img1" / f"{i:06d}.jpg"))
        assert np.array_equal(a, b)
