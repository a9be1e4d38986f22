"""The paper's findings as tests: each a statement, the numbers that test it, a verdict.

Findings 1-5 are the paper's (``NOTES.md``, "Findings"), 6 its precision-first /
recall-first judgment. Two models take the paper's roles, matched by method: the
margin-softmax model ("arcface": ArcFace, CosFace, SphereFace) and the contrastive one
("moco"); ``roles`` overrides the match. Each finding is split into checks; a check is a
quantity with a 95 % interval and the sign the paper predicts:

- the study's checks use the calibrated scale (impostor z per cell;
  :mod:`reidfw.evaluation.calibration`) and its bootstrap replicates, paired between the
  models where a check compares them. Where a finding compares two models' robustness to a
  factor, it compares their *z drop* (mean z across conditions minus mean z within one): the
  bounded "strangers beaten" saturates at 1.00 for two models that both beat every study
  impostor, and a difference at that ceiling is 0 whatever the models do;
- finding 6 uses the verification pairs of the retrieval set, with Wilson intervals on
  each proportion (a difference counts as resolved when the intervals do not overlap).

A check *holds* when its interval lies on the predicted side of 0, is *contradicted* when it
lies on the other side, and is *unresolved* otherwise. A finding is **reproduced** when all
its checks hold, **not reproduced** when any is contradicted, **inconclusive** otherwise.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from reidfw.evaluation.calibration import interval
from reidfw.evaluation.study import metric_key

ROLE_METHODS = {"arcface": ("arcface",), "moco": ("moco",)}
ROLE_NAMES = {"arcface": "ArcFace (margin-softmax)", "moco": "MoCo (contrastive)"}


@dataclass
class Check:
    statement: str
    value: float
    low: float
    high: float
    expected: str  # "< 0" or "> 0"
    verdict: str = ""  # holds | contradicted | unresolved | not applicable

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = _judge(self.low, self.high, self.expected)


@dataclass
class Finding:
    number: int
    title: str
    paper: str
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    @property
    def verdict(self) -> str:
        verdicts = [c.verdict for c in self.checks if c.verdict != "not applicable"]
        if not verdicts:
            return "inconclusive"
        if "contradicted" in verdicts:
            return "not reproduced"
        return "reproduced" if all(v == "holds" for v in verdicts) else "inconclusive"


def _judge(lo: float, hi: float, expected: str) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "unresolved"
    if expected == "< 0":
        return "holds" if hi < 0 else "contradicted" if lo > 0 else "unresolved"
    return "holds" if lo > 0 else "contradicted" if hi < 0 else "unresolved"


def match_roles(results: Sequence[dict], roles: dict | None = None) -> dict[str, dict]:
    """{"arcface": result, "moco": result}: by the given names, else by each model's method."""
    by_name = {r["model"]: r for r in results}
    out = {}
    for role, methods in ROLE_METHODS.items():
        wanted = (roles or {}).get(role)
        if wanted is not None:
            if wanted not in by_name:
                raise ValueError(f"findings.{role}={wanted!r} names no evaluated model; the models are {sorted(by_name)}")
            out[role] = by_name[wanted]
            continue
        matches = [r for r in results if (r.get("spec") or {}).get("method") in methods]
        if len(matches) == 1:
            out[role] = matches[0]
    return out


class _Study:
    """Replicates of one model's study numbers, addressed by factor and condition."""

    def __init__(self, result: dict):
        st = result["study_result"]
        self.reps = st.replicates
        self.factors = {m.factor: m for m in st.matrices}

    def has(self, factor: str) -> bool:
        m = self.factors.get(factor)
        return m is not None and m.calibration is not None and m.calibration.z is not None

    def z(self, factor: str, a: str, b: str) -> np.ndarray:
        m = self.factors[factor]
        i, j = m.condition_ids.index(a), m.condition_ids.index(b)
        return m.calibration.z[:, i, j]

    def z_drop(self, factor: str) -> np.ndarray:
        """How far similarity falls when the factor changes, in impostor z (negative = it falls)."""
        k = metric_key(factor)
        return self.reps[f"study_z/{k}/across_mean"] - self.reps[f"study_z/{k}/within_mean"]


