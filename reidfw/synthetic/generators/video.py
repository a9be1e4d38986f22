"""A fixed camera's clip: people walk through, cross and occlude each other, with ground truth.

What a tracker is measured on. One surveillance camera (a few metres up, tilted down)
watches a scene; ``people`` walkers cross its view at different depths, in both
directions, and some walk towards or away from it. Pairs of opposite-direction walkers
are timed to pass the image centre together, so the nearer one occludes the farther one.

How a frame is made (cost matters on 2 cores): the static background is rendered once
for the whole frame; per frame every visible person is rendered *once* with the
existing renderer (``render_person``, native resolution, no degradation: its cost is
proportional to the person's box), and the people are composited far to near, so
nearer people cover farther ones. A person's ground shadow is carried over from its
render (its crop's background divided by the static background). The camera's blur and
sensor noise are applied to the whole frame afterwards, and JPEG when it is written.

Layout (MOTChallenge, readable by TrackEval and py-motmetrics)::

    <out>/seqinfo.ini            name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    <out>/img1/000001.jpg ...    the frames (1-based)
    <out>/gt/gt.txt              frame,id,x,y,w,h,conf,class,visibility  (class 1 = pedestrian)
    <out>/video.mp4              the same frames as a video file (``mp4=True``)
    <out>/metadata.json          camera, scene and every walker's path

``x,y,w,h`` is the person's box clipped to the frame but not to occluders (as MOT17);
``visibility`` is the share of that person's pixels no nearer person covers. Rows with
``visibility < min_visibility`` are marked ambiguous as MOT16 does: ``conf = 0`` and class 8
("distractor"), so evaluators (TrackEval's MOT17 preprocessing) neither reward nor
penalise a tracker for a person hidden behind another.
"""
from __future__ import annotations

import configparser
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from reidfw.data.formats.image_io import write_image
from reidfw.synthetic.body import Pose
from reidfw.synthetic.camera import Camera, PixelGrid
from reidfw.synthetic.sensor import Sensor, apply_sensor
from reidfw.synthetic.camera import camera_preset
from reidfw.synthetic.generators.common import random_light
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.materials import linear_to_srgb8
from reidfw.synthetic.render import PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene, render_background
from reidfw.synthetic.seeds import item_rng, item_seed

SEQINFO = "seqinfo.ini"
GT_FILE = "gt/gt.txt"
IMG_DIR = "img1"
VIDEO_FILE = "video.mp4"
STRIDE_HZ = 0.9                  # gait cycles per second at 1.3 m/s (as the tracks generator)
MOT_PEDESTRIAN = 1
MOT_DISTRACTOR = 8


@dataclass(frozen=True)
class Walker:
    """One person's straight walk: ground positions (metres) at time ``t0`` and after ``duration`` seconds."""

    person_id: int               # 1-based, the MOTChallenge id
    start: tuple[float, float]
    end: tuple[float, float]
    t0: float                    # seconds (clip time) at which the walk starts; may be negative
    duration: float
    phase0: float

    def position(self, t: float) -> tuple[float, float] | None:
        u = (t - self.t0) / self.duration
        if u < 0 or u > 1:
            return None
        return (self.start[0] + u * (self.end[0] - self.start[0]), self.start[1] + u * (self.end[1] - self.start[1]))

    @property
    def yaw(self) -> float:
        return math.degrees(math.atan2(self.end[0] - self.start[0], self.end[1] - self.start[1]))

    @property
    def speed(self) -> float:
        return math.dist(self.start, self.end) / self.duration


def video_camera(rng: np.random.Generator, width: int, height: int, hfov_deg: float) -> Camera:
    """A fixed camera 2.6-3.4 m up at the origin, looking along world -Z at a ground point 8-10 m ahead."""
    cam_h = float(rng.uniform(2.6, 3.4))
    aim = float(rng.uniform(8.0, 10.0))
    return Camera(position=(0.0, cam_h, 0.0), pan_deg=0.0, tilt_deg=math.degrees(math.atan2(cam_h, aim)),
                  width=int(width), height=int(height), hfov_deg=float(hfov_deg))


