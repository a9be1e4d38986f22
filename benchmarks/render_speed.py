"""How fast the synthetic renderer makes crops, per generator and per crop size.

    .venv/bin/python benchmarks/render_speed.py [--workers 1] [--n 60]

Each generator renders a small set into a temporary folder (single process unless
--workers says otherwise; results are identical either way) and the script prints
crops per second. The per-size rows render one person at 4 m with the person box
capped at 64/128/256/512 px, so the cost of the crop-height cap is visible.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from reidfw.data.formats.image_io import list_images
from reidfw.data.formats.study_manifest import read_manifest
from reidfw.data.formats.tracks import read_tracks
from reidfw.synthetic.body import Pose
from reidfw.synthetic.camera import camera_facing
from reidfw.synthetic.cache import GENERATORS
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.render import render_person
from reidfw.synthetic.scene import Light, build_scene
from reidfw.synthetic.seeds import item_rng


def _count(kind: str, root: Path) -> int:
    if kind == "tracks":
        return len(read_tracks(root))
    if kind == "study":
        return sum(len(c.images) for f in read_manifest(root).factors for c in f.conditions)
    if kind == "market":
        return sum(len(list_images(root / d)) for d in ("bounding_box_train", "bounding_box_test", "query"))
    return len(list_images(root))


def bench_generators(n: int, workers: int) -> None:
    sizes = {
        "tracks": {"identities": max(1, n // 8), "per_identity": 8, "cameras": 2},
        "unlabeled": {"count": n},
        "study": {"per_condition": 2},
        "market": {"identities": max(2, n // 6), "per_identity": 4, "cameras": 6, "distractors": 2, "junk": 2},
    }
    print(f"generator    crops   seconds   crops/s   (workers={workers}, crop_height=256)")
    for kind, settings in sizes.items():
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            root = GENERATORS[kind](Path(tmp) / kind, seed=0, workers=workers, **settings)
            dt = time.perf_counter() - t0
            k = _count(kind, root)
            print(f"{kind:<12}{k:>6}{dt:>10.2f}{k / dt:>10.1f}")


def bench_sizes(repeats: int) -> None:
    person = sample_identity(identity_rng(0, "bench", 0), "bench")
    camera = camera_facing((0.0, 0.0), 4.0, 1.12, 0.0)
    print("\nperson box cap   crop size (h x w)   crops/s   (one person at 4 m, street background, margin 0.1)")
    for cap in (64, 128, 256, 512):
        t0 = time.perf_counter()
        for i in range(repeats):
            scene = build_scene("street", item_rng(0, "bench", i), (0.0, 0.0), 0.0, Light())
            r = render_person(person, Pose(walk_amount=1.0, walk_phase=i * 0.7, wobble_seed=i), (0.0, 0.0), 30.0 * i,
                              camera, scene, crop_height=cap, margin=0.1)
        dt = time.perf_counter() - t0
        print(f"{cap:>14}{str(r.image.shape[0]) + ' x ' + str(r.image.shape[1]):>20}{repeats / dt:>10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="about how many crops per generator")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    np.seterr(all="ignore")
    bench_generators(args.n, args.workers)
    bench_sizes(max(5, args.n // 4))


if __name__ == "__main__":
    main()
