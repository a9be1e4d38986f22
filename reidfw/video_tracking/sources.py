"""Where frames come from: a video file, a folder of frames, or a camera stream URL.

Every source yields ``(index, BGR frame)`` with 0-based frame indices counted from the
start of the input, so a resumed run numbers frames exactly as an uninterrupted one.
``start`` skips to a frame: a folder jumps there directly, a file decodes and drops the
frames before it (seeking by timestamp is not frame-exact for every codec), a live
stream cannot go back and simply continues (its frame numbers continue from ``start``).

Failures are :class:`TrackingInputError` with the file and the fix: a missing path, a
file OpenCV's FFmpeg cannot open (container or codec), a video with zero frames, a
folder without images.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# FFmpeg prints its own complaints (e.g. "moov atom not found") to stderr; reidfw says it in one line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from reidfw.data.formats.image_io import IMAGE_SUFFIXES  # noqa: E402
from reidfw.video_tracking.errors import TrackingInputError  # noqa: E402

STREAM = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp)://", re.IGNORECASE)
CONVERT = "convert it with: ffmpeg -i {src} -c:v libx264 -pix_fmt yuv420p {stem}-h264.mp4"


@dataclass
class SourceInfo:
    uri: str
    kind: str                    # file | folder | stream
    fps: float
    frames: int | None           # None: unknown (a stream, or a container without a count)
    width: int
    height: int


class FrameSource:
    """Open ``uri`` and check it yields a first frame; iterate with :meth:`frames`."""

    def __init__(self, uri: str | Path, fps: float | None = None):
        self.uri = str(uri)
        self._images: list[Path] | None = None
        if STREAM.match(self.uri):
            kind = "stream"
        else:
            path = Path(self.uri).expanduser()
            if not path.exists():
                raise TrackingInputError(
                    f"video={self.uri}: no such file or folder. Pass a video file, a folder of frames, "
                    f"or a stream URL (rtsp://, http:// MJPEG)")
            if path.is_dir():
                kind = "folder"
                self._images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                if not self._images:
                    raise TrackingInputError(
                        f"video={self.uri}: the folder holds no frames ({', '.join(IMAGE_SUFFIXES)} files); "
                        f"point video= at the folder that holds them (a MOTChallenge sequence keeps them in img1/)")
            else:
                kind = "file"
                if path.stat().st_size == 0:
                    raise TrackingInputError(f"video={self.uri}: the file is empty (0 bytes); copy it again")
            self.uri = str(path)
        first = self._first_frame(kind)
        self.info = SourceInfo(self.uri, kind, float(fps or self._fps(kind) or 25.0), self._count(kind),
                               int(first.shape[1]), int(first.shape[0]))

    # -- opening ------------------------------------------------------------------------------------
    def _capture(self) -> cv2.VideoCapture:
        # OpenCV logs a WARN line of its own when it cannot open a file; the error below says it once.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            cap = cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            if STREAM.match(self.uri):
                raise TrackingInputError(
                    f"video={self.uri}: cannot connect to the stream; check the URL, credentials and that the "
                    f"camera is reachable from this machine (try it in ffplay/VLC first)")
            raise TrackingInputError(
                f"video={self.uri}: OpenCV's FFmpeg cannot open it (not a video, a damaged file, or a container "
                f"it does not know); " + CONVERT.format(src=self.uri, stem=Path(self.uri).stem))
        return cap

    def _first_frame(self, kind: str) -> np.ndarray:
        if kind == "folder":
            img = cv2.imread(str(self._images[0]), cv2.IMREAD_COLOR)
            if img is None:
                raise TrackingInputError(f"video={self.uri}: cannot decode its first frame {self._images[0].name}; "
                                         f"replace or delete that file")
            return img
        cap = self._capture()
        ok, img = cap.read()
        cap.release()
        if not ok or img is None:
            if kind == "stream":
                raise TrackingInputError(f"video={self.uri}: the stream opened but sent no frame; check the camera")
            raise TrackingInputError(
                f"video={self.uri}: the file opens but no frame decodes (zero frames, or a codec this OpenCV "
                f"build lacks); " + CONVERT.format(src=self.uri, stem=Path(self.uri).stem))
        return img

    def _fps(self, kind: str) -> float | None:
        if kind == "folder":
            seqinfo = Path(self.uri).parent / "seqinfo.ini"   # a MOTChallenge sequence states its rate
            if seqinfo.is_file():
                m = re.search(r"frameRate\s*=\s*([0-9.]+)", seqinfo.read_text())
                return float(m.group(1)) if m else None
            return None
        cap = self._capture()
        fps = cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        return float(fps) if fps and 0 < fps < 1000 else None

    def _count(self, kind: str) -> int | None:
        if kind == "folder":
            return len(self._images)
        if kind == "stream":
            return None
        cap = self._capture()
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
        return n if n > 0 else None

    # -- reading ------------------------------------------------------------------------------------
    def sample(self, indices: list[int]) -> list[np.ndarray]:
        """Frames at ``indices`` of a file or folder (a file seeks: near, not always exactly at, the index)."""
        if self._images is not None:
            return [img for i in indices if (img := cv2.imread(str(self._images[i]), cv2.IMREAD_COLOR)) is not None]
        cap = self._capture()
        out = []
        try:
            for i in indices:
                cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
                ok, img = cap.read()
                if ok and img is not None:
                    out.append(img)
        finally:
            cap.release()
        return out

    def frames(self, start: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, BGR uint8 frame)`` from frame ``start`` on."""
        if self._images is not None:
            for i in range(start, len(self._images)):
                img = cv2.imread(str(self._images[i]), cv2.IMREAD_COLOR)
                if img is None:
                    raise TrackingInputError(f"video={self.uri}: cannot decode frame {self._images[i].name}; "
                                             f"replace or delete it (the run can be continued afterwards)")
                yield i, img
            return
        cap = self._capture()
        try:
            index = 0
            if self.info.kind == "file":
                while index < start and cap.grab():
                    index += 1
            else:
                index = start
            while True:
                ok, img = cap.read()
                if not ok or img is None:
                    return
                yield index, img
                index += 1
        finally:
            cap.release()
