"""What ``python evaluate.py`` does, kept out of the Hydra entry point so it can be tested and reused.

Load each checkpoint -> evaluate it (study + Market) -> compare when there are
several -> one MLflow run per checkpoint -> print a short table per model.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from reidfw.errors import ReidfwError

SYNTHETIC = "synthetic"


class DataRootError(ReidfwError, FileNotFoundError):
    """study= / market= names a folder that is not there."""


def resolve_data_root(value: Any, kind: str, cache_dir: str, settings: dict) -> Path | None:
    """``null`` -> skip, ``"synthetic"`` -> the generated set with ``settings`` (built once, then cached), else a path."""
    if value is None or str(value).lower() in ("null", "none", ""):
        return None
    if str(value) == SYNTHETIC:
        from reidfw.synthetic.cache import ensure_dataset  # lazy: renders only when asked

        return Path(ensure_dataset(kind, settings, cache_dir))
    p = Path(str(value)).expanduser()
    if not p.exists():
        raise DataRootError(
            f"{kind}={value}: no such folder. Pass an existing {kind} root, {kind}={SYNTHETIC} for the generated "
            f"demo set, or {kind}=null to skip it."
        )
    return p


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    try:  # omegaconf ListConfig
        from omegaconf import ListConfig

        if isinstance(v, ListConfig):
            return list(v)
    except ImportError:
        pass
    return [v]


def unique_names(ckpts: list[str], specs: list[dict], given: list[str]) -> list[str]:
    """Given names, else method-backbone, else (when those collide) the checkpoint's folder/stem."""
    from reidfw.evaluation.pipeline import model_display_name

    if given:
        if len(given) != len(ckpts):
            raise ValueError(f"name= has {len(given)} entries for {len(ckpts)} checkpoints; give one name per ckpt")
        names = [str(n) for n in given]
    else:
        names = [model_display_name(s, Path(c).stem) for c, s in zip(ckpts, specs)]
        if len(set(names)) != len(names):
            names = [f"{Path(c).parent.name}-{Path(c).stem}" if Path(c).parent.name else Path(c).stem for c in ckpts]
    if len(set(names)) != len(names):
        names = [f"{n}-{i}" for i, n in enumerate(names)]
    return names


def _publish(staged, names: list[str], all_results: list[dict], comparison: dict | None):
    """Move every finished folder into place; the returned records (and results.json) name the final paths."""
    from reidfw.evaluation.pipeline import write_results_json
    from reidfw.evaluation.staging import relocate

    moved = []
    for name, res in zip(names, all_results):
        res = relocate(res, str(staged.path(name)), str(staged.final(name)))
        write_results_json(res, folder=staged.path(name))  # still in the staging folder, final paths inside
        staged.publish(name)
        moved.append(res)
    if comparison is not None:
        comparison = relocate(comparison, str(staged.path("comparison")), str(staged.final("comparison")))
        staged.publish("comparison")
    staged.close()
    return moved, comparison


