"""``make demo``: the main job on the embedded default, end to end.

Runs the same commands a user would type, so the demo is also a tour:
render the synthetic data, train the ArcFace and MoCo v2 demo models, then
evaluate both on the factor study and the retrieval set.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("outputs/demo")


def _run(args: list[str]) -> None:
    print(f"\n$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    t0 = time.time()
    proc = subprocess.run(args)
    if proc.returncode != 0:
        sys.exit(f"demo step failed (exit {proc.returncode}): {' '.join(args)}")
    print(f"  ({time.time() - t0:.0f} s)", flush=True)


def _train(name: str, overrides: list[str]) -> dict:
    run_dir = OUT / name
    _run([sys.executable, "train.py", *overrides, f"hydra.run.dir={run_dir}"])
    return json.loads((run_dir / "train_summary.json").read_text())


def main() -> None:
    t0 = time.time()
    py = sys.executable
    _run([py, "-m", "reidfw.data.synthetic", "demo-data"])
    arcface = _train("arcface", ["experiment=demo", "loss=arcface", "margin=0.5"])
    moco = _train("moco", ["experiment=demo_moco"])
    _run(
        [
            py,
            "evaluate.py",
            f"ckpt=[{arcface['exported_model']},{moco['exported_model']}]",
            "name=[ArcFace,MoCo]",
            f"hydra.run.dir={OUT / 'evaluation'}",
        ]
    )
    print(f"\nreidfw demo finished in {(time.time() - t0) / 60:.1f} min.")
    from reidfw.tracking.ui_links import runs_url, ui_base

    base, serve = ui_base(arcface["tracking_uri"])
    if serve:
        print(f"Open the MLflow UI to compare the runs:  .venv/bin/{serve}")
    print(f"  the demo's runs: {runs_url(base, arcface['experiment_id'])}")


if __name__ == "__main__":
    main()
