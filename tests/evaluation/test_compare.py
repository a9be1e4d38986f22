"""``python -m reidfw.compare``: the answer for two real images, and one clear line for every bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from reidfw.checkpoints import export_model
from reidfw.compare import run
from reidfw.data.formats.image_io import write_image
from reidfw.model_input import InputSpec
from reidfw.models import build_backbone

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = build_backbone("test_resnet", img_size=(32, 16))
    return export_model(net, tmp_path / "model", method="moco", backbone={"name": "test_resnet"},
                        input_spec=InputSpec(size=(32, 16)))


@pytest.fixture
def two_images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("a.jpg", "b.png"):
        img = rng.integers(0, 255, size=(60, 30, 3), dtype=np.uint8)
        img[10:50, 8:22] = (200, 40, 40)
        write_image(tmp_path / name, img)
        paths.append(tmp_path / name)
    return paths


def _run(argv, capsys):
    code = run([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_answers_with_calibration_verdict_and_figure(tmp_path, model_dir, two_images, market_root, capsys):
    a, b = two_images
    fig = tmp_path / "why.png"
    args = [a, b, f"ckpt={model_dir}", f"market={market_root}", f"out={fig}", f"cache_dir={tmp_path / 'cache'}",
            "box_a=[2,2,26,56]", "num_workers=0"]
    code, out, err = _run(args, capsys)
    assert code == 0, err
    for key in ("cosine", "impostors      z =", "strangers", "verdict", "at FAR 0.001: threshold", "calibrated on",
                "query x gallery pairs of", "exact (GAP head", "figure"):
        assert key in out, out
    assert fig.is_file() and str(fig) in out
    code, out2, _ = _run(args, capsys)  # the second question to the same model reads the cached calibration
    assert code == 0 and "(cached)" in out2
    assert [ln for ln in out.splitlines() if "cosine " in ln] == [ln for ln in out2.splitlines() if "cosine " in ln]


def test_study_impostors_calibrate_too(tmp_path, model_dir, two_images, study_root, capsys):
    a, b = two_images
    code, out, err = _run([a, b, f"ckpt={model_dir}", "impostors=study", f"study={study_root}", f"out={tmp_path / 'f.png'}",
                           "calibration_cache=false", "num_workers=0", "far=0.1"], capsys)
    assert code == 0, err
    assert "condition-matched impostor pairs" in out and "at FAR 0.1" in out


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_missing_corrupt_and_bad_inputs_are_one_line(tmp_path, model_dir, two_images, capsys):
    a, b = two_images
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(a.read_bytes()[:40])  # a truncated JPEG
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    small_mask = tmp_path / "small.mask.png"
    write_image(small_mask, np.zeros((10, 5, 3), np.uint8))
    broken_ckpt = tmp_path / "broken.ckpt"
    broken_ckpt.write_bytes(b"\x00" * 10)
    cases = [
        ([tmp_path / "nope.jpg", b, f"ckpt={model_dir}"], ["nope.jpg", "no such file", "Fix: check the path"]),
        ([a, corrupt, f"ckpt={model_dir}"], ["corrupt.jpg", "does not decode", "Fix:"]),
        ([a, empty, f"ckpt={model_dir}"], ["empty.png", "0 bytes", "Fix:"]),
        ([text, b, f"ckpt={model_dir}"], ["notes.jpg", "does not decode"]),
        ([a, tmp_path, f"ckpt={model_dir}"], ["a folder", "Fix: pass the image file"]),
        ([a, b, f"ckpt={broken_ckpt}"], ["broken.ckpt", "Fix:"]),
        ([a, b, f"ckpt={tmp_path / 'missing_model'}"], ["missing_model", "check the path"]),
        ([a, b, f"ckpt={model_dir}", "box_a=[500,500,10,10]"], ["a.jpg", "box_a", "outside"]),
        ([a, b, f"ckpt={model_dir}", "box_b=[1,2]"], ["box_b", "[x, y, w, h]"]),
        ([a, b, f"ckpt={model_dir}", f"mask_a={small_mask}"], ["small.mask.png", "5x10 mask", "30x60 image"]),
        ([a, b, f"ckpt={model_dir}", "bogus=1"], ["bogus"]),
        ([a, f"ckpt={model_dir}"], ["expected two images"]),
        ([a, b], ["ckpt= is missing"]),
    ]
    for argv, needles in cases:
        code, out, err = _run([*argv, "market=null"], capsys)  # market=null: nothing is rendered if a case slips through
        line = _one_line(err)
        assert code == 2, (argv, err)
        for n in needles:
            assert n in line, (argv, line)


def test_the_real_command_line(tmp_path, model_dir, two_images):
    """The module as a user runs it: a missing image ends in one line and exit code 2, no traceback."""
    a, _ = two_images
    p = subprocess.run([sys.executable, "-m", "reidfw.compare", str(a), str(tmp_path / "gone.jpg"), f"ckpt={model_dir}"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert _one_line(p.stderr).startswith("error: ") and "gone.jpg" in p.stderr
