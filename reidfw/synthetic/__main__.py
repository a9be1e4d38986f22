"""Command line: ``python -m reidfw.synthetic {tracks,unlabeled,study,market,contact-sheet} ...``.

Examples::

    python -m reidfw.synthetic tracks --out data/tracks --seed 0 --identities 64 --per-identity 16
    python -m reidfw.synthetic unlabeled --out data/unlabeled --count 1000
    python -m reidfw.synthetic study --out data/study --per-condition 5
    python -m reidfw.synthetic market --out data/market --identities 100
    python -m reidfw.synthetic video --out data/clip --people 6 --seconds 6 --mp4   # MOTChallenge clip + GT
    python -m reidfw.synthetic contact-sheet --src data/study --out study.png
    python -m reidfw.synthetic demo-data          # all four demo sets into the cache (make demo)

Sizes default to the demo preset (``conf/synthetic/demo.yaml``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from reidfw.synthetic.cache import GENERATORS, ensure_dataset
from reidfw.synthetic.camera import CAMERA_PRESETS
from reidfw.synthetic.contact_sheet import contact_sheet
from reidfw.synthetic.identity import PALETTES
from reidfw.synthetic.generators.video_cli import add_video_parser, run_video
from reidfw.synthetic.distribution import distribution_figure
from reidfw.synthetic.presets import synthetic_preset
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT

# CLI option -> generator keyword, per kind (only the options that kind understands).
KIND_OPTIONS = {
    "tracks": ["identities", "per_identity", "cameras", "palette"],
    "unlabeled": ["count", "people_per_scene", "moments", "moment_step", "distances", "palette"],
    "study": ["per_condition", "impostors", "margin", "palette"],
    "market": ["identities", "per_identity", "cameras", "distractors", "junk", "palette"],
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reidfw.synthetic", description="Render synthetic Re-ID data sets.")
    sub = p.add_subparsers(dest="command", required=True)
    demo = synthetic_preset("demo")
    for kind in GENERATORS:
        s = sub.add_parser(kind, help=f"generate the {kind} data set")
        s.add_argument("--out", required=True, help="output folder")
        s.add_argument("--seed", type=int, default=0, help="same seed -> identical pixels")
        s.add_argument("--crop-height", type=int, default=DEFAULT_CROP_HEIGHT,
                       help="cap on the person box height in pixels (taller people are rendered at lower resolution)")
        s.add_argument("--workers", type=int, default=None, help="worker processes (results do not depend on it)")
        s.add_argument("--camera", default=None, help=f"camera preset ({', '.join(sorted(CAMERA_PRESETS))}); "
                       "default: the generator's")
        defaults = demo[kind]
        for opt in KIND_OPTIONS[kind]:
            typ = float if opt in ("margin", "moment_step", "distances") else str if opt == "palette" else int
            more = {"nargs": 2, "metavar": ("NEAR", "FAR")} if opt == "distances" else {}  # metres from the camera
            if opt == "palette":  # the clothing colours people draw from (reidfw.synthetic.identity.PALETTES)
                more = {"choices": list(PALETTES)}
            s.add_argument(f"--{opt.replace('_', '-')}", type=typ, default=defaults.get(opt), **more,
                           help=f"default: {defaults.get(opt, 'the generator default' if opt != 'palette' else 'full')}")
    add_video_parser(sub)
    d = sub.add_parser("demo-data", help="render every set of a preset (conf/synthetic/<preset>.yaml) into the cache, once")
    d.add_argument("--preset", default="demo", help="the preset's name (default: demo)")
    d.add_argument("--cache-dir", default=os.environ.get("REIDFW_CACHE", ".cache/reidfw"),
                   help="the cache folder the Hydra configs use (default: $REIDFW_CACHE or ./.cache/reidfw)")
    c = sub.add_parser("contact-sheet", help="write one PNG grid of samples of a data set")
    c.add_argument("--src", required=True, help="a generated data set folder (any of the four layouts)")
    c.add_argument("--out", required=True, help="PNG file to write")
    c.add_argument("--rows", type=int, default=10)
    c.add_argument("--cols", type=int, default=12)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; a mistake in what was asked for (a ReidfwError) ends in one line and exit code 2."""
    from reidfw.cli import USAGE_ERROR, one_line
    from reidfw.errors import ReidfwError

    try:
        return _run(build_parser().parse_args(argv))
    except ReidfwError as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return USAGE_ERROR


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo-data":
        for kind, settings in synthetic_preset(args.preset).items():
            t0 = time.perf_counter()
            print(f"{kind}: {ensure_dataset(kind, settings, args.cache_dir)} ({time.perf_counter() - t0:.1f} s)", flush=True)
        return 0
    if args.command == "video":
        return run_video(args)
    if args.command == "contact-sheet":
        sheet = contact_sheet(args.src, args.out, max_rows=args.rows, max_cols=args.cols)
        print(sheet)
        dist = distribution_figure(args.src, sheet.with_name(sheet.stem + ".distribution.png"))
        if dist is not None:  # generated sets carry metadata.jsonl: distance / camera height / yaw histograms
            print(dist)
        return 0
    kwargs = {"seed": args.seed, "crop_height": args.crop_height, "workers": args.workers}
    if args.camera is not None:
        kwargs["camera"] = args.camera
    for opt in KIND_OPTIONS[args.command]:
        value = getattr(args, opt)
        if value is not None:
            kwargs[opt] = value
    t0 = time.perf_counter()
    out = GENERATORS[args.command](args.out, **kwargs)
    print(f"{args.command}: wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
