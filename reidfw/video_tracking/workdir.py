"""The resumable state of an unfinished tracking run: ``<out>/.track-work/``.

A long video is processed in *parts* of ``checkpoint_every`` frames. A part is committed
in this order, each step an atomic rename:

1. ``parts/part-NNNNN.jsonl`` - one JSON row per tracked box of the part's frames;
2. ``tracker-NNNNN.pkl`` - the tracker's whole state after the part's last frame;
3. ``state.json`` - ``parts`` = N + 1 and ``next_frame``: only now does the part count.

The crops of part N are written into ``crops/part-NNNNN/`` while it runs. After a crash or
Ctrl-C, whatever belongs to parts >= ``state.parts`` is deleted before continuing, so the
kept outputs are exactly those of committed parts: complete or absent, never half.
``state.json`` also holds the *fingerprint* (the video and every setting that changes what
the scan produces); continuing with a different one is refused.

The folder holds only reidfw's own files; it is removed when the run finishes
(``keep_work=true`` keeps it). The tracker state is a pickle of reidfw's own making: do not
continue a work folder someone else handed you.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from reidfw.video_tracking.tracker import load_tracker, save_tracker

WORK_DIR = ".track-work"
STATE = "state.json"


def fingerprint(video: str, settings: dict) -> str:
    doc = json.dumps({"video": video, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


class WorkDir:
    def __init__(self, out: Path):
        self.root = Path(out) / WORK_DIR
        self.state: dict = {}

    # -- life cycle -----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / STATE).is_file()

    def create(self, state: dict) -> None:
        (self.root / "parts").mkdir(parents=True, exist_ok=True)
        (self.root / "crops").mkdir(exist_ok=True)
        self.state = {"parts": 0, "next_frame": 0, "scan_done": False, **state}
        self._write_state()

    def load(self) -> dict:
        self.state = json.loads((self.root / STATE).read_text())
        self.discard_uncommitted()
        return self.state

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # -- parts ------------------------------------------------------------------------------------------
    def part_name(self, k: int) -> str:
        return f"part-{k:05d}"

    def crop_dir(self, k: int) -> Path:
        d = self.root / "crops" / self.part_name(k)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def commit(self, rows: list[dict], tracker, **state) -> None:
        k = int(self.state["parts"])
        part = self.root / "parts" / f"{self.part_name(k)}.jsonl"
        tmp = part.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(part)
        save_tracker(tracker, self.root / f"tracker-{k + 1:05d}.pkl")
        self.state.update(state, parts=k + 1)
        self._write_state()
        old = self.root / f"tracker-{k:05d}.pkl"
        if old.exists():
            old.unlink()

    def tracker(self, cfg, fps: float):
        """The tracker as the last committed part left it (None before the first commit)."""
        path = self.root / f"tracker-{int(self.state['parts']):05d}.pkl"
        return load_tracker(path, cfg, fps) if int(self.state["parts"]) > 0 and path.exists() else None

    def discard_uncommitted(self) -> None:
        n = int(self.state.get("parts", 0))
        for d in (self.root / "crops").glob("part-*"):
            if int(d.name.split("-")[1]) >= n:
                shutil.rmtree(d, ignore_errors=True)
        for f in (self.root / "parts").glob("part-*"):
            if f.suffix == ".tmp" or int(f.stem.split("-")[1]) >= n:
                f.unlink()

    def rows(self) -> list[dict]:
        out = []
        for k in range(int(self.state["parts"])):
            text = (self.root / "parts" / f"{self.part_name(k)}.jsonl").read_text()
            out.extend(json.loads(line) for line in text.splitlines() if line)
        return out

    def crop_path(self, row: dict) -> Path:
        return self.root / "crops" / row["crop"]

    def update(self, **state) -> None:
        self.state.update(state)
        self._write_state()

    def _write_state(self) -> None:
        tmp = self.root / (STATE + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, default=str))
        tmp.replace(self.root / STATE)
