"""The paper's explanation as an experiment: one recipe, two training distributions, one factor apart.

An ablation preset (``conf/experiment/ablation_<factor>.yaml``) sweeps one setting of the
synthetic training set (e.g. the tracks' camera heights) with Hydra's ``-m``, and registers
:class:`AblationReport` as a Hydra callback. When the sweep ends the callback evaluates every
trained model on the study (calibrated, :mod:`reidfw.evaluation.calibration`), and puts the
comparison in MLflow as a parent run whose children are the training runs: the calibrated
robustness of every factor for each variant with 95 % intervals (a chart and a table), and
the paired difference on the ablated factor with the paper's predicted sign and a verdict.

Strangers beaten is bounded: when both variants beat every stranger under every change of the
factor (1.00 [1.00, 1.00] each), their difference is 0 by construction, not by evidence. So the
report also gives the **z drop** of the factor — the mean impostor z where the factor changes
minus where it does not (0 = changing the factor costs nothing; unbounded, so it still
separates models at that ceiling) — with its paired interval, and the verdict says which of
the two scales decided it.

    python train.py -m experiment=ablation_camera_height
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def _metric_name(label: str) -> str:
    """A variant label as an MLflow metric-name part (letters, digits, _ - . / only)."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label.lstrip("+~")).strip("_")[:200]


def _variant_label(overrides: list[str], swept: list[str]) -> str:
    swept = {k.lstrip("+~") for k in swept}
    picked = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in swept]
    return " ".join(picked) or " ".join(overrides) or "default"


class AblationReport(Callback):
    """``on_multirun_end``: evaluate the sweep's models on the study and log the comparison (see module docstring).

    ``factor``: the study factor the variants should differ on; ``expect``: the variant label (a
    substring of its override) predicted to be the more robust one; ``study``: the study root
    (``synthetic`` = the generated one of the config's ``synthetic`` preset).
    """

    def __init__(self, factor: str, expect: str, study: str = "synthetic", title: str = ""):
        self.factor, self.expect, self.study, self.title = factor, expect, study, title or f"ablation: {factor}"

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        # After the jobs Hydra no longer holds a config, and ${hydra:...} (cache_dir's default) needs one.
        HydraConfig.instance().set_config(config)
        sweep_dir = Path(config.hydra.sweep.dir)
        summaries = sorted(sweep_dir.glob("*/train_summary.json"))
        if len(summaries) < 2:
            log.warning("ablation %s: found %d finished runs under %s; need two to compare", self.factor, len(summaries), sweep_dir)
            return
        swept = [str(k) for k in (config.hydra.sweeper.get("params") or {})]
        runs = [json.loads(p.read_text()) for p in summaries]
        report = run_ablation(runs, swept, self.factor, self.expect, self.study, config, sweep_dir / "ablation", self.title)
        print(format_report(report))


def run_ablation(runs: list[dict], swept: list[str], factor: str, expect: str, study: str, config: DictConfig,
                 out_dir: Path, title: str) -> dict:
    from reidfw.checkpoints import load_embedding_model
    from reidfw.config_values import to_plain
    from reidfw.evaluation.calibration import difference, interval, resolved
    from reidfw.evaluation.command import resolve_data_root
    from reidfw.evaluation.pipeline import evaluate_model

    study_root = resolve_data_root(study, "study", config.cache_dir, to_plain(config.synthetic)["study"])
    results = []
    for run in runs:
        label = _variant_label(run.get("overrides") or [], swept)
        model, spec = load_embedding_model(run["exported_model"])
        res = evaluate_model(model, spec, out_dir=out_dir / f"variant{len(results)}", study_root=study_root,
                             model_name=label, num_workers=0, device="cpu")
        results.append((run, label, res))
    factors = [m.factor for m in results[0][2]["study_result"].matrices]
    table = {}
    for run, label, res in results:
        reps = res["study_result"].replicates
        table[label] = {f: [float(reps[f"study_z/{f}/robustness"][0]), *interval(reps[f"study_z/{f}/robustness"])]
                        for f in factors}
    favoured = [r for r in results if expect in r[1]]
    other = [r for r in results if expect not in r[1]]
    verdict, diff, z_diff = "not testable (the expected variant is not among the runs)", None, None
    if favoured and other:
        key = f"study_z/{factor}/robustness"
        d, lo, hi = difference(favoured[0][2]["study_result"].replicates[key], other[0][2]["study_result"].replicates[key])
        diff = {"favoured": favoured[0][1], "other": other[0][1], "value": d, "low": lo, "high": hi}
        verdict = _verdict(d, lo, hi, resolved, "strangers beaten")
        # The same comparison on the unbounded scale (module docstring: the ceiling).
        drops = [r[2]["study_result"].replicates for r in (favoured[0], other[0])]
        drops = [reps[f"study_z/{factor}/across_mean"] - reps[f"study_z/{factor}/within_mean"] for reps in drops]
        dz, lo_z, hi_z = difference(*drops)
        z_diff = {"favoured": favoured[0][1], "other": other[0][1], "value": dz, "low": lo_z, "high": hi_z,
                  "favoured_drop": float(drops[0][0]), "other_drop": float(drops[1][0])}
        if not resolved(lo, hi):
            verdict = f"{verdict}; on the z drop: {_verdict(dz, lo_z, hi_z, resolved, 'z drop')}"
    report = {"title": title, "factor": factor, "robustness": table, "difference": diff, "z_drop_difference": z_diff,
              "verdict": verdict,
              "children": [r[0]["run_id"] for r in results], "impostors": results[0][2]["study_result"].impostors.description}
    _log_parent(report, results, out_dir)
    return report


