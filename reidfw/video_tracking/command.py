"""What ``python track.py video=... out=...`` does, kept out of the Hydra entry point.

check the output folder -> open the video -> (continue or start) the scan: detect, track,
measure, save crops part by part -> curate whole tracks -> report -> tracks.csv +
tracking.json -> MLflow -> a closing summary with the next command.

Bad input ends in one line on stderr naming the file or setting and the fix (exit code 2),
never a traceback; an existing tracks set is never overwritten.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from reidfw.data.formats.tracks import TRACKS_TABLE
from reidfw.video_tracking.errors import TrackingInputError
from reidfw.video_tracking.workdir import WORK_DIR, WorkDir, fingerprint


def run_tracking(cfg: DictConfig) -> int:
    """The track.py command; returns the process exit code."""
    from reidfw.checkpoints import CheckpointError

    try:
        return _run(cfg)
    except (TrackingInputError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 -- anything unforeseen: still one line, the traceback on request
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: track.py failed: {type(e).__name__}: {e} (HYDRA_FULL_ERROR=1 shows the traceback)",
              file=sys.stderr)
        return 1


def check_output(out: Path) -> bool:
    """True when ``out`` holds an unfinished run to continue; raises when writing there could destroy data."""
    if (out / TRACKS_TABLE).exists():
        raise TrackingInputError(
            f"out={out} already holds tracks ({TRACKS_TABLE}); reidfw never overwrites a tracks set: choose a new "
            f"out= folder, or delete this one first if you mean to replace it")
    if out.exists() and not out.is_dir():
        raise TrackingInputError(f"out={out} is a file; out= must be a folder (new or empty)")
    if WorkDir(out).exists():
        return True
    if out.is_dir() and any(out.iterdir()):
        entries = sorted(p.name for p in out.iterdir())
        raise TrackingInputError(
            f"out={out} is not empty ({len(entries)} entries, e.g. {', '.join(entries[:3])}) and holds no unfinished "
            f"tracking run; choose a new or empty out= folder")
    return False


def default_camera(uri: str) -> str:
    """A camera id from the input: the file's stem, a frame folder's name (its parent's for MOTChallenge img1/)."""
    if re.match(r"^[a-z]+://", uri, re.IGNORECASE):
        return re.sub(r"[^A-Za-z0-9]+", "_", uri.split("://", 1)[1].split("/")[0]).strip("_") or "stream"
    p = Path(uri)
    name = p.parent.name if p.is_dir() and p.name == "img1" else (p.name if p.is_dir() else p.stem)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "cam0"


def _require(cfg: DictConfig) -> tuple[str, Path]:
    if not cfg.video:
        raise TrackingInputError("video= is missing: python track.py video=/path/clip.mp4 out=/data/my_tracks "
                                 "(a video file, a folder of frames, or an rtsp:// / http:// stream URL)")
    if not cfg.out:
        raise TrackingInputError(f"out= is missing: the new folder for tracks.csv and the crops, e.g. "
                                 f"python track.py video={cfg.video} out=/data/my_tracks")
    return str(cfg.video), Path(str(cfg.out)).expanduser()


def _settings(cfg: DictConfig) -> dict:
    """What changes the scan's output (curation is not in it: it can change between continuing runs)."""
    return {"detector": OmegaConf.to_container(cfg.detector, resolve=True),
            "tracker": OmegaConf.to_container(cfg.tracker, resolve=True),
            "stride": int(cfg.stride), "crops": OmegaConf.to_container(cfg.crops, resolve=True)}


def _run(cfg: DictConfig) -> int:
    from reidfw.video_tracking.detectors import build_detector
    from reidfw.video_tracking.scan import ScanSettings, scan
    from reidfw.video_tracking.sources import FrameSource
    from reidfw.video_tracking.tracker import build_tracker

    video, out = _require(cfg)
    resuming = check_output(out)
    if int(cfg.stride) < 1 or int(cfg.checkpoint_every) < 1:
        raise TrackingInputError("stride= and checkpoint_every= must be >= 1")
    source = FrameSource(video, fps=cfg.fps)
    info = source.info
    fp = fingerprint(info.uri, _settings(cfg))
    work = WorkDir(out)
    if resuming:
        state = work.load()
        if state.get("fingerprint") != fp:
            raise TrackingInputError(
                f"out={out} holds an unfinished run of {state.get('video')} with other settings; continue it with the "
                f"same video= and detector/tracker/stride/crops settings, or pick a new out= (or delete {out / WORK_DIR})")
    else:
        out.mkdir(parents=True, exist_ok=True)
        work.create({"fingerprint": fp, "video": info.uri, "camera": cfg.camera or default_camera(info.uri),
                     "width": info.width, "height": info.height, "fps": info.fps, "frames_total": info.frames})
    camera = work.state["camera"]
    client = run_id = uri = None
    if cfg.mlflow.enabled:
        from reidfw.video_tracking.mlflow_run import start_run

        client, run_id, uri = start_run(cfg, info.uri, run_id=work.state.get("mlflow_run_id"))
        work.update(mlflow_run_id=run_id, mlflow_tracking_uri=uri)

    if not work.state.get("scan_done"):
        detector = build_detector(OmegaConf.to_container(cfg.detector, resolve=True))
        tracker_cfg = OmegaConf.to_container(cfg.tracker, resolve=True)
        tracker = work.tracker(tracker_cfg, info.fps) or build_tracker(tracker_cfg, info.fps)
        start = int(work.state["next_frame"])
        total = f"{info.frames} frames" if info.frames else "unknown length"
        print(f"track.py: {info.uri} ({info.kind}, {info.width}x{info.height}, {info.fps:g} fps, {total}) -> {out}\n"
              f"  detector {cfg.detector.name}, tracker {cfg.tracker.name}, camera {camera}"
              + (f"; continuing at frame {start}" if start else ""), flush=True)
        settings = ScanSettings(stride=int(cfg.stride), checkpoint_every=int(cfg.checkpoint_every),
                                crop_margin=float(cfg.crops.margin), jpeg_quality=int(cfg.crops.jpeg_quality),
                                max_frames=cfg.max_frames, progress=bool(cfg.progress))
        outcome = scan(source, detector, tracker, work, settings)
        if not outcome.finished:
            why = "interrupted" if outcome.interrupted else f"stopped after max_frames={cfg.max_frames}"
            print(f"track.py: {why} at frame {outcome.next_frame}"
                  + (f" of {info.frames}" if info.frames else "")
                  + f"; everything up to it is saved in {work.root}.\n  continue: run the same command again")
            return 130 if outcome.interrupted else 0
    return finalize(cfg, out, work, camera, client, run_id, uri)


def _embedder(cfg: DictConfig, work: WorkDir):
    """rows -> L2-normalised embeddings of their crops, with the Re-ID model given as ``ckpt=``."""
    if not cfg.ckpt:
        return None
    from reidfw.evaluation.embed import CropItem, Embedder
    from reidfw.checkpoints import load_embedding_model

    if str(cfg.ckpt).startswith("runs:/") or re.fullmatch(r"[0-9a-f]{32}", str(cfg.ckpt)):
        import mlflow

        from reidfw.mlflow_logging.store import resolve_tracking_uri

        mlflow.set_tracking_uri(resolve_tracking_uri(cfg.mlflow.tracking_uri))     # where runs:/ refs live
    model, spec = load_embedding_model(str(cfg.ckpt), arch=cfg.arch, map_location="cpu")
    embedder = Embedder(model, spec, device=cfg.embed.device, batch_size=int(cfg.embed.batch_size))
    return lambda rows: embedder.embed([CropItem(work.crop_path(r)) for r in rows], progress=False)  # under the tracking bar


def finalize(cfg: DictConfig, out: Path, work: WorkDir, camera: str, client, run_id, uri) -> int:
    from reidfw.data.formats.tracking_info import write_tracking_info
    from reidfw.video_tracking.curation import CurationRules, curate
    from reidfw.video_tracking.report import summary_text, write_overview, write_report
    from reidfw.video_tracking.writer import tracks_rows, write_tracks

    rows = work.rows()
    st = work.state
    rules = CurationRules.from_config(OmegaConf.to_container(cfg.curation, resolve=True))
    decisions, summary = curate(rows, rules, int(st["width"]), int(st["height"]), camera, _embedder(cfg, work))
    summary = {"video": st["video"], "camera": camera, "detector": cfg.detector.name,
               "frames_processed": int(st.get("frames_processed", 0)), "detections": int(st.get("detections", 0)),
               "tracked_boxes": int(st.get("tracked_boxes", 0)),
               "fps": int(st.get("frames_processed", 0)) / max(1e-9, float(st.get("scan_seconds", 0.0))), **summary}
    write_report(out, work, decisions, summary, rows)
    kept_rows = tracks_rows(decisions, camera)
    if not kept_rows:
        print(f"error: no track survived curation ({summary['raw_tracks']} raw tracks); see {out / 'report'} "
              f"(summary.txt, sheets/) and loosen curation.* (e.g. curation.min_crops, curation.min_height); "
              f"the scan is kept: re-run the same command with new curation settings", file=sys.stderr)
        print(summary_text(summary), file=sys.stderr)
        return 1
    write_tracks(out, work, kept_rows)
    write_tracking_info(out, {"tracking_run_id": run_id, "mlflow_tracking_uri": uri,
                              "mlflow_experiment": cfg.mlflow.experiment if run_id else None, "video": st["video"],
                              "camera": camera, "detector": cfg.detector.name, "frames": summary["frames_processed"],
                              "fps": st["fps"], "tracks": summary["kept_tracks"], "crops": summary["kept_crops"]})
    write_overview(out)
    if client is not None:
        from reidfw.video_tracking.mlflow_run import log_results

        log_results(client, run_id, summary, out)
    if not cfg.keep_work:
        work.remove()
    print("\n".join([
        "", "reidfw: tracking finished", summary_text(summary),
        f"  tracks set      {out} ({TRACKS_TABLE}, one folder per track; report/ has contact sheets)",
        f"  MLflow run      {run_id} (experiment '{cfg.mlflow.experiment}', store {uri})" if run_id else
        "  MLflow run      off (mlflow.enabled=false)",
        f"  train on it     python train.py loss=arcface data.train_root={out}", ""]))
    return 0
