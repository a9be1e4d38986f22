"""The bad-input corpus (issue 13 §4): every bad file or value a user can hand reidfw, one case each.

Each case builds its bad input under ``tmp_path/in`` and runs the real command, ``train.py`` or
``evaluate.py`` with its command line (in this process through ``runpy``, so the corpus stays
fast; the cases marked ``proc`` also as a separate process, as a user runs it). Every case checks:

- a mistake ends in exit code 2 and ONE stderr line ``error: ...`` naming the file or the key,
  with the fix; no traceback anywhere (an input reidfw reads correctly exits 0 instead, and a
  documented skip says so in a warning);
- nothing in the input ran (a pickle's payload would create a marker file);
- every input file is byte for byte what it was before.

``REIDFW_CORPUS_LOG=<file>`` writes each case's message as a JSON line (for the table of messages in the notes).
"""
from __future__ import annotations

import hashlib
import json
import os
import runpy
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from reidfw.data.formats.image_io import read_image, write_image
from reidfw.data.formats.market import SPLITS, market_name
from reidfw.data.formats.tracks import TRACKS_COLUMNS

REPO = Path(__file__).resolve().parents[1]
MARKER = "payload_ran.txt"  # what the malicious pickle would create
CLEAN_ENV = ("HYDRA_FULL_ERROR", "REIDFW_HYDRA_FULL_ERROR_SET", "MLFLOW_TRACKING_URI")


# ---------------------------------------------------------------- inputs -----------------------------
def _person(seed: int, h: int = 24, w: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    img[4:-4, 3:-3] = (40 * (seed % 6), 200 - 20 * (seed % 7), 90)
    return img


def _study(root: Path, images: int = 2, manifest: Callable[[dict], None] | None = None) -> Path:
    """One factor, two conditions of ``images`` photos and two impostors each; ``manifest`` edits the JSON."""
    conditions = []
    for c, cid in enumerate(("near", "far")):
        imgs = []
        for k in range(images):
            write_image(root / f"size/{cid}/{k}.png", _person(10 * c + k))
            imgs.append({"path": f"size/{cid}/{k}.png"})
        imps = []
        for j in range(2):
            write_image(root / f"impostors/{cid}/{j}.png", _person(100 + 10 * c + j))
            imps.append({"path": f"impostors/{cid}/{j}.png", "identity": f"p{j}"})
        conditions.append({"id": cid, "label": cid.title(), "images": imgs, "impostors": imps})
    doc = {"format": "reidfw-study/1", "name": "corpus", "factors": [
        {"name": "size", "title": "Size", "standard": "near", "conditions": conditions}]}
    if manifest:
        manifest(doc)
    (root / "manifest.json").write_text(json.dumps(doc, indent=1))
    return root


def _study_with_image(root: Path, write: Callable[[Path], None]) -> Path:
    """A valid study whose first photo is replaced by what ``write`` puts there."""
    _study(root)
    write(root / "size/near/0.png")
    return root


def _tracks(root: Path, rows: Callable[[list[dict]], list[dict]] | None = None, columns=TRACKS_COLUMNS) -> Path:
    """Two tracks of four crops each (tracks.csv + crops); ``rows`` edits the table's rows."""
    table = []
    for t in range(2):
        for f in range(4):
            rel = f"t{t}/{f:04d}.jpg"
            write_image(root / rel, _person(t * 10 + f, 64, 32))
            table.append({"track_id": f"t{t}", "frame": str(f), "camera": "cam0", "x": "10", "y": "20",
                          "w": "32", "h": "64", "path": rel})
    table = rows(table) if rows else table
    lines = [",".join(columns)] + [",".join(r[c] for c in columns) for r in table]
    (root / "tracks.csv").write_text("\n".join(lines) + "\n")
    return root


def _unlabeled(root: Path) -> Path:
    for i in range(4):
        write_image(root / f"{i:03d}.jpg", _person(i, 64, 32))
    return root


def _market(root: Path, extra: str | None = None) -> Path:
    frame = 0
    for pid in (1, 2):
        for split, cams in (("query", (1,)), ("gallery", (1, 2))):
            for cam in cams:
                frame += 1
                write_image(root / SPLITS[split] / market_name(pid, cam, frame), _person(pid))
    if extra:  # a file whose name breaks the Market-1501 convention
        write_image(root / SPLITS["gallery"] / extra, _person(9))
    return root


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height RGB pixels; the data is a few bytes (a decompression bomb's head)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + 3 * width) * 4)  # 4 rows of zeros, compressed: 20000 rows would follow
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat))


