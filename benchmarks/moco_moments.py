"""What did a MoCo model learn from the unlabeled set? Find each crop's other moment.

For every crop of the synthetic unlabeled set that has a second moment (the same person a few
seconds later, same camera), rank the other crops and measure the mAP of finding that moment:
(a) among the people of the same scene (same camera, background, light), (b) among all crops.
Also the mean cosine of strangers from the same scene and from other scenes: an embedding that
encodes the scene rather than the person scores same-scene strangers high.

    .venv/bin/python benchmarks/moco_moments.py --unlabeled .cache/reidfw/unlabeled-<hash> \
        colour_histogram outputs/demo/moco/model outputs/demo/arcface/model

Models: anything ``evaluate.py ckpt=`` takes. The colour histogram is the reference: on this data
it finds the other moment almost always, so a contrastive model that does not is not solving its
own task yet.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def _ap(sim: np.ndarray, pos: np.ndarray) -> float:
    order = np.argsort(-sim, kind="stable")
    hits = pos[order]
    if not hits.any():
        return float("nan")
    found = np.cumsum(hits)[hits]
    return float((found / (np.nonzero(hits)[0] + 1)).mean())


def main() -> None:
    from reidfw.checkpoints import load_embedding_model
    from reidfw.checkpoints.model_spec import input_spec_of
    from reidfw.data.formats.image_io import read_image
    from reidfw.model_input import to_model_input

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unlabeled", required=True, help="a synthetic unlabeled set (with metadata.jsonl)")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    root = Path(args.unlabeled)
    rows = [json.loads(line) for line in open(root / "metadata.jsonl")]
    person = np.array([str(r["person"]) for r in rows])
    scene = np.array([r["scene"] for r in rows])
    paths = [root / r["path"] for r in rows]
    print(f"{root}: {len(rows)} crops, {len(set(scene))} scenes, {len(set(person))} people")
    for ckpt in args.models:
        model, spec = load_embedding_model(ckpt)
        model.eval()
        s = input_spec_of(spec)
        with torch.no_grad():
            f = torch.cat([model(torch.stack([to_model_input(read_image(p), s) for p in paths[i:i + 100]]))
                           for i in range(0, len(paths), 100)]).numpy()
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
        sim = f @ f.T
        in_scene, overall, same_scene, other_scene = [], [], [], []
        for i in range(len(f)):
            others = np.arange(len(f)) != i
            pos = (person == person[i]) & others
            if not pos.any():
                continue
            m = (scene == scene[i]) & others
            in_scene.append(_ap(sim[i][m], pos[m]))
            overall.append(_ap(sim[i][others], pos[others]))
            same_scene.append(sim[i][m & ~pos].mean())
            other_scene.append(sim[i][scene != scene[i]].mean())
        print(f"  {ckpt}: other-moment mAP within the scene {np.nanmean(in_scene):.3f}, over all {np.nanmean(overall):.3f}; "
              f"strangers' cosine: same scene {np.mean(same_scene):.3f}, other scenes {np.mean(other_scene):.3f}")


if __name__ == "__main__":
    main()
