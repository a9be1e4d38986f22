"""Frame sources: files, folders, resume offsets, and one clear line for every bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reidfw.video_tracking.errors import TrackingInputError
from reidfw.video_tracking.sources import FrameSource


def test_file_and_folder_give_the_same_frames(clip):
    video, folder = FrameSource(clip / "video.mp4"), FrameSource(clip / "img1")
    assert video.info.kind == "file" and folder.info.kind == "folder"
    assert video.info.frames == folder.info.frames == 40
    assert video.info.fps == folder.info.fps == 10.0         # the folder's rate comes from seqinfo.ini
    assert (video.info.width, video.info.height) == (folder.info.width, folder.info.height) == (480, 270)
    a = dict(video.frames())
    b = dict(folder.frames())
    assert sorted(a) == sorted(b) == list(range(40))
    # MPEG-4 and JPEG are both lossy: the same picture, not the same bytes.
    assert np.abs(a[20].astype(int) - b[20].astype(int)).mean() < 6


def test_starting_later_numbers_frames_as_from_the_start(clip):
    for src in (FrameSource(clip / "video.mp4"), FrameSource(clip / "img1")):
        all_frames = dict(src.frames())
        later = list(src.frames(start=25))
        assert [i for i, _ in later] == list(range(25, 40))
        assert np.array_equal(later[0][1], all_frames[25])


def test_missing_path(tmp_path):
    with pytest.raises(TrackingInputError, match=r"nope\.mp4: no such file or folder"):
        FrameSource(tmp_path / "nope.mp4")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(TrackingInputError, match="empty.mp4: the file is empty"):
        FrameSource(tmp_path / "empty.mp4")


def test_not_a_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"this is not a video file\n" * 200)
    with pytest.raises(TrackingInputError, match=r"notes\.mp4: OpenCV's FFmpeg cannot open it.*ffmpeg -i"):
        FrameSource(bad)


def test_zero_frames(tmp_path):
    path = tmp_path / "zero.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    w.release()                                      # a container with a header and no frame
    assert path.exists()
    with pytest.raises(TrackingInputError, match="zero.avi"):
        FrameSource(path)


def test_folder_without_frames(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "readme.txt").write_text("x")
    with pytest.raises(TrackingInputError, match="the folder holds no frames"):
        FrameSource(tmp_path / "frames")


def test_unreachable_stream():
    with pytest.raises(TrackingInputError, match="cannot connect to the stream"):
        FrameSource("rtsp://127.0.0.1:9/none")
