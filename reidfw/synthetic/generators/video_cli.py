"""The ``video`` subcommand of ``python -m reidfw.synthetic``: one fixed-camera clip with ground truth."""
from __future__ import annotations

import argparse
import time

from reidfw.synthetic.generators.video import generate_video
from reidfw.synthetic.scene import BACKGROUNDS


def add_video_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("video", help="render a fixed camera's clip with MOTChallenge ground truth (gt/gt.txt)")
    s.add_argument("--out", required=True, help="output folder (MOTChallenge sequence layout)")
    s.add_argument("--seed", type=int, default=0, help="same seed -> identical pixels")
    s.add_argument("--people", type=int, default=6, help="walkers (pairs of them cross and occlude each other)")
    s.add_argument("--seconds", type=float, default=6.0)
    s.add_argument("--fps", type=float, default=10.0)
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=360)
    s.add_argument("--hfov", type=float, default=60.0, help="horizontal field of view, degrees")
    s.add_argument("--background", choices=BACKGROUNDS, default="street")
    s.add_argument("--mp4", action="store_true", help="also write video.mp4 (MPEG-4) next to the img1/ frames")
    s.add_argument("--workers", type=int, default=None, help="worker processes (results do not depend on it)")
    return s


def run_video(args) -> int:
    t0 = time.perf_counter()
    out = generate_video(args.out, seed=args.seed, people=args.people, seconds=args.seconds, fps=args.fps,
                         width=args.width, height=args.height, hfov=args.hfov, background=args.background,
                         mp4=args.mp4, workers=args.workers)
    print(f"video: wrote {out} in {time.perf_counter() - t0:.1f} s"
          + (f" (video file: {out / 'video.mp4'})" if args.mp4 else f" (frames: {out / 'img1'})"))
    return 0
