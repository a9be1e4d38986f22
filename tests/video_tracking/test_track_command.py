"""track.py's command: a tracks set train.py reads, MLflow records, resume, and refusals that protect data."""
from __future__ import annotations

import json

import mlflow
import pytest

from reidfw.data.formats.tracking_info import read_tracking_info
from reidfw.data.formats.tracks import read_tracks
from reidfw.video_tracking.command import run_tracking
from reidfw.video_tracking.workdir import WORK_DIR
from tests.video_tracking.conftest import compose_track

# The tiny clip's people are 60-130 px tall; curation settings sized for it.
SMALL = ["curation.min_height=48", "curation.min_crops=3", "progress=false"]


def _run(clip_input, out, tmp_path, monkeypatch, *extra):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    cfg = compose_track([f"video={clip_input}", f"out={out}", *SMALL, *extra])
    return run_tracking(cfg)


def test_tracks_set_summary_and_mlflow_run(clip, tmp_path, monkeypatch, capsys):
    out = tmp_path / "tracks"
    assert _run(clip / "video.mp4", out, tmp_path, monkeypatch, "camera=gate3") == 0
    crops = read_tracks(out)
    assert crops and {c.camera for c in crops} == {"gate3"}
    assert all(c.path.is_file() and c.path.parent.name == c.track_id for c in crops)
    assert all(0 <= c.frame < 40 and c.bbox[3] >= 48 for c in crops)
    assert not (out / WORK_DIR).exists()
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["frames_processed"] == 40 and summary["kept_crops"] == len(crops)
    assert summary["kept_tracks"] == len({c.track_id for c in crops})
    assert {t["track_id"] for t in summary["tracks"]} == {p.stem for p in (out / "report" / "sheets").glob("*.png")}
    assert (out / "report" / "overview.png").is_file() and (out / "report" / "mot.txt").read_text().strip()
    printed = capsys.readouterr().out
    assert "reidfw: tracking finished" in printed and f"data.train_root={out}" in printed

    info = read_tracking_info(out)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(info["tracking_run_id"])
    assert run.data.tags["reidfw.kind"] == "tracking" and run.data.params["detector.name"] == "bgsub"
    assert run.data.metrics["tracks/kept"] == summary["kept_tracks"]
    assert run.data.metrics["crops/kept"] == len(crops) and "crops/dropped/tiny" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert {"report/summary.json", "report/sheets", "report/overview.png"} <= artifacts


def test_stop_and_continue_gives_the_uninterrupted_result(clip, tmp_path, monkeypatch, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _run(clip / "img1", straight, tmp_path, monkeypatch, "mlflow.enabled=false") == 0
    common = ["mlflow.enabled=false", "checkpoint_every=5"]
    assert _run(clip / "img1", resumed, tmp_path, monkeypatch, *common, "max_frames=17") == 0
    assert "stopped after max_frames=17 at frame 17" in capsys.readouterr().out
    assert not (resumed / "tracks.csv").exists()
    state = json.loads((resumed / WORK_DIR / "state.json").read_text())
    assert state["next_frame"] == 17 and state["parts"] >= 4
    # Debris of a part that was never committed (a crash mid-part) must not leak into the result.
    stray = resumed / WORK_DIR / "crops" / f"part-{state['parts']:05d}"
    stray.mkdir(parents=True)
    (stray / "99_0000018.jpg").write_bytes(b"x")
    assert _run(clip / "img1", resumed, tmp_path, monkeypatch, *common, "max_frames=12") == 0
    assert _run(clip / "img1", resumed, tmp_path, monkeypatch, *common) == 0
    assert "continuing at frame 29" in capsys.readouterr().out
    assert (resumed / "tracks.csv").read_text() == (straight / "tracks.csv").read_text()
    assert (resumed / "report" / "mot.txt").read_text() == (straight / "report" / "mot.txt").read_text()


def test_existing_tracks_are_never_overwritten(clip, tmp_path, monkeypatch, capsys):
    out = tmp_path / "tracks"
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false") == 0
    before = (out / "tracks.csv").read_text()
    capsys.readouterr()
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds tracks" in err[0] and str(out) in err[0]
    assert (out / "tracks.csv").read_text() == before


def test_foreign_folder_is_refused(clip, tmp_path, monkeypatch, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false") == 2
    assert "is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


def test_continuing_with_other_settings_is_refused(clip, tmp_path, monkeypatch, capsys):
    out = tmp_path / "t"
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false", "max_frames=5") == 0
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false", "detector.history=50") == 2
    assert "with other settings" in capsys.readouterr().err


@pytest.mark.parametrize("video, message", [
    ("missing.mp4", "no such file or folder"),
    ("garbage.mp4", "OpenCV's FFmpeg cannot open it"),
    (None, "video= is missing"),
])
def test_bad_video_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, video, message):
    (tmp_path / "garbage.mp4").write_bytes(b"\x00\x01 not a video" * 100)
    out = tmp_path / "never"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    args = [f"out={out}"] + ([f"video={tmp_path / video}"] if video else [])
    assert run_tracking(compose_track(args)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()


def test_a_reid_model_feeds_identity_switch_splitting(clip, tmp_path, monkeypatch):
    """ckpt= loads a real reidfw export and embeds the crops; a threshold above any cosine forces splits."""
    import torch

    from reidfw.models import build_backbone
    from reidfw.checkpoints import export_embedding_model
    from reidfw.checkpoints import make_model_spec
    from reidfw.model_input import InputSpec

    torch.manual_seed(0)
    net = build_backbone("iresnet18", img_size=(64, 32)).eval()
    spec = make_model_spec(method="arcface", backbone={"name": "iresnet18"}, input_spec=InputSpec(size=(64, 32)),
                           embed_dim=net.embed_dim)
    export = export_embedding_model(net, spec, tmp_path / "reid_model")
    out = tmp_path / "split"
    assert _run(clip / "img1", out, tmp_path, monkeypatch, "mlflow.enabled=false", f"ckpt={export}",
                "curation.identity_switch.threshold=1.01", "curation.min_crops=1", "embed.device=cpu") == 0
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["identity_switch_splits"] > 0
    assert any("_t" in t["track_id"] and t["track_id"].count("_") == 2 for t in summary["tracks"])   # <cam>_tNNNNN_2