def _check(statement: str, values: np.ndarray, expected: str) -> Check:
    lo, hi = interval(values)
    return Check(statement, float(values[0]), lo, hi, expected)


def _number(text: str) -> float | None:
    m = re.search(r"-?\d+(\.\d+)?", text)
    return float(m.group()) if m else None


def _distance_slope(s: _Study, factor: str) -> np.ndarray | None:
    """Least-squares slope of z(standard, c) against |distance(c) - distance(standard)|, per replicate."""
    m = s.factors[factor]
    vals = [_number(c) for c in m.condition_ids]
    if any(v is None for v in vals):
        return None
    std = vals[m.condition_ids.index(m.standard)]
    gaps = np.array([abs(v - std) for v in vals])
    z = np.stack([s.z(factor, m.standard, c) for c in m.condition_ids], axis=1)  # (R, K)
    keep = np.isfinite(z[0])
    g = gaps[keep] - gaps[keep].mean()
    return ((z[:, keep] - z[:, keep].mean(1, keepdims=True)) * g).sum(1) / (g**2).sum()


def _angle_ids(m) -> dict[int, str]:
    return {int(round(v)) % 360: c for c in m.condition_ids if (v := _number(c)) is not None}


def _study_findings(a: _Study, m: _Study, names: dict[str, str]) -> list[Finding]:
    A, M = names["arcface"], names["moco"]
    both = ((A, a), (M, m))
    out = []

    f = Finding(1, "Distance", "Similarity falls as the distance gap grows; ArcFace is more robust to distance than MoCo.")
    if a.has("distance") and m.has("distance"):
        for name, s in both:
            slope = _distance_slope(s, "distance")
            if slope is not None:
                f.checks.append(_check(f"{name}: slope of z(standard, d) per metre of distance gap", slope, "< 0"))
        f.checks.append(_check(f"robustness to distance (z drop), {A} - {M}", a.z_drop("distance") - m.z_drop("distance"), "> 0"))
    out.append(f)

    f = Finding(2, "Orientation", "With a backpack ArcFace's similarity falls markedly; both models give fairly high "
                "similarity between mirror views (90° vs 270°), an effect of horizontal-flip augmentation.")
    if all(s.has(x) for s in (a, m) for x in ("orientation", "orientation_backpack")):
        drop = {n: s.z_drop("orientation_backpack") - s.z_drop("orientation") for n, s in both}
        f.checks.append(_check(f"{A}: z drop over orientations with backpack - without", drop[A], "< 0"))
        f.checks.append(_check(f"backpack drop, {A} - {M}", drop[A] - drop[M], "< 0"))
        ids = _angle_ids(a.factors["orientation"])
        if {90, 270, 0, 180, 45, 225, 135, 315} <= set(ids):
            for name, s in both:
                others = np.mean([s.z("orientation", ids[x], ids[y]) for x, y in ((0, 180), (45, 225), (135, 315))], axis=0)
                f.checks.append(_check(f"{name}: z(90°, 270°) - mean z of the other 180°-apart pairs",
                                       s.z("orientation", ids[90], ids[270]) - others, "> 0"))
        else:
            f.note = "mirror-view check needs conditions at 0, 45, ..., 315 degrees"
    out.append(f)

    f = Finding(3, "Clothing", "The gray top lowers similarity to the other three for both models; ArcFace also drops "
                "when the helmet comes off, MoCo does not.")
    cl = a.factors.get("clothing")
    if a.has("clothing") and m.has("clothing") and {"gray", "white1", "white1_nohelmet"} <= set(cl.condition_ids):
        others = [c for c in cl.condition_ids if c != "gray"]
        pairs = [(x, y) for i, x in enumerate(others) for y in others[i + 1:]]
        for name, s in both:
            gray = np.mean([s.z("clothing", "gray", c) for c in others], axis=0)
            rest = np.mean([s.z("clothing", x, y) for x, y in pairs], axis=0)
            f.checks.append(_check(f"{name}: mean z(gray, others) - mean z among the others", gray - rest, "< 0"))
        helmet = {n: s.z("clothing", "white1", "white1_nohelmet") - s.z("clothing", "white1", "white1") for n, s in both}
        f.checks.append(_check(f"{A}: z(helmet off vs on) - z(on vs on)", helmet[A], "< 0"))
        f.checks.append(_check(f"helmet drop, {A} - {M}", helmet[A] - helmet[M], "< 0"))
    out.append(f)

    f = Finding(4, "Background", "MoCo drops slightly, ArcFace markedly; the monitor lowers similarity most.")
    bg = a.factors.get("background")
    if a.has("background") and m.has("background") and {"monitor", "none"} <= set(bg.condition_ids):
        f.checks.append(_check(f"robustness to background (z drop), {A} - {M}",
                               a.z_drop("background") - m.z_drop("background"), "< 0"))
        for name, s in both:
            std = s.factors["background"].standard
            f.checks.append(_check(f"{name}: z(standard, monitor) - z(standard, no panel)",
                                   s.z("background", std, "monitor") - s.z("background", std, "none"), "< 0"))
    out.append(f)

    f = Finding(5, "Camera height", "Similarity falls with camera height for both models, ArcFace markedly.")
    ch = a.factors.get("camera_height")
    if a.has("camera_height") and m.has("camera_height"):
        highest = max(ch.condition_ids, key=lambda c: _number(c) or -1)
        drop = {n: s.z("camera_height", s.factors["camera_height"].standard, highest)
                - s.z("camera_height", s.factors["camera_height"].standard, s.factors["camera_height"].standard)
                for n, s in both}
        for name in (A, M):
            f.checks.append(_check(f"{name}: z(standard, {highest}) - z(standard, standard)", drop[name], "< 0"))
        f.checks.append(_check(f"height drop, {A} - {M}", drop[A] - drop[M], "< 0"))
    out.append(f)
    return out


