"""One model through the whole evaluation: study matrices + heatmaps, retrieval, verification.

``evaluate_model`` writes everything under ``out_dir`` and returns a results
dict; ``compare_models`` puts several models side by side (one shared colour
scale per factor, ROC/PR overlays, a metrics table). Logging to MLflow is a
separate step (:mod:`reidfw.evaluation.mlflow_report`) so this module runs
without a tracking store.

Layout of ``out_dir``::

    study/<factor>_{mean,std,count}.csv, study/study.json
    study/heatmaps/<factor>.png
    market/retrieval.json, market/verification.json, market/roc.png, market/pr.png
    results.json          settings, spec and the flat metrics
"""
from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch.nn as nn

from reidfw.evaluation.embed import Embedder
from reidfw.evaluation.heatmap import plot_heatmap, plot_heatmaps_side_by_side
from reidfw.evaluation.retrieval import evaluate_retrieval
from reidfw.evaluation.study import FactorMatrix, metric_key, run_study, write_study_outputs
from reidfw.evaluation.verification import gallery_pairs, plot_pr, plot_roc, query_gallery_pairs, scalar_metrics, verification_metrics

# The retrieval numbers that become MLflow metrics (retrieval/<key>).
RETRIEVAL_KEYS = ("mAP", "rank1", "rank5", "rank10", "mINP", "skipped_queries")


def model_display_name(spec: dict, fallback: str = "model") -> str:
    bb = (spec or {}).get("backbone") or {}
    parts = [p for p in ((spec or {}).get("method"), bb.get("name")) if p]
    return "-".join(parts) or fallback


def _file_stem(name: str) -> str:
    return metric_key(name).replace(" ", "_").replace("/", "_").replace(":", "_")


