"""The orientation estimator: learning on a tiny generated set, mirror consistency, files, the CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from reidfw.data.formats.image_io import write_image
from reidfw.orientation import OrientationEstimator, OrientationModelError, OrientationNet, in_other_half, load_estimator
from reidfw.orientation.__main__ import main as cli
from reidfw.orientation.data import YawCrop, read_yaw_csv, split_held_out, synthetic_yaw_crops
from reidfw.orientation.train import evaluate_estimator, orientation_metrics, predict_items, train_estimator


def _person(yaw: float, rng) -> np.ndarray:
    """A toy 'person' whose yaw shows: a bright nose stripe on the side it faces, mirrored for the other half."""
    img = np.full((48, 24, 3), 90, np.uint8)
    img[6:44, 6:18] = (200, 60, 60)
    s = np.sin(np.radians(yaw))
    col = int(round(12 + 5 * s))  # 90 -> stripe right of centre, 270 -> left
    img[8:20, max(0, col - 1) : col + 2] = (250, 250, 120)
    return np.clip(img.astype(int) + rng.integers(-12, 12, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def toy_set(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(96):
        yaw = float((k * 37.5) % 360)
        p = tmp_path / "crops" / f"{k:03d}.png"
        write_image(p, _person(yaw, rng))
        rows.append({"path": f"crops/{k:03d}.png", "yaw": yaw, "group": f"g{k % 8}"})
    csv_path = tmp_path / "labels.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "yaw", "group"])
        w.writeheader()
        w.writerows(rows)
    return csv_path


def test_learns_the_half_circle_of_a_toy_set(toy_set):
    items = read_yaw_csv(toy_set)
    train, test = split_held_out(items, 0.25, seed=0)
    assert train and test and {i.group for i in train}.isdisjoint({i.group for i in test})
    est = train_estimator(train, epochs=25, batch_size=16, lr=5e-3, progress=None)
    m = evaluate_estimator(est, test)
    assert m["half_circle_acc_30deg"] >= 0.9, m


def test_predictions_are_mirror_consistent():
    torch.manual_seed(0)
    est = OrientationEstimator(OrientationNet().eval())
    x = torch.randn(6, 3, 64, 32)
    yaw, yaw_m = est.predict_inputs(x), est.predict_inputs(x.flip(-1))
    np.testing.assert_allclose(((yaw + yaw_m) % 360).numpy() % 360, 0, atol=1e-3)
    other, other_m = in_other_half(yaw.numpy()), in_other_half(yaw_m.numpy())
    assert (other != other_m).all()  # a crop and its mirror land on opposite sides


def test_metrics_on_known_values():
    m = orientation_metrics(np.array([10.0, 350.0, 100.0, 260.0, 170.0]), np.array([0.0, 0.0, 90.0, 90.0, 190.0]))
    assert m["mae_deg"] == pytest.approx((10 + 10 + 10 + 170 + 20) / 5)
    # >= 10 deg from 0/180: 90 (right half), 90 (wrong half: 260), 190 (wrong half: 170)
    assert m["n_10deg"] == 3 and m["half_circle_acc_10deg"] == pytest.approx(1 / 3)


def test_save_load_and_cli(tmp_path, toy_set):
    out = tmp_path / "est"
    assert cli(["train", "--csv", str(toy_set), "--out", str(out), "--epochs", "2"]) == 0
    doc = json.loads((out / "orientation.json").read_text())
    assert doc["format"] == "reidfw-orientation/1" and "held_out" in doc["metrics"]
    est = load_estimator(out)
    items = read_yaw_csv(toy_set)[:5]
    again = load_estimator(out)
    np.testing.assert_array_equal(predict_items(est, items), predict_items(again, items))
    assert cli(["predict", "--model", str(out), str(items[0].path)]) == 0
    assert cli(["evaluate", "--model", str(out), "--csv", str(toy_set)]) == 0


def test_clear_errors(tmp_path, capsys):
    with pytest.raises(OrientationModelError, match="orientation.json"):
        load_estimator(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "orientation.json").write_text("{}")
    (tmp_path / "bad" / "orientation.safetensors").write_bytes(b"not weights")
    with pytest.raises(OrientationModelError, match="unreadable"):
        load_estimator(tmp_path / "bad")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("path,angle\na.png,3\n")
    assert cli(["train", "--csv", str(bad_csv), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.csv" in err and "yaw" in err
    bad_csv.write_text("path,yaw\na.png,north\n")
    assert cli(["train", "--csv", str(bad_csv), "--out", str(tmp_path / "o")]) == 2
    assert "bad.csv:2" in capsys.readouterr().err


def test_synthetic_metadata_gives_yaw_and_groups(tmp_path):
    from reidfw.synthetic.generators.unlabeled import generate_unlabeled

    root = generate_unlabeled(tmp_path / "u", count=4, people_per_scene=2, crop_height=48, workers=1)
    items = synthetic_yaw_crops(root)
    assert len(items) == 4 and all(0 <= i.yaw < 360 and i.path.is_file() for i in items)
    assert len({i.group for i in items}) == 2  # two street scenes
    assert all(isinstance(i, YawCrop) for i in items)
    # trains and predicts on the rendered crops (through the same model-input path)
    est = train_estimator(items, epochs=2, batch_size=2, progress=None)
    yaw = predict_items(est, items)
    assert yaw.shape == (4,) and np.all((0 <= yaw) & (yaw < 360))
