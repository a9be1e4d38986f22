"""One model through the whole evaluation: study matrices + heatmaps, retrieval, verification.

``evaluate_model`` writes everything under ``out_dir`` and returns a results
dict; ``compare_models`` puts several models side by side (one shared colour
scale per factor, ROC/PR overlays, a metrics table). Logging to MLflow is a
separate step (:mod:`reidfw.mlflow_logging.evaluation_run`) so this module runs
without a tracking store.

Layout of ``out_dir``::

    study/<factor>_{mean,std,count,z}.csv, study/study.json (with intervals, impostor stats)
    study/heatmaps/<factor>.png      raw cosine (the paper's look) beside impostor z
    market/retrieval.json, market/verification.json, market/collapse.json, market/roc.png, market/pr.png
    market/retrieval_rerank.json   (with rerank=True)
    attribution/<factor>.png, attribution/attribution.json   where each similarity comes from (Fig 12)
    study/heatmaps/<factor>_canonical[_z].png, orientation/estimates.csv   canonicalize="compare"
    results.json          settings, spec, the collapse check and the flat metrics

The retrieval set is embedded first: it gives the collapse check and, when the study names
no impostors of its own, the pooled impostor distribution the study is calibrated with.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch.nn as nn

from reidfw.data.formats.market import DISTRACTOR_PID
from reidfw.evaluation.calibration import pooled_impostors
from reidfw.evaluation.collapse import CollapseCheck, collapse_check
from reidfw.evaluation.embed import Embedder
from reidfw.evaluation.heatmap import plot_heatmap, plot_heatmaps_side_by_side
from reidfw.evaluation.retrieval import evaluate_retrieval
from reidfw.evaluation.study import FactorMatrix, has_study_impostors, metric_key, run_study, write_study_outputs
from reidfw.evaluation.verification import gallery_pairs, plot_pr, plot_roc, query_gallery_pairs, scalar_metrics, verification_metrics

# The retrieval numbers that become MLflow metrics (retrieval/<key>).
RETRIEVAL_KEYS = ("mAP", "rank1", "rank5", "rank10", "mINP", "skipped_queries")

log = logging.getLogger(__name__)


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
    channels_last: bool | None = None,
    amp: bool | None = None,
    topk: int | None = None,
    use_faiss: bool = True,
    max_negatives: int = 2_000_000,
    verification_pairs: str = "query_gallery",
    attribution: bool = True,
    flip_tta: bool = False,
    canonicalize: bool | str = False,
    orientation=None,
    retrieval_memory_gb: float | None = None,
    rerank: bool = False,
    rerank_k1: int = 20,
    rerank_k2: int = 6,
    rerank_lambda: float = 0.3,
) -> dict:
    """Evaluate one embedding model; returns a results dict (JSON-able except ``study_result``).

    ``study_root``: a study manifest folder (or file); ``market_root``: a
    Market-1501-layout root (query/ + bounding_box_test/). Either may be None
    to skip it. ``mask_background`` applies to the study only (it needs the
    manifest's person masks; Market crops have none). ``verification_pairs``:
    ``"query_gallery"`` (every query against the gallery, retrieval's exclusion
    rules) or ``"gallery"`` (same-identity cross-camera and different-identity
    pairs within the gallery). ``retrieval_memory_gb`` bounds the exact retrieval metrics'
    working memory; ``rerank`` adds k-reciprocal re-ranked metrics (``retrieval_rerank/*``,
    parameters ``rerank_k1/k2/lambda``) next to the plain ones. ``channels_last`` / ``amp``:
    None = on for CUDA.

    ``attribution``: the paper's Fig 12 for every factor (standard against each condition, one
    image each; :mod:`reidfw.evaluation.attribution_study`). ``flip_tta``: embeddings are the mean
    of the input's and its mirror's. ``canonicalize``: False, True (every crop, study and retrieval,
    is canonicalised by the ``orientation`` estimator) or ``"compare"`` (everything as is, plus the
    orientation factors again with canonicalisation, side by side:
    :mod:`reidfw.evaluation.orientation_study`).
    """
    if verification_pairs not in ("query_gallery", "gallery"):
        raise ValueError(f"verification_pairs={verification_pairs!r}: choose 'query_gallery' or 'gallery'")
    if study_root is None and market_root is None:
        raise ValueError("nothing to evaluate: give study_root and/or market_root")
    canonicalize = canonical_mode(canonicalize)
    if canonicalize and orientation is None:
        raise ValueError(f"canonicalize={canonicalize!r} needs an orientation estimator (orientation=...)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = model_name or model_display_name(spec)
    kw = dict(device=device, batch_size=batch_size, num_workers=num_workers, channels_last=channels_last, amp=amp,
              flip_tta=flip_tta)
    embedder = Embedder(model, spec, canonicalize=orientation if canonicalize is True else None, **kw)
    settings = {
        "model_name": name,
        "study_root": str(study_root) if study_root is not None else None,
        "market_root": str(market_root) if market_root is not None else None,
        "mask_background": bool(mask_background),
        "batch_size": int(batch_size),
        "device": str(embedder.device),
        "channels_last": embedder.channels_last,
        "amp": embedder.amp,
        "retrieval_memory_gb": retrieval_memory_gb,
        "rerank": bool(rerank),
        **({"rerank_k1": int(rerank_k1), "rerank_k2": int(rerank_k2), "rerank_lambda": float(rerank_lambda)} if rerank else {}),
        "topk": topk,
        "use_faiss": bool(use_faiss),
        "verification_pairs": verification_pairs,
        "input_size": list(embedder.size),
        "flip_tta": bool(flip_tta),
        "canonicalize": canonicalize,
        "orientation_model": (orientation.info.get("trained_on") or "given") if orientation is not None else None,
    }
    results: dict = {"model": name, "spec": spec, "out_dir": str(out_dir), "settings": settings, "metrics": {},
                     "figures": [], "files": [], "timing": {}, "study": None, "study_result": None,
                     "retrieval": None, "retrieval_rerank": None, "verification": None, "collapse": None, "canonicalisation": None,
                     "attribution": None}

    market = None
    if market_root is not None:
        t0 = time.perf_counter()
        market = _market(embedder, market_root, name, out_dir / "market", topk, use_faiss, verification_pairs,
                         max_negatives, results,
                         dict(memory_gb=retrieval_memory_gb, rerank=rerank, k1=rerank_k1, k2=rerank_k2, lambda_value=rerank_lambda))
        results["timing"]["market_s"] = time.perf_counter() - t0

    if study_root is not None:
        from reidfw.data.formats.study_manifest import read_manifest

        t0 = time.perf_counter()
        manifest = read_manifest(study_root)
        source = None  # the study's own impostors when it has them (run_study decides)
        if not has_study_impostors(manifest) and market is not None:
            feats, pids = market
            source = pooled_impostors(feats, pids, f"the retrieval set {market_root} (different-identity pairs, "
                                      "pooled: the study names no impostors)")
        study = run_study(manifest, lambda imgs: embedder.embed(imgs, mask_background=mask_background), source)
        sdir = out_dir / "study"
        results["files"] += [str(p) for p in write_study_outputs(study, sdir)]
        for m in study.matrices:
            results["figures"].append(str(plot_heatmap(m, name, sdir / "heatmaps" / f"{_file_stem(m.factor)}.png")))
        results["study"] = study.to_json()
        results["study_result"] = study
        results["metrics"].update(study.metrics())
        settings["study_name"] = manifest.name
        settings["impostors"] = study.impostors.description
        results["timing"]["study_s"] = time.perf_counter() - t0
        if canonicalize == "compare":
            from reidfw.evaluation.orientation_study import compare_canonicalisation

            t0 = time.perf_counter()
            canon = Embedder(model, spec, canonicalize=orientation, **kw)
            comp = compare_canonicalisation(manifest, study, lambda imgs: canon.embed(imgs, mask_background=mask_background),
                                            source, out_dir, orientation)
            if comp is not None:
                results["canonicalisation"] = comp
                results["metrics"].update(comp["metrics"])
                results["figures"] += comp["figures"]
                results["files"] += comp["files"]
            results["timing"]["canonicalisation_s"] = time.perf_counter() - t0
        skip = None
        if attribution:
            from reidfw.evaluation.attribution import not_explainable

            skip = not_explainable(embedder.model)
            if skip:
                log.info("attribution skipped for %s: %s", name, skip)
                results["attribution"] = {"method": None, "figures": [], "skipped": skip}
        if attribution and not skip:
            from reidfw.evaluation.attribution_study import study_attribution

            t0 = time.perf_counter()
            att = study_attribution(embedder.model, spec, manifest, name, out_dir / "attribution", mask_background)
            results["attribution"] = {k: att[k] for k in ("method", "figures")}
            results["figures"] += att["figures"]
            results["files"] += att["files"]
            results["timing"]["attribution_s"] = time.perf_counter() - t0

    check = results.get("collapse")
    if check is None and results.get("study_result") is not None and results["study_result"].impostors.kind == "study":
        # no retrieval set: the study's impostors are many different people too
        results["collapse"] = check = _study_collapse(results["study_result"], embedder, study_root, mask_background)
    if check is not None:
        results["metrics"].update(check.metrics())

    results["files"].append(str(write_results_json(results)))
    return results


def write_results_json(results: dict, folder: str | Path | None = None) -> Path:
    """``results.json`` in ``folder`` (default: the results' out_dir): settings, spec, the collapse check,
    metrics and the file list."""
    res_json = Path(folder if folder is not None else results["out_dir"]) / "results.json"
    keep = {k: v for k, v in results.items()
            if k not in ("study_result", "verification", "study", "collapse", "canonicalisation")}
    keep["collapse"] = results["collapse"].to_json() if results.get("collapse") is not None else None
    res_json.write_text(json.dumps(_json_safe(keep), indent=1))
    return res_json


def canonical_mode(value) -> bool | str:
    """``canonicalize`` as given in a config: false / true / "compare" (strings "off"/"on" too)."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("false", "off", "no", "none", "null", ""):
            return False
        if v in ("true", "on", "yes"):
            return True
        if v == "compare":
            return "compare"
    elif value is None or isinstance(value, bool):
        return bool(value)
    raise ValueError(f"canonicalize={value!r}: choose false, true (canonicalise every crop) or compare "
                     "(the orientation factors with and without, side by side)")


def _market(embedder, market_root, name, mdir: Path, topk, use_faiss, verification_pairs, max_negatives, results, exact):
    """Retrieval (plus k-reciprocal re-ranking with ``exact["rerank"]``), verification and the collapse
    check on a Market-layout set; returns (features, pids). ``exact``: memory_gb, rerank, k1, k2, lambda_value."""
    from reidfw.data.formats.market import read_market_split

    query = read_market_split(market_root, "query")
    gallery = read_market_split(market_root, "gallery")
    if not query or not gallery:
        raise ValueError(f"{market_root}: query/ has {len(query)} and bounding_box_test/ {len(gallery)} images; both need some")
    qf, gf = embedder.embed(query, desc="embedding query"), embedder.embed(gallery, desc="embedding gallery")
    q_pids, q_cams = np.array([i.pid for i in query]), np.array([i.camera for i in query])
    g_pids, g_cams = np.array([i.pid for i in gallery]), np.array([i.camera for i in gallery])
    big = len(qf) * len(gf) > 50_000_000  # ~ a Market-1501 test set: a progress bar from there on
    device = str(embedder.device)
    ret = evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, topk=topk, use_faiss=use_faiss,
                             memory_gb=exact["memory_gb"], device=device, progress=big)
    if exact["rerank"]:
        from reidfw.evaluation.rerank import evaluate_reranked

        rr = evaluate_reranked(qf, q_pids, q_cams, gf, g_pids, g_cams, k1=exact["k1"], k2=exact["k2"],
                               lambda_value=exact["lambda_value"], memory_gb=exact["memory_gb"], device=device, progress=big)
        mdir.mkdir(parents=True, exist_ok=True)
        (mdir / "retrieval_rerank.json").write_text(json.dumps(rr, indent=1))
        results["files"].append(str(mdir / "retrieval_rerank.json"))
        results["retrieval_rerank"] = rr
        results["metrics"].update({f"retrieval_rerank/{k}": float(rr[k]) for k in RETRIEVAL_KEYS})
    if verification_pairs == "gallery":
        scores, labels = gallery_pairs(gf, g_pids, g_cams, max_negatives=max_negatives)
    else:
        scores, labels = query_gallery_pairs(qf, q_pids, q_cams, gf, g_pids, g_cams, max_negatives=max_negatives)
    ver = verification_metrics(scores, labels)
    feats, pids = np.concatenate([qf, gf]), np.concatenate([q_pids, g_pids])
    pids = np.where(pids == DISTRACTOR_PID, -2 - np.arange(len(pids)), pids)  # each distractor is its own person
    check = collapse_check(feats, pids)
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / "retrieval.json").write_text(json.dumps(ret, indent=1))
    (mdir / "verification.json").write_text(json.dumps(_json_safe(ver), indent=1))
    (mdir / "collapse.json").write_text(json.dumps(check.to_json(), indent=1))
    results["files"] += [str(mdir / f) for f in ("retrieval.json", "verification.json", "collapse.json")]
    results["figures"].append(str(plot_roc([(name, ver)], mdir / "roc.png")))
    results["figures"].append(str(plot_pr([(name, ver)], mdir / "pr.png")))
    results["retrieval"], results["verification"], results["collapse"] = ret, ver, check
    results["metrics"].update({f"retrieval/{k}": float(ret[k]) for k in RETRIEVAL_KEYS})
    results["metrics"].update({f"verification/{k}": v for k, v in scalar_metrics(ver).items()})
    return feats, pids


def _study_collapse(study, embedder, study_root, mask_background) -> CollapseCheck:
    from reidfw.data.formats.study_manifest import read_manifest

    people = {}
    for f in read_manifest(study_root).factors:
        for c in f.conditions:
            people.setdefault("study-subject", c.images[0])
            for i in c.impostors:
                people.setdefault(i.identity, i)
    feats = embedder.embed(list(people.values()), mask_background=mask_background)
    return collapse_check(feats, np.arange(len(feats)))


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
            if all(m.z is not None for _, m in pairs):
                figures.append(str(plot_heatmaps_side_by_side(pairs, out_dir / "heatmaps" / f"{_file_stem(f)}_z.png", "z")))
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