def plan_walkers(rng: np.random.Generator, camera: Camera, people: int, seconds: float) -> list[Walker]:
    """Walkers whose walks overlap the clip; pairs cross the image centre together (occlusions).

    Two of every five walk along the optical axis (towards / away: the size changes), the
    rest cross the view; crossing walkers come in opposite-direction pairs at different
    depths, timed to meet at the centre between 30 % and 70 % of the clip.
    """
    half = math.tan(math.radians(camera.hfov_deg) / 2)
    walkers: list[Walker] = []
    meet = None
    for i in range(people):
        speed = float(rng.uniform(1.0, 1.5))
        if i % 5 in (2, 4):       # along the optical axis, off centre
            lateral = float(rng.uniform(-0.55, 0.55))
            near, far = float(rng.uniform(5.0, 6.5)), float(rng.uniform(11.0, 13.0))
            a, b = (lateral * near * half, -near), (lateral * far * half, -far)
            if rng.random() < 0.5:
                a, b = b, a
            duration = math.dist(a, b) / speed
            t0 = float(rng.uniform(-0.4 * duration, seconds - 0.5 * duration))
        else:
            depth = float(rng.uniform(5.5, 11.0))
            reach = 1.15 * depth * half + 0.5          # starts and ends just outside the view
            sign = 1.0 if (i // 5 + (i % 5 == 3)) % 2 == 0 else -1.0    # leads alternate direction
            if meet is not None and i % 5 == 1:       # the partner of the previous crossing walker
                sign = -meet[1]
                depth = meet[2] + float(rng.choice([-1, 1])) * float(rng.uniform(1.5, 3.0))
                depth = float(np.clip(depth, 5.0, 12.0))
                reach = 1.15 * depth * half + 0.5
                t_meet = meet[0] + float(rng.uniform(-0.3, 0.3))
            else:
                t_meet = float(rng.uniform(0.3, 0.7)) * seconds
                meet = (t_meet, sign, depth)
            a, b = (-sign * reach, -depth), (sign * reach, -depth)
            duration = 2 * reach / speed
            t0 = t_meet - duration / 2
        walkers.append(Walker(i + 1, (float(a[0]), float(a[1])), (float(b[0]), float(b[1])), float(t0), float(duration),
                              float(rng.uniform(0, 2 * math.pi))))
    return walkers


def _background(scene, camera: Camera) -> np.ndarray:
    grid = PixelGrid(camera, 0, 0, 1.0, camera.height, camera.width)
    return linear_to_srgb8(render_background(scene, grid).reshape(camera.height, camera.width, 3))


def _setup(seed: int, width: int, height: int, hfov: float, background: str):
    rng = item_rng(seed, "video-camera")
    camera = video_camera(rng, width, height, hfov)
    scene = build_scene(background, rng, anchor_xz=(0.0, -9.0), camera_bearing_deg=0.0, light=random_light(rng))
    return camera, scene


def render_frame(t: float, walkers: list[Walker], identities: list, camera: Camera, scene, background: np.ndarray,
                 seed: int, frame: int) -> tuple[np.ndarray, list[dict]]:
    """The composited RGB frame at clip time ``t`` and one ground-truth dict per person in view."""
    img = background.copy()
    owner = np.full(img.shape[:2], -1, np.int32)      # which person covers each pixel (-1: none)
    placed = []
    for w, ident in zip(walkers, identities):
        xz = w.position(t)
        if xz is None:
            continue
        depth = math.dist(xz, (camera.position[0], camera.position[2]))
        placed.append((depth, w, ident, xz))
    rendered = []
    for depth, w, ident, xz in sorted(placed, key=lambda p: -p[0]):          # far to near
        pose = Pose(walk_phase=w.phase0 + 2 * math.pi * STRIDE_HZ * w.speed / 1.3 * (t - w.t0), walk_amount=1.0,
                    wobble_seed=item_seed(seed, "video-wobble", w.person_id, frame), wobble_scale=0.3)
        try:
            r = render_person(ident, pose, xz, w.yaw, camera, scene, crop_height=4 * camera.height, margin=0.0)
        except PersonNotVisible:
            continue
        x0, y0 = int(round(r.crop_box[0])), int(round(r.crop_box[1]))
        h, wd = r.mask.shape
        region = (slice(y0, y0 + h), slice(x0, x0 + wd))
        free = owner[region] < 0
        # The person's own shadow: its render's background over the shadow-free static background.
        shade = (r.image.astype(np.float32) + 1.0) / (background[region].astype(np.float32) + 1.0)
        shade = np.clip(shade.mean(axis=2, keepdims=True), 0.0, 1.0)
        shadow = free & ~r.mask & (shade[..., 0] < 0.98)
        img[region][shadow] = (img[region][shadow] * shade[shadow]).astype(np.uint8)
        img[region][r.mask] = r.image[r.mask]
        owner[region][r.mask] = w.person_id
        rendered.append((w, r, int(r.mask.sum())))
    gt = []
    for w, r, total in rendered:
        visible = int((owner == w.person_id).sum())
        x, y, bw, bh = r.bbox
        gt.append({"id": w.person_id, "box": (float(x), float(y), float(bw), float(bh)),
                   "visibility": visible / max(1, total), "truncated": bool(r.truncated)})
    return img, sorted(gt, key=lambda g: g["id"])


def degrade_frame(img: np.ndarray, sensor: Sensor, rng: np.random.Generator) -> np.ndarray:
    """The camera's optics and sensor on the whole frame (its JPEG happens when the frame is written)."""
    from dataclasses import replace

    return apply_sensor(img, replace(sensor, quality=None), rng)


def _render_frames(job: dict) -> list[list[dict]]:
    seed, out = job["seed"], Path(job["out"])
    camera, scene = _setup(seed, job["width"], job["height"], job["hfov"], job["background"])
    walkers = [Walker(**w) for w in job["walkers"]]
    identities = [sample_identity(identity_rng(seed, "video", w.person_id), f"p{w.person_id:03d}") for w in walkers]
    deg = Sensor(**job["degradation"])
    per_frame = []
    for frame in job["frames"]:
        img, gt = render_frame((frame - 1) / job["fps"], walkers, identities, camera, scene, job["background_img"],
                               seed, frame)
        img = degrade_frame(img, deg, item_rng(seed, "video-noise", frame))
        write_image(out / IMG_DIR / f"{frame:06d}.jpg", img, jpeg_quality=job["jpeg_quality"])
        per_frame.append([{**g, "frame": frame} for g in gt])
    return per_frame


def generate_video(out: str | Path, seed: int = 0, people: int = 6, seconds: float = 6.0, fps: float = 10.0,
                   width: int = 640, height: int = 360, hfov: float = 60.0, background: str = "street",
                   min_visibility: float = 0.25, jpeg_quality: int = 90, mp4: bool = False, blur_sigma: float = 0.5,
                   noise_sigma: float = 2.0, camera: str | dict | None = None, workers: int | None = None) -> Path:
    """Render a MOTChallenge-layout clip of ``people`` walkers, ``seconds`` long at ``fps``, into ``out``.

    ``camera``: a camera preset (``reidfw.synthetic.camera``) whose resolution, lens and sensor
    replace ``width``/``height``/``hfov``/``blur_sigma``/``noise_sigma``/``jpeg_quality``.
    """
    if camera is not None:
        preset = camera_preset(camera)
        width, height, hfov = preset.width, preset.height, preset.hfov_deg
        blur_sigma, noise_sigma = preset.sensor.optics_blur, preset.sensor.read_noise
        jpeg_quality = preset.sensor.quality or jpeg_quality
    if people < 1 or seconds <= 0 or fps <= 0 or width < 64 or height < 64:
        raise ValueError(f"need people >= 1, seconds > 0, fps > 0 and a frame of at least 64x64 "
                         f"(got people={people}, seconds={seconds}, fps={fps}, {width}x{height})")
    out = Path(out)
    (out / IMG_DIR).mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    camera, scene = _setup(seed, width, height, hfov, background)
    walkers = plan_walkers(item_rng(seed, "video-walkers"), camera, people, seconds)
    n_frames = max(1, int(round(seconds * fps)))
    bg = _background(scene, camera)
    deg = Sensor(optics_blur=float(blur_sigma), read_noise=float(noise_sigma))
    # Frames render independently (every random draw is keyed by seed and frame): chunks go to workers.
    chunk = 8
    jobs = [{"seed": seed, "out": str(out), "width": width, "height": height, "hfov": hfov, "background": background,
             "walkers": [asdict(w) for w in walkers], "degradation": asdict(deg), "fps": float(fps),
             "jpeg_quality": int(jpeg_quality), "background_img": bg,
             "frames": list(range(s, min(n_frames, s + chunk - 1) + 1))} for s in range(1, n_frames + 1, chunk)]
    gt = [g for frames in parallel_map(_render_frames, jobs, workers, desc=f"rendering video ({chunk} frames a chunk)", unit="chunk") for per in frames for g in per]
    with (out / GT_FILE).open("w") as f:
        for g in sorted(gt, key=lambda g: (g["frame"], g["id"])):
            x, y, w, h = g["box"]
            visible = g["visibility"] >= min_visibility
            f.write(f"{g['frame']},{g['id']},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{int(visible)},"
                    f"{MOT_PEDESTRIAN if visible else MOT_DISTRACTOR},{g['visibility']:.3f}\n")
    write_seqinfo(out, out.name, fps, n_frames, width, height)
    if mp4:
        frames_to_video(out / IMG_DIR, out / VIDEO_FILE, fps)
    meta = {"seed": seed, "fps": fps, "frames": n_frames, "camera": camera.to_meta(), **scene.to_meta(),
            "degradation": asdict(deg), "min_visibility": min_visibility,
            "walkers": [{**asdict(w), "yaw": round(w.yaw, 2), "speed": round(w.speed, 3)} for w in walkers]}
    (out / "metadata.json").write_text(json.dumps(meta, indent=1))
    return out


def write_seqinfo(root: Path, name: str, fps: float, length: int, width: int, height: int) -> Path:
    ini = configparser.ConfigParser()
    ini.optionxform = str          # MOTChallenge keys are camelCase
    ini["Sequence"] = {"name": name, "imDir": IMG_DIR, "frameRate": f"{fps:g}", "seqLength": str(length),
                       "imWidth": str(width), "imHeight": str(height), "imExt": ".jpg"}
    path = Path(root) / SEQINFO
    with path.open("w") as f:
        ini.write(f, space_around_delimiters=False)
    return path


def frames_to_video(img_dir: Path, target: Path, fps: float) -> Path:
    """Encode a folder of frames as MPEG-4 (the codec every OpenCV FFmpeg build writes and reads)."""
    frames = sorted(Path(img_dir).glob("*.jpg"))
    first = cv2.imread(str(frames[0]))
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (first.shape[1], first.shape[0]))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {target} (no MPEG-4 encoder in this build); use the img1/ frames instead")
    for p in frames:
        writer.write(cv2.imread(str(p)))
    writer.release()
    return target


def read_mot_gt(root: str | Path) -> dict[int, list[tuple[int, tuple[float, float, float, float], int, float]]]:
    """``gt.txt`` -> frame -> [(id, (x, y, w, h), conf, visibility)]."""
    by_frame: dict[int, list] = {}
    for line in (Path(root) / GT_FILE).read_text().splitlines():
        if not line.strip():
            continue
        f, i, x, y, w, h, conf, _cls, vis = line.split(",")[:9]
        by_frame.setdefault(int(f), []).append((int(i), (float(x), float(y), float(w), float(h)), int(conf), float(vis)))
    return by_frame
