"""The paper's controlled-condition study set (NOTES.md, "The controlled-condition study").

One person, photographed under a standard condition and under conditions that each
change exactly one factor; ``per_condition`` images per condition (5 in the paper)
that differ only by the posture wobble (and sensor noise).

Standard: horizontal distance 4 m, camera 112 cm high, tilt 0 deg, back to the camera
(yaw 180 deg), standing upright, white sweatshirt, gray pants, helmet, gray panel.

Factors (manifest order) and how each condition is realised:
  distance              2..14 m. The camera height follows the distance so the line of
                        sight to the person's mid-height keeps the standard's angle
                        (h = mid + d * (1.12 - mid) / 4); the tilt stays 0.
  orientation           yaw 0, 45, ..., 315 deg (0 = facing the camera), no backpack.
  orientation_backpack  the same with a black backpack; its standard is 180 deg.
  clothing              white top 1 (the standard sweatshirt), white top 2 (a different
                        white shirt: short sleeves, other cut and tint), gray top (the
                        sweatshirt in gray), white top 1 without the helmet.
  background            no panel (the room behind), monitor (the black back of a large
                        monitor behind the upper body), panel.
  camera_height         112, 172, 232 cm with the lens-to-person slant distance kept at 4 m,
                        measured to the point of the person at the standard lens height
                        (112 cm); the tilt points the optical axis at that point, so the
                        person is framed as in the standard and 112 cm *is* the standard.

Camera: a preset of ``reidfw.synthetic.camera`` (default ``corridor_1080p``: the wide-angle
1080p camera of a people-flow installation, whose 1.7 m person is 816 px tall at 2 m and
117 px at 14 m, with its blur, noise and compression), so the distance factor costs the
pixels it costs a real camera. With the standard's tilt 0 a 1.7 m person must fit at 2 m:
wide-angle presets and ``study_portrait`` (an upright 1080x1920 sensor) do. Rendered
person boxes are capped at ``crop_height`` pixels (see render.py).

Impostors: ``impostors`` other people, each photographed once under every condition, so
every cell of a matrix has its own impostor distribution (``reidfw.evaluation.calibration``).
A third are hard negatives (the subject's white sweatshirt, gray trousers and build, other
face, hair, shoes and headwear), a third share the subject's build and height, the rest are
anyone. An impostor takes every imaging parameter of a condition (distance, camera height,
tilt, yaw, backpack, background) but keeps their own clothes: the clothing factor changes
the subject, not the world. Conditions that image the same way share the impostor images.

Layout: ``<out>/<factor>/<condition>/<n>.png`` + ``<n>.mask.png``,
``<out>/impostors/<factor>/<condition>/<impostor>.png`` and ``manifest.json``
(``reidfw.data.formats.study_manifest``); each image's ``box`` is the tight person box
inside the crop (the crop has a ``margin`` around it), its ``meta`` the render parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reidfw.data.formats.image_io import write_image, write_mask
from reidfw.data.formats.study_manifest import StudyCondition, StudyFactor, StudyImage, StudyManifest, write_manifest
from reidfw.synthetic.body import Pose
from reidfw.synthetic.camera import camera_facing, camera_preset
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import BOTTOM_PALETTE, HAIR_COLORS, HEADWEAR_COLORS, SHOE_COLORS, SKIN_TONES, Identity, identity_rng, palette_names, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, render_person
from reidfw.synthetic.scene import Light, build_scene
from reidfw.synthetic.seeds import item_rng, item_seed
from reidfw.synthetic.sensor import exposure_of

STANDARD = {"distance": 4.0, "camera_height": 1.12, "tilt": 0.0, "yaw": 180.0, "outfit": "white1", "helmet": True,
            "backpack": False, "background": "panel"}
STUDY_LIGHT = Light(azimuth_deg=20.0, elevation_deg=60.0, strength=0.7, ambient=0.38)
SLANT_DISTANCE = 4.0

# The parameters of the condition dict that each factor may change (everything else stays at the standard).
FACTOR_PARAMETERS = {
    "distance": {"distance", "camera_height"},
    "orientation": {"yaw"},
    "orientation_backpack": {"yaw"},
    "clothing": {"outfit", "helmet"},
    "background": {"background"},
    "camera_height": {"camera_height", "distance", "tilt"},
}


@dataclass(frozen=True)
class FactorSpec:
    name: str
    title: str
    standard: str
    conditions: list[tuple[str, str, dict]]     # (id, label, changes to the standard condition)


def _mid_height(person: Identity) -> float:
    return person.height / 2


PAPER_CAMERA_HEIGHTS_CM = (112, 172, 232)


def _check_heights(camera_heights_cm) -> tuple[int, ...]:
    heights = tuple(int(cm) for cm in camera_heights_cm)
    top = STANDARD["camera_height"] + SLANT_DISTANCE
    if not heights or heights[0] != 112 or any(not 0 < cm / 100 < top for cm in heights) or len(set(heights)) != len(heights):
        raise ValueError(
            f"study camera_heights_cm={list(heights)}: give distinct heights in cm, starting with the standard 112, each "
            f"below {top * 100:.0f} cm (the lens stays {SLANT_DISTANCE:g} m from the person), e.g. [112,172,232,350,450]"
        )
    return heights


def study_factors(person: Identity, camera_heights_cm=PAPER_CAMERA_HEIGHTS_CM) -> list[FactorSpec]:
    """The paper's factors and conditions, in the paper's order. ``camera_heights_cm`` may extend the
    paper's 112/172/232 cm (e.g. street-pole heights that cost a model something; the ablation does)."""
    mid = _mid_height(person)
    slope = (STANDARD["camera_height"] - mid) / STANDARD["distance"]
    distance = [(f"{d}m", f"{d} m", {"distance": float(d), "camera_height": round(mid + d * slope, 4)})
                for d in (2, 4, 6, 8, 10, 12, 14)]
    yaws = [(f"{a}deg", f"{a}°", {"yaw": float(a)}) for a in range(0, 360, 45)]
    clothing = [("white1", "white top 1", {"outfit": "white1"}), ("white2", "white top 2", {"outfit": "white2"}),
                ("gray", "gray top", {"outfit": "gray"}),
                ("white1_nohelmet", "white top 1, no helmet", {"outfit": "white1", "helmet": False})]
    background = [("none", "no panel", {"background": "none"}), ("monitor", "monitor", {"background": "monitor"}),
                  ("panel", "panel", {"background": "panel"})]
    heights = []
    for cm in _check_heights(camera_heights_cm):
        dh = cm / 100 - STANDARD["camera_height"]
        horizontal = math.sqrt(SLANT_DISTANCE**2 - dh**2)
        heights.append((f"{cm}cm", f"{cm} cm", {"camera_height": cm / 100, "distance": round(horizontal, 4),
                                                "tilt": round(math.degrees(math.atan2(dh, horizontal)), 4)}))
    return [
        FactorSpec("distance", "Horizontal distance", "4m", distance),
        FactorSpec("orientation", "Orientation (no backpack)", "180deg", yaws),
        FactorSpec("orientation_backpack", "Orientation with backpack", "180deg",
                   [(i, l, {**c, "backpack": True}) for i, l, c in yaws]),
        FactorSpec("clothing", "Clothing", "white1", clothing),
        FactorSpec("background", "Background", "panel", background),
        FactorSpec("camera_height", "Camera height", "112cm", heights),
    ]


