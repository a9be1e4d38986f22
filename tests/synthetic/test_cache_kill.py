"""kill -9 while a synthetic set renders into the cache: no finished-looking folder, and the rerun renders it whole.

A separate process runs ``ensure_dataset`` (what train.py, evaluate.py and the ``demo-data``
CLI render through); the kill lands once its temporary folder holds images.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reidfw.synthetic.cache import dataset_key, ensure_dataset

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = {"seed": 3, "identities": 12, "per_identity": 6, "cameras": 2, "crop_height": 64}
_RENDER = "import sys; from reidfw.synthetic.cache import ensure_dataset; ensure_dataset('tracks', {}, sys.argv[1])"

pytestmark = pytest.mark.slow


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_kill_while_rendering_leaves_nothing_a_rerun_trusts(tmp_path):
    cache = tmp_path / "cache"
    final = cache / dataset_key("tracks", SETTINGS)
    proc = subprocess.Popen([sys.executable, "-c", _RENDER.replace("{}", repr(SETTINGS)), str(cache)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 300
    while not any(p.suffix in (".jpg", ".png") for p in cache.glob(".tmp-*/**/*")):
        assert proc.poll() is None and time.monotonic() < deadline, "render ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -9

    assert not final.exists(), "a killed render must not leave the set at its final name"
    leftovers = list(cache.glob(".tmp-*"))
    assert leftovers and all(p.name.startswith(f".tmp-{final.name}-") for p in leftovers)

    assert ensure_dataset("tracks", SETTINGS, cache) == final  # the rerun renders again, from scratch
    fresh = ensure_dataset("tracks", SETTINGS, tmp_path / "fresh")
    assert _digest(final) == _digest(fresh), "the set rendered after the kill differs from an uninterrupted one"