def _verdict(d: float, lo: float, hi: float, resolved, scale: str) -> str:
    if not resolved(lo, hi):
        return f"not resolved ({scale})"
    return f"{'predicted' if d > 0 else 'opposite'} direction, resolved ({scale})"


def _chart(report: dict, path: Path) -> Path:
    import numpy as np

    from reidfw.evaluation.figures import plt, save_figure

    labels = list(report["robustness"])
    factors = list(next(iter(report["robustness"].values())))
    x = np.arange(len(factors))
    fig, ax = plt.subplots(figsize=(1.3 * len(factors) + 3, 4), constrained_layout=True)
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        vals = np.array([report["robustness"][label][f] for f in factors], float)
        err = np.abs(vals[:, 1:].T - vals[:, 0])
        ax.bar(x + i * width - 0.4 + width / 2, vals[:, 0], width, yerr=np.nan_to_num(err), capsize=3, label=label)
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xticks(x, labels=factors, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("calibrated robustness (strangers beaten)")
    ax.set_title(report["title"] + f" — {report['verdict']}", fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _log_parent(report: dict, results, out_dir: Path) -> None:
    from mlflow.tracking import MlflowClient

    from reidfw.mlflow_logging.evaluation_run import PARENT_TAG
    from reidfw.mlflow_logging.store import resolve_tracking_uri

    out_dir.mkdir(parents=True, exist_ok=True)
    chart = _chart(report, out_dir / "ablation.png")
    (out_dir / "ablation.json").write_text(json.dumps(report, indent=1, default=float))
    client = MlflowClient(tracking_uri=resolve_tracking_uri(None))
    first = client.get_run(results[0][0]["run_id"])
    parent = client.create_run(first.info.experiment_id, run_name=report["title"],
                               tags={"reidfw.kind": "ablation", "reidfw.ablation.factor": report["factor"]})
    pid = parent.info.run_id
    for run, label, _ in results:
        client.set_tag(run["run_id"], PARENT_TAG, pid)  # the training runs show nested under the comparison
        client.set_tag(run["run_id"], "reidfw.ablation.variant", label)
    for label, per_factor in report["robustness"].items():
        for f, (v, lo, hi) in per_factor.items():
            if math.isfinite(v):
                client.log_metric(pid, f"robustness/{f}/{_metric_name(label)}", v)
    if report["difference"] is not None:
        client.log_metric(pid, f"difference/{report['factor']}", report["difference"]["value"])
    if report.get("z_drop_difference") is not None:
        client.log_metric(pid, f"z_drop_difference/{report['factor']}", report["z_drop_difference"]["value"])
    client.log_artifact(pid, str(chart))
    client.log_artifact(pid, str(out_dir / "ablation.json"))
    client.set_terminated(pid)
    report["parent_run_id"] = pid


def format_report(report: dict) -> str:
    lines = [f"== {report['title']} (calibrated robustness, strangers beaten [95 %]) =="]
    for label, per_factor in report["robustness"].items():
        cells = "  ".join(f"{f} {v:.2f} [{lo:.2f}, {hi:.2f}]" for f, (v, lo, hi) in per_factor.items())
        lines.append(f"  {label}: {cells}")
    d = report["difference"]
    if d is not None:
        lines.append(f"  {report['factor']}: {d['favoured']} - {d['other']} = {d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
                     " (strangers beaten)")
    z = report.get("z_drop_difference")
    if z is not None:
        lines.append(f"  {report['factor']} z drop (changed - unchanged, impostor z): {z['favoured']} {z['favoured_drop']:+.3f}, "
                     f"{z['other']} {z['other_drop']:+.3f}; difference {z['value']:+.3f} [{z['low']:+.3f}, {z['high']:+.3f}]")
    lines.append(f"  verdict: {report['verdict']}")
    lines.append(f"  MLflow parent run: {report.get('parent_run_id')} (children: {', '.join(report['children'])})")
    return "\n".join(lines)
