"""Multi-object tracking accuracy against MOTChallenge ground truth: HOTA, IDF1, MOTA from TrackEval.

TrackEval (Luiten et al., the official HOTA code, used by the MOTChallenge server) reads a
sequence in MOTChallenge layout (``gt/gt.txt`` + ``seqinfo.ini``, as the synthetic video
generator writes) and a tracker file in MOTChallenge format (``report/mot.txt`` of a
track.py run). Its MOT17 preprocessing applies: ground-truth rows with ``conf = 0`` are
ignored, and so are tracker boxes matched to them.

TrackEval's PyPI package declares ``opencv-python`` (the GUI build, which would replace the
``cv2`` of ``opencv-python-headless``) and ``pycocotools``, used only by its mask metrics:
reidfw installs it with ``pip install --no-deps trackeval`` (see the Makefile).
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

SUMMARY_KEYS = {"HOTA": ("HOTA", "HOTA"), "DetA": ("HOTA", "DetA"), "AssA": ("HOTA", "AssA"),
                "IDF1": ("Identity", "IDF1"), "MOTA": ("CLEAR", "MOTA"), "IDSW": ("CLEAR", "IDSW"),
                "Recall": ("CLEAR", "CLR_Re"), "Precision": ("CLEAR", "CLR_Pr")}


def _trackeval():
    with contextlib.redirect_stdout(io.StringIO()):      # it prints about optional datasets on import
        import trackeval
    return trackeval


def mot_metrics(sequences: dict[str, tuple[Path, Path]]) -> dict[str, dict[str, float]]:
    """``{name: (sequence folder, tracker file)}`` -> ``{name | "COMBINED": {HOTA, DetA, AssA, IDF1, MOTA, ...}}``.

    Scores are fractions (HOTA 0.5 = 50 %); ``IDSW`` is a count. HOTA, DetA and AssA are
    averaged over TrackEval's IoU thresholds 0.05..0.95, the others use IoU 0.5.
    """
    trackeval = _trackeval()
    tmp = Path(tempfile.mkdtemp(prefix="reidfw-mot-"))
    try:
        lengths = {}
        for name, (seq, result) in sequences.items():
            (tmp / "gt" / name / "gt").mkdir(parents=True)
            shutil.copyfile(Path(seq) / "gt" / "gt.txt", tmp / "gt" / name / "gt" / "gt.txt")
            shutil.copyfile(Path(seq) / "seqinfo.ini", tmp / "gt" / name / "seqinfo.ini")
            (tmp / "trackers" / "reidfw" / "data").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result, tmp / "trackers" / "reidfw" / "data" / f"{name}.txt")
            lengths[name] = int(next(line.split("=")[1] for line in (Path(seq) / "seqinfo.ini").read_text().splitlines()
                                     if line.startswith("seqLength")))
        eval_cfg = {"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_ONLY_COMBINED": True, "PRINT_CONFIG": False,
                    "TIME_PROGRESS": False, "DISPLAY_LESS_PROGRESS": True, "OUTPUT_SUMMARY": False,
                    "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": str(tmp / "error_log.txt")}
        data_cfg = {"GT_FOLDER": str(tmp / "gt"), "TRACKERS_FOLDER": str(tmp / "trackers"),
                    "OUTPUT_FOLDER": str(tmp / "out"), "TRACKERS_TO_EVAL": ["reidfw"], "BENCHMARK": "MOT17",
                    "SEQ_INFO": lengths, "SKIP_SPLIT_FOL": True, "PRINT_CONFIG": False}
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
                   trackeval.metrics.Identity({"PRINT_CONFIG": False})]
        with contextlib.redirect_stdout(io.StringIO()):
            results, messages = trackeval.Evaluator(eval_cfg).evaluate(
                [trackeval.datasets.MotChallenge2DBox(data_cfg)], metrics)
        per_seq = results["MotChallenge2DBox"]["reidfw"]
        if not isinstance(per_seq, dict):
            raise RuntimeError(f"TrackEval failed: {messages}")
        out = {}
        for name, res in per_seq.items():
            ped = res["pedestrian"]
            out["COMBINED" if name == "COMBINED_SEQ" else name] = {
                key: float(ped[group][field].mean() if hasattr(ped[group][field], "mean") else ped[group][field])
                for key, (group, field) in SUMMARY_KEYS.items()}
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