def evaluate_model(
    model: nn.Module,
    spec: dict,
    *,
    out_dir: str | Path,
    study_root: str | Path | None = None,
    market_root: str | Path | None = None,
    model_name: str | None = None,
    mask_background: bool = False,
    batch_size: int = 64,
    num_workers: int | None = None,
    device: str = "auto",
    channels_last: bool = False,
    amp: bool = False,
    topk: int | None = None,
    use_faiss: bool = True,
    max_negatives: int = 2_000_000,
    verification_pairs: str = "query_gallery",
) -> dict:
    """Evaluate one embedding model; returns a results dict (JSON-able except ``study_result``).

    ``study_root``: a study manifest folder (or file); ``market_root``: a
    Market-1501-layout root (query/ + bounding_box_test/). Either may be None
    to skip it. ``mask_background`` applies to the study only (it needs the
    manifest's person masks; Market crops have none). ``verification_pairs``:
    ``"query_gallery"`` (every query against the gallery, retrieval's exclusion
    rules) or ``"gallery"`` (same-identity cross-camera and different-identity
    pairs within the gallery).
    """
    if verification_pairs not in ("query_gallery", "gallery"):
        raise ValueError(f"verification_pairs={verification_pairs!r}: choose 'query_gallery' or 'gallery'")
    if study_root is None and market_root is None:
        raise ValueError("nothing to evaluate: give study_root and/or market_root")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = model_name or model_display_name(spec)
    embedder = Embedder(
        model, spec, device=device, batch_size=batch_size, num_workers=num_workers, channels_last=channels_last, amp=amp
    )
    settings = {
        "model_name": name,
        "study_root": str(study_root) if study_root is not None else None,
        "market_root": str(market_root) if market_root is not None else None,
        "mask_background": bool(mask_background),
        "batch_size": int(batch_size),
        "device": str(embedder.device),
        "channels_last": bool(channels_last),
        "amp": bool(amp),
        "topk": topk,
        "use_faiss": bool(use_faiss),
        "verification_pairs": verification_pairs,
        "input_size": list(embedder.size),
    }
    results: dict = {"model": name, "spec": spec, "out_dir": str(out_dir), "settings": settings, "metrics": {},
                     "figures": [], "files": [], "timing": {}, "study": None, "study_result": None,
                     "retrieval": None, "verification": None}

    if study_root is not None:
        from reidfw.data.formats.study_manifest import read_manifest

        t0 = time.perf_counter()
        manifest = read_manifest(study_root)
        study = run_study(manifest, lambda imgs: embedder.embed(imgs, mask_background=mask_background))
        sdir = out_dir / "study"
        results["files"] += [str(p) for p in write_study_outputs(study, sdir)]
        for m in study.matrices:
            results["figures"].append(str(plot_heatmap(m, name, sdir / "heatmaps" / f"{_file_stem(m.factor)}.png")))
        results["study"] = study.to_json()
        results["study_result"] = study
        results["metrics"].update(study.metrics())
        settings["study_name"] = manifest.name
        results["timing"]["study_s"] = time.perf_counter() - t0

    if market_root is not None:
        from reidfw.data.formats.market import read_market_split

        t0 = time.perf_counter()
        query = read_market_split(market_root, "query")
        gallery = read_market_split(market_root, "gallery")
        if not query or not gallery:
            raise ValueError(f"{market_root}: query/ has {len(query)} and bounding_box_test/ {len(gallery)} images; both need some")
        qf, gf = embedder.embed(query), embedder.embed(gallery)
        q_pids, q_cams = np.array([i.pid for i in query]), np.array([i.camera for i in query])
        g_pids, g_cams = np.array([i.pid for i in gallery]), np.array([i.camera for i in gallery])
        t1 = time.perf_counter()
        ret = evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, topk=topk, use_faiss=use_faiss)
        if verification_pairs == "gallery":
            scores, labels = gallery_pairs(gf, g_pids, g_cams, max_negatives=max_negatives)
        else:
            scores, labels = query_gallery_pairs(qf, q_pids, q_cams, gf, g_pids, g_cams, max_negatives=max_negatives)
        ver = verification_metrics(scores, labels)
        mdir = out_dir / "market"
        mdir.mkdir(parents=True, exist_ok=True)
        (mdir / "retrieval.json").write_text(json.dumps(ret, indent=1))
        (mdir / "verification.json").write_text(json.dumps(_json_safe(ver), indent=1))
        results["files"] += [str(mdir / "retrieval.json"), str(mdir / "verification.json")]
        results["figures"].append(str(plot_roc([(name, ver)], mdir / "roc.png")))
        results["figures"].append(str(plot_pr([(name, ver)], mdir / "pr.png")))
        results["retrieval"], results["verification"] = ret, ver
        results["metrics"].update({f"retrieval/{k}": float(ret[k]) for k in RETRIEVAL_KEYS})
        results["metrics"].update({f"verification/{k}": v for k, v in scalar_metrics(ver).items()})
        results["timing"]["market_embed_s"] = t1 - t0
        results["timing"]["market_metrics_s"] = time.perf_counter() - t1

    results["files"].append(str(write_results_json(results)))
    return results


def write_results_json(results: dict, folder: str | Path | None = None) -> Path:
    """``results.json`` in ``folder`` (default: the results' out_dir): settings, spec, metrics and the file list."""
    res_json = Path(folder if folder is not None else results["out_dir"]) / "results.json"
    res_json.write_text(json.dumps(_json_safe({k: v for k, v in results.items() if k not in ("study_result", "verification", "study")}), indent=1))
    return res_json


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.ndarray):
        return _json_safe(x.tolist())
    if isinstance(x, Path):
        return str(x)
    return x