def study_person(seed: int = 0) -> Identity:
    """The study's subject: white sweatshirt, gray pants, white helmet, short black hair."""
    return Identity(
        identity_id="study-subject", height=1.72, build=1.0, skin=(232, 190, 160), hair_color=(22, 18, 16),
        hair_style="short", top_color=(236, 236, 232), top_accent=(236, 236, 232), top_motif=(236, 236, 232),
        top_pattern="plain", print_side="front", stripe_period=0.05, sleeve="long", top_looseness=1.1,
        bottom_color=(118, 118, 122), bottom_style="trousers", shoe_color=(35, 35, 38), sole_color=(230, 230, 225),
        headwear="helmet", headwear_color=(244, 244, 240), backpack=False, backpack_color=(28, 28, 30),
        shoulder_bag="none", bag_color=(28, 28, 30),
    )


OUTFITS = {
    "white1": {},
    "white2": {"top_color": (246, 245, 240), "sleeve": "short", "top_looseness": 1.0},
    "gray": {"top_color": (128, 128, 131), "top_accent": (128, 128, 131), "top_motif": (128, 128, 131)},
}


def dress(person: Identity, condition: dict) -> Identity:
    return person.replace(**OUTFITS[condition["outfit"]], headwear="helmet" if condition["helmet"] else "none",
                          backpack=bool(condition["backpack"]))


def impostor_person(seed: int, index: int, count: int, palette: str = "full") -> Identity:
    """Impostor ``index`` of ``count``: hard negatives first (see the module docstring), dressed from
    ``palette`` like the retrieval and training sets (the hard negatives' trousers too)."""
    subject = study_person(seed)
    bottoms = [BOTTOM_PALETTE[name] for name in palette_names(palette)[1]]
    rng = identity_rng(seed, "study-impostor", index)
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    ident = f"impostor-{index:02d}"
    if index < count // 3:  # the subject's clothes and build, another person in them
        return subject.replace(
            identity_id=ident, height=float(subject.height + rng.uniform(-0.06, 0.06)), skin=pick(SKIN_TONES),
            hair_color=pick(HAIR_COLORS), hair_style=pick(["short", "long", "bald"]),
            bottom_color=pick(bottoms), shoe_color=pick(SHOE_COLORS),
            headwear=pick(["helmet", "cap", "none"]), headwear_color=pick(HEADWEAR_COLORS),
        )
    other = sample_identity(rng, ident, palette)
    if index < 2 * count // 3:
        return other.replace(build=subject.build, height=float(subject.height + rng.uniform(-0.03, 0.03)))
    return other


def imaging_key(cond: dict) -> tuple:
    """What a condition does to the image, leaving out the subject's clothes."""
    return tuple(cond[k] for k in ("distance", "camera_height", "tilt", "yaw", "backpack", "background"))