def _tiny_net():
    from reidfw.models import build_backbone

    torch.manual_seed(0)
    return build_backbone("test_resnet", img_size=(32, 16))


def _lightning_ckpt(path: Path, weights: dict, backbone: str = "test_resnet") -> Path:
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in weights.items()},
                "hyper_parameters": {"method": "moco", "backbone": {"name": backbone, "kwargs": {}},
                                     "input": {"size": [32, 16]}}}, path)
    return path


class Payload:
    """Unpickling this would run ``touch <marker>``: the checkpoint attack."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ---------------------------------------------------------------- the corpus ---------------------------
@dataclass
class Case:
    id: str
    script: str  # train.py / evaluate.py
    build: Callable[[Path], list[str]]  # builds the input under the folder given, returns the command line
    expect: tuple[str, ...] = ()  # in the one error line: the file or key, and the fix
    code: int = 2  # 0: an input reidfw reads correctly
    warns: str | None = None  # a documented skip: the warning that says so
    proc: bool = False  # also run as a separate process


def ev(*args: str) -> list[str]:
    """evaluate.py's quick settings: the built-in colour-histogram model, no MLflow, no attribution figures."""
    return ["ckpt=colour_histogram", "market=null", "mlflow.enabled=false", "attribution=false", "num_workers=0",
            *args]


def tr(d: Path, *args: str, root: Path | None = None) -> list[str]:
    """train.py on a hand-made tracks folder (or ``root``), no validation set, a tiny input, MLflow in the test folder."""
    return [f"data.train_root={root or _tracks(d / 'tracks')}", "data.val_synthetic=null", "img_size=[64,32]",
            "data.num_workers=0", "trainer.max_epochs=1", f"logger.tracking_uri=sqlite:///{d.parent / 'mlflow.db'}",
            "export_formats=[]", *args]


def _image_case(name: str, write: Callable[[Path], None], *expect: str, code: int = 2) -> Case:
    return Case(name, "evaluate.py", lambda d: ev(f"study={_study_with_image(d / 'study', write)}"),
                expect, code=code)


