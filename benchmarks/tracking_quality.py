"""How well track.py tracks, per detector, against the synthetic clips' ground truth.

    .venv/bin/python benchmarks/tracking_quality.py [--clips 3] [--seconds 8] [--people 6]

Renders ``--clips`` fixed-camera clips (``python -m reidfw.synthetic video``: walkers
crossing and occluding each other, MOTChallenge ground truth; cached under ``--work``), runs
the real ``track.py`` command on each clip's ``video.mp4`` with each detector and the default
ByteTrack and curation settings, and reports:

- HOTA (DetA x AssA), IDF1, MOTA and identity switches of the raw tracker output
  (``report/mot.txt``) over all clips together, from TrackEval;
- purity of the curated tracks (share of a kept track's crops that belong to its majority
  ground-truth identity, crops matched to ground truth by IoU >= 0.5), the share of pure
  tracks (>= 95 %), the share of identities recovered and kept tracks per recovered identity;
- frames per second of the whole scan (decode, detect, track, measure, write crops) on this
  machine, one process.

Detectors: ``bgsub`` (MOG2), ``bgsub-knn``, ``hog`` (numpy HOG + OpenCV's people SVM). The
torchvision and ONNX paths need trained weights, which cannot be downloaded here.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from reidfw.synthetic.generators.video import generate_video, read_mot_gt  # noqa: E402
from reidfw.evaluation.mot import mot_metrics  # noqa: E402
from reidfw.evaluation.track_purity import track_purity  # noqa: E402
from reidfw.video_tracking.command import run_tracking  # noqa: E402

DETECTORS = {"bgsub": ["detector=bgsub"], "bgsub-knn": ["detector=bgsub", "detector.method=knn"],
             "hog": ["detector=hog"]}


def render_clips(work: Path, n: int, seconds: float, people: int) -> list[Path]:
    clips = []
    for seed in range(n):
        seq = work / "clips" / f"synth-{seed:02d}-{people}p-{seconds:g}s"
        if not (seq / "video.mp4").is_file():
            t0 = time.perf_counter()
            generate_video(seq, seed=seed, people=people, seconds=seconds, fps=10.0, mp4=True)
            print(f"rendered {seq.name} in {time.perf_counter() - t0:.1f} s", flush=True)
        clips.append(seq)
    return clips


def track(clip: Path, out: Path, overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="track", overrides=[f"video={clip / 'video.mp4'}", f"out={out}",
                                                      "mlflow.enabled=false", "progress=false", *overrides])
    code = run_tracking(cfg)
    if code:
        raise SystemExit(f"track.py failed on {clip} ({overrides}) with exit code {code}")
    return json.loads((out / "report" / "summary.json").read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--people", type=int, default=6)
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--work", type=Path, default=ROOT / ".cache" / "reidfw" / "tracking-benchmark")
    p.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = p.parse_args(argv)
    clips = render_clips(args.work, args.clips, args.seconds, args.people)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table = {}
    for name in args.detectors.split(","):
        frames = seconds = 0.0
        results, purities = {}, []
        for clip in clips:
            out = args.work / "runs" / stamp / name / clip.name
            summary = track(clip, out, DETECTORS[name])
            frames += summary["frames_processed"]
            seconds += summary["frames_processed"] / summary["fps"]
            results[clip.name] = (clip, out / "report" / "mot.txt")
            purities.append(track_purity(out, read_mot_gt(clip)) if (out / "tracks.csv").is_file() else None)
        mot = mot_metrics(results)["COMBINED"]
        kept = [q for q in purities if q]
        crops = sum(q["crops"] for q in kept)
        table[name] = {**{k: mot[k] for k in ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW")},
                       "purity": sum(q["purity_crops"] * q["crops"] for q in kept) / crops if crops else 0.0,
                       "pure_tracks": sum(q["pure_tracks"] * q["tracks"] for q in kept) / max(1, sum(q["tracks"] for q in kept)),
                       "identities_recovered": sum(q["identities_recovered"] * q["identities"] for q in kept)
                       / max(1, sum(q["identities"] for q in kept)),
                       "tracks_per_identity": sum(q["tracks"] for q in kept)
                       / max(1e-9, sum(q["identities_recovered"] * q["identities"] for q in kept)),
                       "kept_tracks": sum(q["tracks"] for q in kept), "kept_crops": crops, "fps": frames / seconds}
        print(f"{name}: done", flush=True)
    print(f"\n{len(clips)} clips x {args.seconds:g} s at 10 fps, 640x360, {args.people} walkers each; "
          f"ByteTrack + curation defaults\n")
    print("| detector | HOTA | DetA | AssA | IDF1 | MOTA | ID switches | purity | pure tracks | identities recovered "
          "| tracks / identity | kept tracks (crops) | frames/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in table.items():
        print(f"| {name} | {100 * r['HOTA']:.1f} | {100 * r['DetA']:.1f} | {100 * r['AssA']:.1f} | {100 * r['IDF1']:.1f} "
              f"| {100 * r['MOTA']:.1f} | {r['IDSW']:.0f} | {100 * r['purity']:.1f} % | {100 * r['pure_tracks']:.0f} % "
              f"| {100 * r['identities_recovered']:.0f} % | {r['tracks_per_identity']:.2f} "
              f"| {r['kept_tracks']} ({r['kept_crops']}) | {r['fps']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
