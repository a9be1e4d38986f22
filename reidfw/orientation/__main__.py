"""Command line: ``python -m reidfw.orientation {train,evaluate,predict} ...``.

    python -m reidfw.orientation train --synthetic --out models/orientation      the synthetic sets' yaw
    python -m reidfw.orientation train --csv my_crops.csv --out models/orient    your own labelled crops
    python -m reidfw.orientation evaluate --model models/orient --csv held_out.csv
    python -m reidfw.orientation evaluate --model models/orient --study data/study
    python -m reidfw.orientation predict --model models/orient a.jpg b.jpg

The CSV has a header and columns ``path,yaw`` (degrees; 0 = facing the camera, 180 = the back),
optionally ``x,y,w,h`` (the person box) and ``group`` (kept together in the held-out split).
``train`` holds out a fifth of the groups (``--held-out``) and prints the estimator's accuracy on them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from reidfw.errors import ReidfwError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reidfw.orientation", description="Person orientation (yaw) estimator.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an estimator and report its held-out accuracy")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="labelled crops: a CSV with path,yaw (optional x,y,w,h,group)")
    src.add_argument("--synthetic", action="store_true", help="the synthetic tracks + unlabeled sets' ground-truth yaw")
    t.add_argument("--out", required=True, help="folder to write the estimator to")
    t.add_argument("--epochs", type=int, default=None, help="default: 30")
    t.add_argument("--held-out", type=float, default=0.2, help="share of groups kept out for measuring (default 0.2)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--preset", default="demo", help="--synthetic: the synthetic preset (conf/synthetic/<name>.yaml)")
    t.add_argument("--cache-dir", default=os.environ.get("REIDFW_CACHE", ".cache/reidfw"))
    e = sub.add_parser("evaluate", help="accuracy of an estimator on labelled crops")
    e.add_argument("--model", required=True)
    where = e.add_mutually_exclusive_group(required=True)
    where.add_argument("--csv")
    where.add_argument("--study", help="a study folder whose images record meta.yaw (the synthetic study)")
    r = sub.add_parser("predict", help="print the yaw of images")
    r.add_argument("--model", required=True)
    r.add_argument("images", nargs="+")
    return p


def _train(args) -> int:
    from reidfw.orientation.data import read_yaw_csv, split_held_out
    from reidfw.orientation.train import EPOCHS, evaluate_estimator, format_metrics, train_estimator

    epochs = args.epochs or EPOCHS
    if args.synthetic:
        from reidfw.orientation.synthetic import train_synthetic
        from reidfw.synthetic.presets import synthetic_preset

        est, report = train_synthetic(synthetic_preset(args.preset), args.cache_dir, epochs, args.held_out, args.seed)
    else:
        items = read_yaw_csv(args.csv)
        train, test = split_held_out(items, args.held_out, args.seed)
        if not train:
            raise ReidfwError(f"{args.csv}: the held-out split left no training crops; lower --held-out or add groups")
        est = train_estimator(train, epochs=epochs, seed=args.seed,
                              info={"trained_on": f"{args.csv} ({len(train)} crops; {len(test)} held out)"})
        report = {}
        if test:
            report["held_out"] = evaluate_estimator(est, test)
            print(format_metrics("  held out", report["held_out"]))
        est.info["metrics"] = report
    out = est.save(args.out)
    print(f"orientation estimator written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from reidfw.data.formats.image_io import ImageReadError

        if args.command == "train":
            return _train(args)
        from reidfw.orientation.estimator import load_estimator
        from reidfw.orientation.train import evaluate_estimator, format_metrics

        est = load_estimator(args.model)
        if args.command == "evaluate":
            from reidfw.orientation.data import read_yaw_csv, study_yaw_crops

            items = read_yaw_csv(args.csv) if args.csv else study_yaw_crops(args.study)
            m = evaluate_estimator(est, items)
            print(format_metrics(args.csv or args.study, m))
            print(json.dumps(m))
            return 0
        from reidfw.data.formats.image_io import read_image
        from reidfw.orientation.estimator import in_other_half

        for path in args.images:
            yaw = est.predict_image(read_image(path))
            print(f"{path}: yaw {yaw:5.1f} deg{' (other half-circle: canonicalisation mirrors it)' if in_other_half(yaw) else ''}")
        return 0
    except (ReidfwError, ImageReadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