def _render_image(job: dict) -> dict:
    seed, cond, out = job["seed"], job["condition"], Path(job["out"])
    if job.get("impostor") is not None:
        person = impostor_person(seed, job["impostor"], job["impostors"], job["palette"]).replace(backpack=bool(cond["backpack"]))
    else:
        person = dress(study_person(seed), cond)
    preset = camera_preset(job["camera"])
    camera = camera_facing((0.0, 0.0), cond["distance"], cond["camera_height"], cond["tilt"], 0.0, **preset.sensor_fields())
    # Same room for every condition: the scene's randomness is fixed by the seed alone.
    scene = build_scene(cond["background"], item_rng(seed, "study-scene"), (0.0, 0.0), 0.0, STUDY_LIGHT)
    key = (job["factor"], job["condition_id"], job["n"], person.identity_id)
    pose = Pose(walk_amount=0.0, wobble_seed=item_seed(seed, "study-wobble", *key))
    r = render_person(person, pose, (0.0, 0.0), cond["yaw"], camera, scene, crop_height=job["crop_height"],
                      margin=job["margin"], sensor=preset.sensor.exposed(exposure_of(STUDY_LIGHT)), noise_seed=item_seed(seed, "study-noise", *key),
                      extra_meta={"factor": job["factor"], "condition_id": job["condition_id"], "index": job["n"],
                                  "condition": cond, "person": person.identity_id})
    rel = f"{job['factor']}/{job['condition_id']}/{job['n']}"
    if job.get("impostor") is not None:
        rel = f"impostors/{job['factor']}/{job['condition_id']}/{job['impostor']:02d}"
    write_image(out / f"{rel}.png", r.image)
    write_mask(out / f"{rel}.mask.png", r.mask)
    return {"path": f"{rel}.png", "mask": f"{rel}.mask.png", "box": list(r.box_in_image), "meta": r.meta,
            "identity": person.identity_id if job.get("impostor") is not None else None}


def generate_study(out: str | Path, seed: int = 0, per_condition: int = 5, impostors: int = 20,
                   camera="corridor_1080p", crop_height: int = DEFAULT_CROP_HEIGHT, margin: float = 0.15,
                   workers: int | None = None, camera_heights_cm=PAPER_CAMERA_HEIGHTS_CM, palette: str = "full") -> Path:
    """Write the full study (every factor and condition of the paper) with ``per_condition`` images each,
    and ``impostors`` other people photographed once under every condition, through the ``camera``
    preset (a name or a dict: "what does my camera do to matching?"). ``palette`` dresses the impostors
    (the subject wears the paper's clothes whatever it is)."""
    camera_preset(camera)  # an unknown preset fails here, before any rendering
    palette_names(palette)
    _check_heights(camera_heights_cm)
    if per_condition < 2:
        raise ValueError(f"per_condition must be >= 2 (the matrix diagonal needs pairs of images), got {per_condition}")
    if impostors < 0:
        raise ValueError(f"impostors must be >= 0, got {impostors}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    factors = study_factors(study_person(seed), camera_heights_cm)
    base = {"seed": seed, "out": str(out), "crop_height": crop_height, "margin": margin, "impostors": impostors,
            "camera": camera, "palette": palette}
    jobs, first_of_key, imp_jobs = [], {}, {}
    for f in factors:
        for cid, _, changes in f.conditions:
            cond = {**STANDARD, **changes}
            jobs += [{**base, "factor": f.name, "condition_id": cid, "condition": cond, "n": n} for n in range(per_condition)]
            key = imaging_key(cond)
            if key not in first_of_key:  # the first condition that images this way renders its impostors
                first_of_key[key] = (f.name, cid)
                imp_jobs[key] = [{**base, "factor": f.name, "condition_id": cid, "condition": cond, "n": 0, "impostor": i}
                                 for i in range(impostors)]
    all_imp = [j for js in imp_jobs.values() for j in js]
    rendered = parallel_map(_render_image, jobs + all_imp, workers, desc="rendering study", unit="image")
    results, imp_results = iter(rendered[: len(jobs)]), iter(rendered[len(jobs):])
    imp_by_key = {key: [next(imp_results) for _ in js] for key, js in imp_jobs.items()}

    def as_image(r: dict) -> StudyImage:
        return StudyImage(path=r["path"], mask=r["mask"], box=tuple(r["box"]), meta=r["meta"], identity=r["identity"])

    manifest_factors = []
    for f in factors:
        conditions = []
        for cid, label, changes in f.conditions:
            images = [as_image(next(results)) for _ in range(per_condition)]
            imps = [as_image(r) for r in imp_by_key[imaging_key({**STANDARD, **changes})]]
            conditions.append(StudyCondition(id=cid, label=label, images=images, impostors=imps))
        manifest_factors.append(StudyFactor(name=f.name, title=f.title, standard=f.standard, conditions=conditions))
    write_manifest(StudyManifest(root=out, name="synthetic-study", factors=manifest_factors))
    return out