def _wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + z**2 / n
    c = (p + z**2 / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / d
    return c - h, c + h


def _proportion_check(statement: str, a: tuple[float, float], m: tuple[float, float], expected: str) -> Check:
    """Difference of two proportions (successes, trials); resolved when the Wilson intervals do not overlap."""
    (ka, na), (km, nm) = a, m
    la, ha = _wilson(ka, na)
    lm, hm = _wilson(km, nm)
    value = ka / na - km / nm if na and nm else math.nan
    return Check(statement, value, la - hm, ha - lm, expected)


def _verification_finding(a: dict, m: dict, names: dict[str, str]) -> Finding:
    A, M = names["arcface"], names["moco"]
    f = Finding(6, "Precision-first / recall-first", "ArcFace is precision-first (its similarity is rarely high, but "
                "right when it is); MoCo is recall-first.")
    va, vm = a.get("verification"), m.get("verification")
    if va is None or vm is None:
        f.note = "needs a retrieval set (market=...) for verification pairs"
        return f
    # precision-first: at the strict threshold (FAR 1e-3) ArcFace accepts more genuine pairs
    f.checks.append(_proportion_check(
        f"TAR at FAR 1e-3, {A} - {M}",
        (va["tar_at_far_0.001"] * va["num_pos"], va["num_pos"]), (vm["tar_at_far_0.001"] * vm["num_pos"], vm["num_pos"]), "> 0"))
    # recall-first, on the raw scale the paper reads: at one cosine threshold MoCo accepts more genuine pairs
    t = 0.5
    ra, rm = _recall_at(va, t), _recall_at(vm, t)
    f.checks.append(_proportion_check(f"recall at raw cosine >= {t}, {M} - {A}",
                                      (rm * vm["num_pos"], vm["num_pos"]), (ra * va["num_pos"], va["num_pos"]), "> 0"))
    return f


def _recall_at(v: dict, threshold: float) -> float:
    cv = v["curves"]
    thr, tpr = np.asarray(cv["thresholds"]), np.asarray(cv["tpr"])
    ok = thr >= threshold
    return float(tpr[ok].max()) if ok.any() else 0.0


def findings_report(results: Sequence[dict], roles: dict | None = None) -> dict:
    """The report as a JSON-able dict (see the module docstring)."""
    matched = match_roles(results, roles)
    if set(matched) != {"arcface", "moco"}:
        return {"models": {k: v["model"] for k, v in matched.items()}, "findings": [],
                "note": "the findings need one margin-softmax (arcface) and one contrastive (moco) model; "
                        "name them with findings.arcface=<model name> findings.moco=<model name>"}
    names = {role: r["model"] for role, r in matched.items()}
    findings = []
    if all(r.get("study_result") is not None for r in matched.values()):
        findings += _study_findings(_Study(matched["arcface"]), _Study(matched["moco"]), names)
    findings.append(_verification_finding(matched["arcface"], matched["moco"], names))
    impostors = {r["study_result"].impostors.description for r in matched.values() if r.get("study_result") is not None}
    return {
        "models": names,
        "impostors": "; ".join(sorted(impostors)),
        "findings": [{**asdict(f), "verdict": f.verdict} for f in findings],
        "reproduced": sum(f.verdict == "reproduced" for f in findings),
        "total": len(findings),
    }


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:+.3f}"