def run_evaluation(cfg) -> int:
    """The evaluate.py command; returns the process exit code."""
    from omegaconf import OmegaConf

    from reidfw.checkpoints import CheckpointError, load_embedding_model
    from reidfw.config_values import to_plain
    from reidfw.mlflow_logging.runs import is_run_ref

    # Hydra's logging setup would otherwise print faiss' CPU-feature probing on every run.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    ckpts = [str(c) for c in _as_list(cfg.ckpt)]
    if not ckpts:
        print("error: ckpt= is empty; pass a checkpoint path (or a list ckpt=[a,b])", file=sys.stderr)
        return 2
    img_size = tuple(int(v) for v in cfg.img_size) if cfg.img_size is not None else None
    if any(is_run_ref(c) for c in ckpts):
        # The loader reads runs:/... from the current tracking store; point it at ours first.
        import mlflow

        from reidfw.mlflow_logging.store import resolve_tracking_uri

        mlflow.set_tracking_uri(resolve_tracking_uri(cfg.mlflow.tracking_uri))
    archs = [None if a is None else str(a) for a in _as_list(cfg.arch)] or [None]
    if len(archs) == 1:
        archs = archs * len(ckpts)
    if len(archs) != len(ckpts):
        print(f"error: arch= has {len(archs)} entries for {len(ckpts)} checkpoints; give one, or one per ckpt", file=sys.stderr)
        return 2
    models, specs = [], []
    for c, arch in zip(ckpts, archs):
        try:
            model, spec = load_embedding_model(c, arch=arch, img_size=img_size, map_location="cpu")
        except CheckpointError as e:
            # The loader's message already names the file, what was expected and the fix.
            print(f"error: cannot load checkpoint: {e}", file=sys.stderr)
            return 2
        except Exception as e:  # a failure the loader did not anticipate: still one line, traceback on request
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(
                f"error: cannot load checkpoint {c}: {type(e).__module__}.{type(e).__qualname__}: {e}. Is it a reidfw checkpoint/export, or "
                f"a state dict with arch= set? (HYDRA_FULL_ERROR=1 shows the traceback)",
                file=sys.stderr,
            )
            return 2
        models.append(model)
        specs.append(spec)
    names = unique_names(ckpts, specs, [str(n) for n in _as_list(cfg.name)])

    synthetic = to_plain(cfg.synthetic)
    study_root = resolve_data_root(cfg.study, "study", cfg.cache_dir, synthetic["study"])
    market_root = resolve_data_root(cfg.market, "market", cfg.cache_dir, synthetic["market"])
    if study_root is None and market_root is None:
        print("error: study=null and market=null leave nothing to evaluate", file=sys.stderr)
        return 2

    from reidfw.evaluation.pipeline import canonical_mode, compare_models, evaluate_model
    from reidfw.evaluation.tables import comparison_table, summary_table

    try:
        canonicalize = canonical_mode(cfg.canonicalize)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    orientation = None
    if canonicalize:
        from reidfw.orientation import OrientationModelError
        from reidfw.orientation.synthetic import resolve_orientation_model

        try:
            orientation = resolve_orientation_model(cfg.orientation_model, cfg.cache_dir, synthetic)
        except OrientationModelError as e:
            print(f"error: cannot load the orientation estimator: {e}", file=sys.stderr)
            return 2
    from reidfw.evaluation.staging import StagedOutputs

    # Folders are written aside and moved into out_dir once every model is done (staging.py).
    staged = StagedOutputs(cfg.out_dir)
    all_results = []
    try:
        for model, spec, name in zip(models, specs, names):
            all_results.append(
                evaluate_model(
                    model, spec, out_dir=staged.path(name), study_root=study_root, market_root=market_root,
                    model_name=name, mask_background=cfg.mask_background, batch_size=cfg.batch_size,
                    num_workers=cfg.num_workers, device=cfg.device, channels_last=cfg.channels_last, amp=cfg.amp,
                    topk=cfg.topk, use_faiss=cfg.use_faiss, max_negatives=cfg.max_negatives,
                    verification_pairs=cfg.verification_pairs, attribution=cfg.attribution, flip_tta=cfg.flip_tta,
                    canonicalize=canonicalize, orientation=orientation, retrieval_memory_gb=cfg.retrieval_memory_gb,
                    rerank=cfg.rerank, rerank_k1=cfg.rerank_k1, rerank_k2=cfg.rerank_k2, rerank_lambda=cfg.rerank_lambda,
                )
            )
        comparison = compare_models(all_results, staged.path("comparison")) if len(all_results) > 1 else None
        report = None
        if comparison:
            from reidfw.evaluation.findings import findings_report, write_report

            report = findings_report(all_results, to_plain(cfg.findings))
            comparison["files"] += [str(p) for p in write_report(report, comparison["out_dir"])]
    except BaseException:
        staged.close()  # nothing half-done stays behind (a kill -9 leaves it for the next run to remove)
        raise
    all_results, comparison = _publish(staged, names, all_results, comparison)

    run_ids = [None] * len(all_results)
    if cfg.mlflow.enabled:
        from reidfw.mlflow_logging.evaluation_run import log_evaluation
        from reidfw.mlflow_logging.store import resolve_tracking_uri

        uri = resolve_tracking_uri(cfg.mlflow.tracking_uri)
        cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)
        extra = [(comparison["out_dir"], "comparison")] if comparison else []
        for i, (res, ckpt) in enumerate(zip(all_results, ckpts)):
            run_ids[i] = log_evaluation(
                res, tracking_uri=uri, experiment=cfg.mlflow.experiment, checkpoint=ckpt,
                config_yaml=cfg_yaml, extra_artifacts=extra,
            )
    links = _ui_links(uri, run_ids) if cfg.mlflow.enabled else {}
    for res, rid in zip(all_results, run_ids):
        print(summary_table(res))
        if res.get("canonicalisation"):
            from reidfw.evaluation.orientation_study import canonicalisation_table

            print(canonicalisation_table(res["model"], res["canonicalisation"]))
        if res.get("attribution") and res["attribution"]["figures"]:
            from reidfw.evaluation.attribution import METHOD_TITLES

            where = Path(res["attribution"]["figures"][0]).parent.resolve()
            print(f"  attribution ({METHOD_TITLES[res['attribution']['method']]}): {where}")
        if rid:
            print(f"  MLflow run: {rid}")
            print(f"  in the UI:  {links[rid]}")
    if comparison:
        from reidfw.evaluation.findings import to_terminal

        print(comparison_table(all_results))
        print(to_terminal(report))
        print(f"side-by-side figures and the findings report (findings.md): {Path(comparison['out_dir']).resolve()}")
    if links.get("compare"):
        print(f"compare in the MLflow UI: {links['compare']}")
    if links.get("serve"):
        print(f"(serve the UI first: {links['serve']})")
    return 0


def _ui_links(uri: str, run_ids: list[str]) -> dict[str, str]:
    """Per evaluation run its heatmaps in the UI; the compare view of all of them; the command that serves the UI."""
    from mlflow.tracking import MlflowClient

    from reidfw.mlflow_logging.ui_links import compare_url, run_url, ui_base

    base, serve = ui_base(uri)
    client = MlflowClient(tracking_uri=uri)
    exps = {rid: client.get_run(rid).info.experiment_id for rid in run_ids}
    links = {rid: run_url(base, exp, rid, "evaluation/study/heatmaps") for rid, exp in exps.items()}
    if len(run_ids) > 1:
        links["compare"] = compare_url(base, list(exps.values()), run_ids)
    if serve:
        links["serve"] = serve
    return links
