"""``make demo``: the main job on the embedded default, end to end.

Runs the same commands a user would type, so the demo is also a tour:
render the synthetic data, train the ArcFace and MoCo v2 demo models, then
evaluate both -- beside the colour-histogram baseline every model has to beat --
on the calibrated factor study and the retrieval set, test the paper's findings, draw
per model the paper's Fig 12 for every factor (where each similarity comes from), and ask
one "same person?" question of each model with ``python -m reidfw.compare``.

``python -m reidfw.demo --synthetic demo_neutral`` (``make demo SYNTHETIC=demo_neutral``) runs the
same on another preset of ``conf/synthetic/``, into ``outputs/<preset>``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("outputs/demo")
PRESET = "demo"


def _run(args: list[str]) -> None:
    print(f"\n$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    t0 = time.time()
    proc = subprocess.run(args)
    if proc.returncode != 0:
        sys.exit(f"demo step failed (exit {proc.returncode}): {' '.join(args)}")
    print(f"  ({time.time() - t0:.0f} s)", flush=True)


def _train(name: str, overrides: list[str]) -> dict:
    run_dir = OUT / name
    _run([sys.executable, "train.py", *overrides, *_preset_override(), f"hydra.run.dir={run_dir}"])
    return json.loads((run_dir / "train_summary.json").read_text())


def _preset_override() -> list[str]:
    return [] if PRESET == "demo" else [f"synthetic={PRESET}"]


def _learned(summary: dict) -> str:
    best, untrained = summary.get("best_score"), summary.get("untrained_score")
    if best is None:
        return "no validation"
    if not untrained:
        return f"{best:.3f} (no untrained baseline: callbacks.untrained_baseline=false)"
    return f"{best:.3f}, untrained {untrained:.3f}: {best / untrained:.1f}x"


def _compare_pair() -> list[str]:
    """Two crops of the study's subject for ``reidfw.compare``: back to the camera (the standard) and
    in profile, with their person boxes."""
    from reidfw.data.formats.study_manifest import read_manifest
    from reidfw.synthetic.cache import ensure_dataset
    from reidfw.synthetic.presets import synthetic_preset

    cache = os.environ.get("REIDFW_CACHE", ".cache/reidfw")  # where demo-data and evaluate.py put the sets
    study = read_manifest(ensure_dataset("study", synthetic_preset(PRESET)["study"], cache))
    a, b = (next(c for c in study.factor("orientation").conditions if c.id == cid).images[0] for cid in ("180deg", "90deg"))
    box = lambda img: ",".join(str(int(v)) for v in img.box)  # noqa: E731
    return [str(a.path), str(b.path), f"box_a=[{box(a)}]", f"box_b=[{box(b)}]"]


def main(argv: list[str] | None = None) -> None:
    global OUT, PRESET
    p = argparse.ArgumentParser(prog="python -m reidfw.demo", description=__doc__.splitlines()[0])
    p.add_argument("--synthetic", default="demo", metavar="PRESET",
                   help="the synthetic sets, a preset of conf/synthetic/ (default: demo; demo_neutral: the same "
                        "people in dark neutrals and denim)")
    PRESET = p.parse_args(argv).synthetic
    from reidfw.synthetic.presets import synthetic_preset

    try:
        synthetic_preset(PRESET)  # a wrong name ends here, in one line, before anything runs
    except FileNotFoundError as e:  # its message names the file and the known presets
        print(f"error: --synthetic: {e}", file=sys.stderr)
        sys.exit(2)
    if PRESET != "demo":
        OUT = Path("outputs") / PRESET
    t0 = time.time()
    py = sys.executable
    _run([py, "-m", "reidfw.synthetic", "demo-data", "--preset", PRESET])
    arcface = _train("arcface", ["experiment=demo", "loss=arcface", "margin=0.5"])
    moco = _train("moco", ["experiment=demo_moco"])
    _run(
        [
            py,
            "evaluate.py",
            f"ckpt=[{arcface['exported_model']},{moco['exported_model']},colour_histogram]",
            "name=[ArcFace,MoCo,ColourHistogram]",
            *_preset_override(),
            f"hydra.run.dir={OUT / 'evaluation'}",
        ]
    )
    pair = _compare_pair()
    for name, trained in (("arcface", arcface), ("moco", moco)):
        _run([py, "-m", "reidfw.compare", *pair, f"ckpt={trained['exported_model']}",
              f"out={OUT / 'evaluation' / f'compare_{name}.png'}"])
    print(f"\nWhere each similarity comes from (Fig 12, every factor): {OUT / 'evaluation'}/<ArcFace|MoCo>/attribution/")
    print("\nWhat training added (val mAP on the retrieval set, best vs the same network before its first step):")
    for name, trained in (("ArcFace", arcface), ("MoCo", moco)):
        print(f"  {name:<8} {_learned(trained)}")
    print(f"\nreidfw demo finished in {(time.time() - t0) / 60:.1f} min.")
    from reidfw.mlflow_logging.ui_links import runs_url, ui_base

    base, serve = ui_base(arcface["tracking_uri"])
    if serve:
        print(f"Open the MLflow UI to compare the runs:  .venv/bin/{serve}")
    print(f"  the demo's runs: {runs_url(base, arcface['experiment_id'])}")


if __name__ == "__main__":
    main()