def to_markdown(report: dict) -> str:
    lines = ["# The paper's findings, tested", ""]
    if not report["findings"]:
        return "\n".join(lines + [report.get("note", "no findings could be tested")]) + "\n"
    names = report["models"]
    lines += [f"Models: ArcFace role = **{names['arcface']}**, MoCo role = **{names['moco']}**. "
              f"Study on the calibrated scale (impostor z; impostors: {report['impostors']}), 95 % intervals.", "",
              f"**{report['reproduced']} of {report['total']} reproduced.**", "",
              "| # | finding | check | value [95 %] | predicted | check verdict | finding |",
              "|---|---|---|---|---|---|---|"]
    for f in report["findings"]:
        checks = f["checks"] or [{"statement": f.get("note") or "not testable on this study", "value": math.nan,
                                  "low": math.nan, "high": math.nan, "expected": "", "verdict": "not applicable"}]
        for i, c in enumerate(checks):
            head = (f"{f['number']}", f"**{f['title']}**: {f['paper']}") if i == 0 else ("", "")
            verdict = f"**{f['verdict']}**" if i == 0 else ""
            lines.append(f"| {head[0]} | {head[1]} | {c['statement']} | {_fmt(c['value'])} [{_fmt(c['low'])}, "
                         f"{_fmt(c['high'])}] | {c['expected']} | {c['verdict']} | {verdict} |")
    return "\n".join(lines) + "\n"


def to_terminal(report: dict) -> str:
    if not report["findings"]:
        return f"== findings ==\n  {report.get('note')}"
    lines = [f"== the paper's findings (ArcFace = {report['models']['arcface']}, MoCo = {report['models']['moco']}; "
             f"{report['reproduced']} of {report['total']} reproduced) =="]
    for f in report["findings"]:
        lines.append(f"  {f['number']}. {f['title']:<31} {f['verdict']}")
        for c in f["checks"]:
            lines.append(f"       {c['statement']:<62} {_fmt(c['value'])} [{_fmt(c['low'])}, {_fmt(c['high'])}]  "
                         f"{c['expected']:>4}  {c['verdict']}")
        if f.get("note"):
            lines.append(f"       ({f['note']})")
    return "\n".join(lines)


def write_report(report: dict, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "findings.md", out / "findings.json"
    md.write_text(to_markdown(report))
    js.write_text(json.dumps(report, indent=1, default=float, allow_nan=True).replace("NaN", "null"))
    return [md, js]