def compare_models(results: Sequence[dict], out_dir: str | Path) -> dict:
    """Side-by-side heatmaps per factor (shared colour scale), ROC/PR overlays and a metrics CSV."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [r["model"] for r in results]
    if len(set(names)) != len(names):
        raise ValueError(f"model names repeat {names}: give each model its own name (name=[...]) to compare them")
    figures, files = [], []
    studies = [(r["model"], r["study_result"]) for r in results if r.get("study_result") is not None]
    if studies:
        factor_names = [m.factor for m in studies[0][1].matrices]
        for f in factor_names:
            pairs: list[tuple[str, FactorMatrix]] = []
            for name, st in studies:
                ms = [m for m in st.matrices if m.factor == f]
                if ms:
                    pairs.append((name, ms[0]))
            figures.append(str(plot_heatmaps_side_by_side(pairs, out_dir / "heatmaps" / f"{_file_stem(f)}.png")))
    vers = [(r["model"], r["verification"]) for r in results if r.get("verification") is not None]
    if vers:
        figures.append(str(plot_roc(vers, out_dir / "roc.png")))
        figures.append(str(plot_pr(vers, out_dir / "pr.png")))
    keys = sorted({k for r in results for k in r["metrics"]})
    table = out_dir / "metrics.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", *names])
        for k in keys:
            w.writerow([k, *[_fmt(r["metrics"].get(k)) for r in results]])
    files.append(str(table))
    return {"out_dir": str(out_dir), "figures": figures, "files": files}


def _fmt(v) -> str:
    return "" if v is None else ("nan" if not math.isfinite(v) else f"{v:.6f}")


def summary_table(results: dict) -> str:
    """A few lines for the terminal: robustness per factor, mAP, rank-1, TAR@FAR=1e-3."""
    m = results["metrics"]
    lines = [f"== {results['model']} =="]
    if results.get("study_result") is not None:
        w = max(len("factor"), *(len(fm.factor) for fm in results["study_result"].matrices))
        lines.append(f"  {'factor':<{w}} {'within':>7} {'across':>7} {'robustness':>10}")
        for fm in results["study_result"].matrices:
            k = metric_key(fm.factor)
            lines.append(
                f"  {fm.factor:<{w}} {m[f'study/{k}/within_mean']:>7.3f} {m[f'study/{k}/across_mean']:>7.3f} "
                f"{m[f'study/{k}/robustness']:>10.3f}"
            )
    if results.get("retrieval") is not None:
        lines.append(
            f"  retrieval: mAP {m['retrieval/mAP']:.3f}  rank-1 {m['retrieval/rank1']:.3f}  "
            f"mINP {m['retrieval/mINP']:.3f}  TAR@FAR=1e-3 {m.get('verification/tar_at_far_0.001', float('nan')):.3f}"
            + (f"  ({int(m['retrieval/skipped_queries'])} queries without a match skipped)" if m["retrieval/skipped_queries"] else "")
        )
    lines.append(f"  figures: {Path(results['out_dir']).resolve()}")
    return "\n".join(lines)


_COMPARED = [
    ("mAP", "retrieval/mAP"),
    ("rank-1", "retrieval/rank1"),
    ("mINP", "retrieval/mINP"),
    ("TAR@FAR=1e-3", "verification/tar_at_far_0.001"),
    ("TAR@FAR=1e-2", "verification/tar_at_far_0.01"),
    ("precision@recall=0.5", "verification/precision_at_recall_0.5"),
    ("precision@recall=0.9", "verification/precision_at_recall_0.9"),
]


def comparison_table(results: Sequence[dict]) -> str:
    """Models side by side: robustness (across / within) per factor, then retrieval and verification."""
    names = [r["model"] for r in results]
    rows: list[tuple[str, list[float | None]]] = []
    factors: list[str] = []
    for r in results:
        st = r.get("study_result")
        for fm in st.matrices if st is not None else []:
            if fm.factor not in factors:
                factors.append(fm.factor)
    for f in factors:
        k = f"study/{metric_key(f)}/robustness"
        rows.append((f"robustness {f}", [r["metrics"].get(k) for r in results]))
    for label, k in _COMPARED:
        if any(k in r["metrics"] for r in results):
            rows.append((label, [r["metrics"].get(k) for r in results]))
    w = max(len(label) for label, _ in rows) if rows else 10
    cw = max(8, *(len(n) for n in names))
    lines = ["== comparison ==", f"  {'':<{w}} " + " ".join(f"{n:>{cw}}" for n in names)]
    for label, vals in rows:
        cells = " ".join(f"{'n/a':>{cw}}" if v is None or not math.isfinite(v) else f"{v:>{cw}.3f}" for v in vals)
        lines.append(f"  {label:<{w}} {cells}")
    return "\n".join(lines)