def _imwrite(arr: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> Callable[[Path], None]:
    return lambda p: Image.fromarray(arr, mode).save(p, fmt) if mode else Image.fromarray(arr).save(p, fmt)


def _manifest_case(name: str, edit: Callable[[dict], None], *expect: str, images: int = 2) -> Case:
    return Case(name, "evaluate.py", lambda d: ev(f"study={_study(d / 'study', images, edit)}"), expect)


def _ckpt_case(name: str, make: Callable[[Path], Path], *expect: str, proc: bool = False) -> Case:
    return Case(name, "evaluate.py", lambda d: [f"ckpt={make(d)}", "study=null", "market=null",
                                               "mlflow.enabled=false"], expect, proc=proc)


def _truncated_ckpt(d: Path) -> Path:
    p = _lightning_ckpt(d / "last.ckpt", _tiny_net().state_dict())
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


def _wrong_arch_ckpt(d: Path) -> Path:
    # hyper_parameters say test_resnet, the weights are an iresnet's
    from reidfw.models import build_backbone

    return _lightning_ckpt(d / "best.ckpt", build_backbone("iresnet18", img_size=(32, 16)).state_dict())


def _pickle_ckpt(d: Path) -> Path:
    path = d / "evil.ckpt"
    torch.save({"state_dict": _tiny_net().state_dict(), "extra": Payload(d.parent / MARKER)}, path)
    return path


def _nan_export(d: Path) -> Path:
    from reidfw.checkpoints import export_model
    from reidfw.model_input import InputSpec

    net = _tiny_net()
    with torch.no_grad():
        next(iter(net.parameters())).view(-1)[0] = float("nan")
    return export_model(net, d / "model", method="moco", backbone={"name": "test_resnet"},
                        input_spec=InputSpec(size=(32, 16)))


def _nan_ckpt(d: Path) -> Path:
    sd = _tiny_net().state_dict()
    key = next(k for k, v in sd.items() if k.endswith("running_var"))
    sd[key] = torch.full_like(sd[key], float("inf"))
    return _lightning_ckpt(d / "diverged.ckpt", sd)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _broken_json(root: Path) -> Path:
    _study(root)
    (root / "manifest.json").write_text('{"format": "reidfw-study/1", "factors": [')  # cut mid-write
    return root


def _set(path: list, value) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        target = doc
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return edit


RNG = np.random.default_rng(7)
CASES = [
    # ---- images (a study photo; a training crop fails the same way: read_image) ----
    _image_case("corrupt-image", lambda p: p.write_bytes(RNG.integers(0, 255, 3000, dtype=np.uint8).tobytes()),
                "0.png", "cannot decode", "Replace or delete it"),
    _image_case("truncated-jpeg", lambda p: p.write_bytes(_jpeg_bytes()[: len(_jpeg_bytes()) // 2]),
                "0.png", "truncated", "Replace or delete it"),
    _image_case("zero-byte-image", lambda p: p.write_bytes(b""), "0.png", "0 bytes", "Replace or delete it"),
    _image_case("huge-image-20000x20000", lambda p: _png_header_only(p, 20000, 20000),
                "0.png", "400 Mpx", "not decoded", "Crop or downscale it"),
    _image_case("rgba-png", _imwrite(np.dstack([_person(1), np.zeros((24, 12), np.uint8)]), "RGBA"), code=0),
    _image_case("grayscale-png", _imwrite(_person(1)[..., 0], "L"), code=0),
    _image_case("16-bit-png", lambda p: cv2.imwrite(str(p), _person(1).astype(np.uint16) * 257), code=0),
    _image_case("cmyk-jpeg", lambda p: Image.fromarray(_person(1)).convert("CMYK").save(p, "JPEG"), code=0),
    _image_case("tiny-1x1-image", lambda p: write_image(p, np.full((1, 1, 3), 128, np.uint8)), code=0),
    # ---- study manifest ----
    _manifest_case("study-missing-file", _set(["factors", 0, "conditions", 1, "images", 0, "path"], "size/far/gone.png"),
                   "manifest.json", "gone.png", "file not found", "Fix: restore the file"),
    _manifest_case("study-wrong-version", _set(["format"], "reidfw-study/2"),
                   "manifest.json", "'reidfw-study/2'", "Fix: write the manifest in this format"),
    _manifest_case("study-duplicate-ids", _set(["factors", 0, "conditions", 1, "id"], "near"),
                   "manifest.json", "condition ids repeat", "Fix: give every condition"),
    _manifest_case("study-empty-condition", _set(["factors", 0, "conditions", 1, "images"], []),
                   "manifest.json", "conditions[1]", "non-empty 'images'", "Fix: add the condition's photos"),
    _manifest_case("study-box-outside-image", _set(["factors", 0, "conditions", 0, "images", 0, "box"], [500, 500, 10, 20]),
                   "0.png", "lies outside the 12x24 image", "Fix: correct its 'box'"),
    Case("study-not-json", "evaluate.py", lambda d: ev(f"study={_broken_json(d / 'study')}"),
         ("manifest.json", "not valid JSON", "Fix: repair it")),
    Case("study-folder-missing", "evaluate.py", lambda d: ev(f"study={d / 'no_study'}"),
         ("study=", "no_study", "no such folder", "study=null to skip it")),
    Case("study-one-image-condition", "evaluate.py", lambda d: ev(f"study={_study(d / 'study', images=1)}"),
         code=0, warns="has 1 image(s): its diagonal"),
    # ---- tracks.csv (train.py) ----
    Case("tracks-missing-columns", "train.py",
         lambda d: tr(d, root=_tracks(d / "tracks", columns=TRACKS_COLUMNS[:4] + TRACKS_COLUMNS[6:])),
         ("tracks.csv", "without y,w", "Fix: add the missing columns")),
    Case("tracks-negative-box", "train.py",
         lambda d: tr(d, root=_tracks(d / "tracks", lambda rows: [{**r, "w": "-32"} if i == 2 else r for i, r in enumerate(rows)])),
         ("tracks.csv line 4", "w=-32", "Fix: correct the box")),
    Case("tracks-box-not-a-number", "train.py",
         lambda d: tr(d, root=_tracks(d / "tracks", lambda rows: [{**r, "x": "left"} if i == 0 else r for i, r in enumerate(rows)])),
         ("tracks.csv line 2", "'left'", "correct or delete the row")),
    # ---- Market-1501 folder ----
    Case("market-malformed-name", "evaluate.py",
         lambda d: ["ckpt=colour_histogram", "study=null", f"market={_market(d / 'market', 'IMG_0001.jpg')}",
                    "mlflow.enabled=false", "attribution=false", "num_workers=0"],
         ("IMG_0001.jpg", "expected a Market-1501 file name", "Fix: rename it")),
    # ---- checkpoints ----
    _ckpt_case("ckpt-wrong-architecture", _wrong_arch_ckpt, "best.ckpt", "weights that do not fit", "Fix:"),
    _ckpt_case("ckpt-truncated", _truncated_ckpt, "last.ckpt", "truncated", "Fix: re-download or re-save"),
    _ckpt_case("ckpt-zero-byte", lambda d: _write(d / "empty.ckpt", b""),
               "empty.ckpt", "Fix: re-download or re-save"),
    _ckpt_case("ckpt-pickle-payload", _pickle_ckpt, "evil.ckpt", "refuses to unpickle", "Fix: re-save only the weights",
               proc=True),
    _ckpt_case("export-nan-weights", _nan_export, "model.safetensors", "NaN or infinite values", "Fix: the training diverged"),
    _ckpt_case("ckpt-inf-bn-statistics", _nan_ckpt, "diverged.ckpt", "NaN or infinite values", "take an earlier checkpoint"),
    # ---- config keys and values ----
    Case("unknown-key-train", "train.py", lambda d: ["trainer.max_epoch=3"],
         ("trainer.max_epoch", "no such key", "--cfg job"), proc=True),
    Case("unknown-key-evaluate", "evaluate.py", lambda d: ["ckpt=colour_histogram", "bogus=1"],
         ("bogus", "no such key", "--cfg job")),
    Case("unknown-loss", "train.py", lambda d: ["loss=arcfce"], ("loss/arcfce", "arcface", "Fix:")),
    Case("negative-margin", "train.py", lambda d: tr(d, "margin=-0.5"),
         ("margin=-0.5", "the arcface margin >= 0", "Fix: set margin=")),
    Case("triplet-negative-margin", "train.py", lambda d: tr(d, "loss=triplet", "margin=-0.3", "data.sampler.p=2", "data.sampler.k=2",
                                      "data.batch_size=4"),
         ("margin=-0.3", "triplet margin >= 0", "Fix: set margin=")),
    Case("temperature-zero", "train.py",
         lambda d: tr(d, "loss=moco", "loss.temperature=0", root=_unlabeled(d / "crops")),
         ("loss.temperature=0", "tau > 0", "Fix: set loss.temperature=")),
    Case("margin-not-a-number", "train.py", lambda d: tr(d, "margin=abc"),
         ("margin=abc", "expected a number (the default is 0.5)", "Fix: give a number, e.g. margin=0.5"), proc=True),
    Case("switch-not-a-bool", "evaluate.py", lambda d: ev("flip_tta=maybe"),
         ("flip_tta=maybe", "true or false", "Fix: flip_tta=true or flip_tta=false")),
    Case("trainer-refuses-its-value", "train.py", lambda d: tr(d, "trainer.max_epochs=-3"),
         ("trainer: `max_epochs` must be a non-negative integer", "You passed in -3", "Fix: change the trainer.*")),
    Case("batch-size-zero", "train.py", lambda d: tr(d, "data.batch_size=0"),
         ("data.batch_size=0", "at least one image per batch", "Fix: set data.batch_size="), proc=True),
]


_JPEG: list[bytes] = []


def _jpeg_bytes() -> bytes:
    if not _JPEG:
        ok, buf = cv2.imencode(".jpg", _person(3, 96, 48))
        _JPEG.append(buf.tobytes())
    return _JPEG[0]


# ---------------------------------------------------------------- running -----------------------------
def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_here(script: str, args: list[str], monkeypatch, capfd) -> tuple[int, str, str]:
    """The script as ``python script args`` would run it, in this process."""
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    for var in CLEAN_ENV:  # set, then removed: monkeypatch removes what the command sets there afterwards
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setattr(sys, "argv", [str(REPO / script), *args])
    capfd.readouterr()
    try:
        runpy.run_path(str(REPO / script), run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        GlobalHydra.instance().clear()
    out, err = capfd.readouterr()
    return code, out, err


def _run_process(script: str, args: list[str]) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    p = subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def _check(case: Case, code: int, out: str, err: str) -> str | None:
    assert "Traceback" not in out + err, err[-3000:]
    assert code == case.code, f"exit code {code}, expected {case.code}\n{err[-3000:]}"
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    if case.code == 0:
        assert not errors, err
        return None
    assert len(errors) == 1, err  # one line says it all
    assert "Error executing job" not in err  # nor does Hydra add its report
    line = errors[0]
    for text in case.expect:
        assert text in line, f"{text!r} not in {line!r}"
    return line


MESSAGES: dict[str, str] = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, capfd, recwarn):
    given = tmp_path / "in"
    given.mkdir()
    args = [*case.build(given), f"hydra.run.dir={tmp_path / 'hydra'}"]
    if case.script == "evaluate.py":
        args.append(f"out_dir={tmp_path / 'out'}")
    if case.script == "train.py" and not any(a.startswith("cache_dir=") for a in args):
        args.append(f"cache_dir={tmp_path / 'cache'}")
    before = _hashes(given)
    code, out, err = _run_here(case.script, args, monkeypatch, capfd)
    line = _check(case, code, out, err)
    if case.warns:
        assert any(case.warns in str(w.message) for w in recwarn), [str(w.message) for w in recwarn]
    if case.proc:  # the same, as the user's own process
        code, out, err = _run_process(case.script, args)
        assert _check(case, code, out, err) == line
    assert not (tmp_path / MARKER).exists(), "the checkpoint's pickle payload ran"
    assert _hashes(given) == before, "an input file was changed"
    MESSAGES[case.id] = line or ("(read correctly, exit 0" + (f"; warning: {case.warns!r})" if case.warns else ")"))
    _record(case, line, recwarn)


def _record(case: Case, line: str | None, recwarn) -> None:
    """With REIDFW_CORPUS_LOG=<file>: one JSON line per case (the table in the notes is made from it)."""
    log = os.environ.get("REIDFW_CORPUS_LOG")
    if log:
        warned = [str(w.message) for w in recwarn if case.warns and case.warns in str(w.message)]
        with open(log, "a") as f:
            f.write(json.dumps({"id": case.id, "script": case.script, "line": line,
                                "warning": warned[0] if warned else None}) + "\n")


def test_the_payload_would_run_if_unpickled(tmp_path):
    """The corpus' pickle is a real attack: unpickled without weights_only, it creates the marker."""
    path = tmp_path / "evil.ckpt"
    torch.save({"extra": Payload(tmp_path / MARKER)}, path)
    torch.load(path, weights_only=False)
    assert (tmp_path / MARKER).exists()


@pytest.mark.parametrize("write, expected", [
    (_imwrite(np.dstack([_person(1), np.zeros((24, 12), np.uint8)]), "RGBA"), _person(1)),
    (_imwrite(_person(1)[..., 0], "L"), np.repeat(_person(1)[..., :1], 3, axis=2)),
    (lambda p: cv2.imwrite(str(p), cv2.cvtColor(_person(1), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257), _person(1)),
], ids=["rgba", "grayscale", "16-bit"])
def test_unusual_images_read_as_their_rgb_pixels(tmp_path, write, expected):
    """The accepted formats are read right, not only without an error: alpha dropped, gray expanded, 16 bits scaled."""
    p = tmp_path / "x.png"
    write(p)
    img = read_image(p)
    assert img.dtype == np.uint8 and img.shape == expected.shape
    assert np.abs(img.astype(int) - expected.astype(int)).max() <= 1


def test_cmyk_jpeg_keeps_its_colour(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("RGB", (12, 24), (220, 30, 30)).convert("CMYK").save(p, "JPEG", quality=95)
    assert np.abs(read_image(p)[12, 6].astype(int) - (220, 30, 30)).max() < 12


def test_bad_crop_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    """on_bad_image='skip' (opt-in): the unreadable crop is dropped and the warning lists it; nothing else goes."""
    from reidfw.data.datasets.tracks import TrackDataset

    root = _tracks(tmp_path / "tracks")
    (root / "t0/0001.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"(?s)skipped 1 unreadable image\(s\) of 8.*t0/0001\.jpg"):
        ds = TrackDataset(root, min_images_per_identity=2, on_bad_image="skip")
    assert len(ds) == 7 and "t0/0001.jpg" in caplog.text


def test_full_error_shows_the_traceback(tmp_path):
    """HYDRA_FULL_ERROR=1 still gives the whole traceback, for a bug report."""
    env = {**{k: v for k, v in os.environ.items() if k not in CLEAN_ENV}, "HYDRA_FULL_ERROR": "1"}
    p = subprocess.run([sys.executable, str(REPO / "evaluate.py"), "ckpt=colour_histogram", f"study={tmp_path / 'none'}",
                        "market=null", "mlflow.enabled=false", f"hydra.run.dir={tmp_path / 'h'}"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and "Traceback" in p.stderr and "DataRootError" in p.stderr


def test_a_trainer_value_refused_after_the_run_started_leaves_it_failed_not_running(tmp_path, monkeypatch, capfd):
    import mlflow

    given = tmp_path / "in"
    given.mkdir()
    args = [*tr(given, "trainer.max_epochs=-3"), f"hydra.run.dir={tmp_path / 'hydra'}", f"cache_dir={tmp_path / 'cache'}"]
    code, out, err = _run_here("train.py", args, monkeypatch, capfd)
    assert code == 2 and "error: trainer: `max_epochs`" in err
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert [r.info.status for r in runs] == ["FAILED"]  # the user sees the attempt, ended, in the UI
