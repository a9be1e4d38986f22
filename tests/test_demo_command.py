"""``python -m reidfw.demo``: the preset it runs on, and a wrong one."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_wrong_synthetic_preset_ends_in_one_line_before_anything_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reidfw.demo", "--synthetic", "nope"], cwd=tmp_path,
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --synthetic:")
    assert "nope.yaml" in lines[0] and "demo_neutral" in lines[0]  # names the file and the presets that exist
    assert list(tmp_path.iterdir()) == []  # nothing rendered, trained or written
