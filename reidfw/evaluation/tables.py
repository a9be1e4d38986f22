"""The evaluation's terminal tables: one model's summary, and models side by side.

The comparison reads the study on the calibrated scale first (impostor z; see
:mod:`reidfw.evaluation.calibration`), with 95 % intervals, and for every model after the
first the paired difference to the first; a difference whose interval contains 0 is marked
``≈`` — the study cannot tell the two models apart there. Raw-cosine robustness follows
(the paper's scale, comparable only between healthy models), then retrieval, verification
and the collapse check.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from reidfw.evaluation.calibration import difference, interval, resolved
from reidfw.evaluation.study import metric_key

RETRIEVAL_ROWS = [
    ("mAP", "retrieval/mAP"),
    ("rank-1", "retrieval/rank1"),
    ("mINP", "retrieval/mINP"),
    ("mAP re-ranked", "retrieval_rerank/mAP"),
    ("rank-1 re-ranked", "retrieval_rerank/rank1"),
    ("TAR@FAR=1e-3", "verification/tar_at_far_0.001"),
    ("TAR@FAR=1e-2", "verification/tar_at_far_0.01"),
    ("precision@recall=0.5", "verification/precision_at_recall_0.5"),
    ("precision@recall=0.9", "verification/precision_at_recall_0.9"),
    ("impostor mean cosine", "collapse/impostor_mean"),
    ("effective rank", "collapse/effective_rank"),
]


def _num(v, width: int, digits: int = 3) -> str:
    return f"{'n/a':>{width}}" if v is None or not math.isfinite(v) else f"{v:>{width}.{digits}f}"


def _with_interval(reps, digits: int = 2) -> str:
    if reps is None:
        return "n/a"
    lo, hi = interval(reps)
    v = float(reps[0])
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if math.isfinite(lo) else f"{v:.{digits}f}"


def _diff(a, b, digits: int = 2) -> str:
    if a is None or b is None:
        return ""
    d, lo, hi = difference(a, b)
    if not math.isfinite(d):
        return "n/a"
    text = f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
    return text if resolved(lo, hi) else f"≈ {text}"


def _factors(results: Sequence[dict]) -> list[str]:
    out: list[str] = []
    for r in results:
        st = r.get("study_result")
        for fm in st.matrices if st is not None else []:
            if fm.factor not in out:
                out.append(fm.factor)
    return out


def summary_table(results: dict) -> str:
    """One model: per factor within / across / robustness raw and calibrated, retrieval, the collapse check."""
    m = results["metrics"]
    lines = [f"== {results['model']} =="]
    st = results.get("study_result")
    if st is not None:
        reps = st.replicates
        w = max(len("factor"), *(len(fm.factor) for fm in st.matrices))
        lines.append(f"  {'factor':<{w}} {'within':>7} {'across':>7} {'robustness':>10}   strangers beaten when it changes [95 %]")
        for fm in st.matrices:
            k = metric_key(fm.factor)
            cal = _with_interval(reps.get(f"study_z/{k}/robustness"))
            lines.append(
                f"  {fm.factor:<{w}} {m[f'study/{k}/within_mean']:>7.3f} {m[f'study/{k}/across_mean']:>7.3f} "
                f"{m[f'study/{k}/robustness']:>10.3f}   {cal}"
            )
        lines.append(f"  impostors: {st.impostors.description}")
    if results.get("retrieval") is not None:
        lines.append(
            f"  retrieval: mAP {m['retrieval/mAP']:.3f}  rank-1 {m['retrieval/rank1']:.3f}  "
            f"mINP {m['retrieval/mINP']:.3f}  TAR@FAR=1e-3 {m.get('verification/tar_at_far_0.001', float('nan')):.3f}"
            + (f"  ({int(m['retrieval/skipped_queries'])} queries without a match skipped)" if m["retrieval/skipped_queries"] else "")
        )
    if results.get("retrieval_rerank") is not None:
        lines.append(
            f"  re-ranked (k-reciprocal): mAP {m['retrieval_rerank/mAP']:.3f}  rank-1 {m['retrieval_rerank/rank1']:.3f}  "
            f"mINP {m['retrieval_rerank/mINP']:.3f}"
        )
    if results.get("collapse") is not None:
        lines.append("  " + results["collapse"].message(results["model"]))
    lines.append(f"  figures: {Path(results['out_dir']).resolve()}")
    return "\n".join(lines)


def comparison_table(results: Sequence[dict]) -> str:
    """Models side by side (see the module docstring)."""
    names = [r["model"] for r in results]
    reps = [r["study_result"].replicates if r.get("study_result") is not None else {} for r in results]
    factors = _factors(results)
    rows: list[tuple[str, list[str], list[str]]] = []
    for f in factors:
        k = f"study_z/{metric_key(f)}/robustness"
        if any(k in rp for rp in reps):
            rows.append((f"robustness {f}", [_with_interval(rp.get(k)) for rp in reps],
                         [_diff(rp.get(k), reps[0].get(k)) for rp in reps[1:]]))
    calibrated = len(rows)
    for f in factors:
        k = f"study/{metric_key(f)}/robustness"
        label = f"raw robustness {f}" if calibrated else f"robustness {f}"
        rows.append((label, [_num(r["metrics"].get(k), 0, 3).strip() for r in results], []))
    for label, k in RETRIEVAL_ROWS:
        if any(k in r["metrics"] for r in results):
            rows.append((label, [_num(r["metrics"].get(k), 0, 3).strip() for r in results], []))
    for r in results:
        if r.get("collapse") is not None and r["collapse"].verdict != "healthy":
            rows.append((f"{r['model']}: {r['collapse'].verdict}", ["" for _ in results], []))
    w = max([len(label) for label, _, _ in rows] + [10])
    cw = max([len(c) for _, cells, _ in rows for c in cells] + [len(n) for n in names] + [8])
    diff_names = [f"{n} - {names[0]}" for n in names[1:]]
    dw = max([len(c) for _, _, ds in rows for c in ds] + [len(n) for n in diff_names] + [8])
    head = f"  {'':<{w}} " + " ".join(f"{n:>{cw}}" for n in names)
    if calibrated:
        head += "   " + " ".join(f"{n:>{dw}}" for n in diff_names)
    lines = ["== comparison ==" + (" (calibrated rows: strangers beaten when the factor changes, [95 % interval]; ≈ = difference not resolved)"
                                    if calibrated else ""), head]
    for i, (label, cells, diffs) in enumerate(rows):
        line = f"  {label:<{w}} " + " ".join(f"{c:>{cw}}" for c in cells)
        if diffs:
            line += "   " + " ".join(f"{d:>{dw}}" for d in diffs)
        lines.append(line)
        if calibrated and i == calibrated - 1:
            lines.append("")
    sources = {r["study_result"].impostors.description for r in results if r.get("study_result") is not None}
    if sources:
        lines.append(f"  impostors: {'; '.join(sorted(sources))}")
    return "\n".join(lines)
