"""The four generators write the formats real data uses, with the paper's study design."""
from __future__ import annotations

import json

import numpy as np

from reidfw.data.formats.image_io import list_images, read_image, read_mask
from reidfw.data.formats.market import JUNK_PID, parse_market_name, read_market_split
from reidfw.data.formats.study_manifest import read_manifest
from reidfw.data.formats.tracks import read_tracks
from reidfw.synthetic.cache import GENERATORS
from reidfw.synthetic.contact_sheet import contact_sheet
from reidfw.synthetic.generators.study import FACTOR_PARAMETERS
from reidfw.synthetic.presets import synthetic_preset

TINY_SETTINGS = synthetic_preset("tiny")

PAPER_FACTORS = {
    "distance": (["2m", "4m", "6m", "8m", "10m", "12m", "14m"], "4m"),
    "orientation": ([f"{a}deg" for a in range(0, 360, 45)], "180deg"),
    "orientation_backpack": ([f"{a}deg" for a in range(0, 360, 45)], "180deg"),
    "clothing": (["white1", "white2", "gray", "white1_nohelmet"], "white1"),
    "background": (["none", "monitor", "panel"], "panel"),
    "camera_height": (["112cm", "172cm", "232cm"], "112cm"),
}
# Per-image keys (posture wobble, noise, resulting box) and the condition bookkeeping itself.
PER_IMAGE_KEYS = {"wobble_seed", "noise_seed", "posture", "wobble_yaw", "bbox", "scale", "truncated", "slant_distance",
                  "box_height_native", "capped",
                  "index", "condition_id", "condition", "factor"}
# Render-meta keys that follow from each controlled parameter.
DERIVED = {"distance": {"distance", "camera"}, "camera_height": {"camera_height", "camera"}, "tilt": {"tilt", "camera"},
           "yaw": {"yaw", "world_yaw"}, "outfit": {"identity"}, "helmet": {"identity"}, "background": {"background"}}


def test_study_manifest_has_exactly_the_paper_design(tiny_sets):
    m = read_manifest(tiny_sets["study"])
    assert [f.name for f in m.factors] == list(PAPER_FACTORS)
    n = TINY_SETTINGS["study"]["per_condition"]
    for f in m.factors:
        ids, standard = PAPER_FACTORS[f.name]
        assert f.condition_ids == ids and f.standard == standard
        for c in f.conditions:
            assert len(c.images) == n
            for img in c.images:
                rgb, mask = read_image(img.path), read_mask(img.mask)
                assert rgb.shape[:2] == mask.shape and mask.any()
                x, y, w, h = img.box
                ys, xs = np.nonzero(mask)
                assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
    labels = {c.id: c.label for c in m.factor("orientation").conditions}
    assert labels["45deg"] == "45°" and m.factor("distance").conditions[0].label == "2 m"
    assert m.factor("clothing").conditions[2].label == "gray top"


def test_default_study_has_five_images_per_condition():
    import inspect
    from reidfw.synthetic.generators.study import generate_study
    assert inspect.signature(generate_study).parameters["per_condition"].default == 5


def test_each_condition_differs_from_its_standard_only_in_its_factor(tiny_sets):
    m = read_manifest(tiny_sets["study"])
    for f in m.factors:
        std = {k: v for k, v in m.factor(f.name).conditions[f.condition_ids.index(f.standard)].images[0].meta.items()
               if k not in PER_IMAGE_KEYS}
        allowed = set().union(*(DERIVED[p] for p in FACTOR_PARAMETERS[f.name]))
        for c in f.conditions:
            for img in c.images:
                meta = {k: v for k, v in img.meta.items() if k not in PER_IMAGE_KEYS}
                changed = {k for k in set(meta) | set(std) if meta.get(k) != std.get(k)}
                assert changed <= allowed, (f.name, c.id, changed - allowed)
                if c.id != f.standard:
                    assert changed, (f.name, c.id, "identical to the standard")
            # Images of one condition differ only by the wobble (and noise).
            metas = [{k: v for k, v in i.meta.items() if k not in PER_IMAGE_KEYS} for i in c.images]
            assert all(mm == metas[0] for mm in metas)
            assert len({i.meta["wobble_seed"] for i in c.images}) == len(c.images)


def test_study_standard_matches_the_paper(tiny_sets):
    m = read_manifest(tiny_sets["study"])
    meta = m.factor("background").conditions[2].images[0].meta
    assert meta["distance"] == 4.0 and meta["camera_height"] == 1.12 and meta["tilt"] == 0.0
    assert meta["world_yaw"] == 180.0 and meta["background"] == "panel" and meta["walk_amount"] == 0.0
    assert meta["identity"]["headwear"] == "helmet" and meta["identity"]["backpack"] is False
    # Distance: the line of sight to the person keeps its angle, the tilt stays 0.
    dist = m.factor("distance")
    heights = [c.images[0].meta["camera_height"] for c in dist.conditions]
    assert heights == sorted(heights) and all(c.images[0].meta["tilt"] == 0.0 for c in dist.conditions)


def test_tracks_table_reads_back_and_one_track_is_one_identity(tiny_sets):
    root = tiny_sets["tracks"]
    crops = read_tracks(root)
    assert len({c.track_id for c in crops}) == TINY_SETTINGS["tracks"]["identities"]
    meta = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines()]
    by_track = {}
    for m in meta:
        by_track.setdefault(m["track_id"], set()).add(m["identity_id"])
    assert all(len(ids) == 1 for ids in by_track.values())
    assert len({next(iter(ids)) for ids in by_track.values()}) == len(by_track)
    for c in crops:
        assert c.path.is_file() and c.bbox[2] > 0 and c.bbox[3] > 0
        assert c.path.parent.name == c.track_id
    cams_per_track = {}
    for c in crops:
        cams_per_track.setdefault(c.track_id, set()).add(c.camera)
    assert all(len(v) == 1 for v in cams_per_track.values())


def test_market_names_parse_and_queries_have_cross_camera_matches(tiny_sets):
    root = tiny_sets["market"]
    for p in list_images(root / "bounding_box_train") + list_images(root / "query") + list_images(root / "bounding_box_test"):
        pid, cam = parse_market_name(p.name)
        assert pid >= JUNK_PID and 1 <= cam <= TINY_SETTINGS["market"]["cameras"]
    train = read_market_split(root, "train")
    query = read_market_split(root, "query")
    gallery = read_market_split(root, "gallery")
    assert train and query and gallery
    assert not {i.pid for i in train} & {i.pid for i in query}
    for q in query:
        assert any(g.pid == q.pid and g.camera != q.camera for g in gallery), q.path.name
    assert any(g.pid == 0 for g in gallery) and any(g.pid == JUNK_PID for g in gallery)


def test_unlabeled_is_a_flat_folder_of_distinct_people(tiny_sets):
    root = tiny_sets["unlabeled"]
    images = list_images(root)
    assert len(images) == TINY_SETTINGS["unlabeled"]["count"] and all(p.suffix == ".jpg" for p in images)
    meta = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines()]
    assert len({m["identity_id"] for m in meta}) == len(meta)


def test_generators_are_deterministic_and_worker_count_does_not_matter(tmp_path, tiny_sets):
    settings = dict(TINY_SETTINGS["unlabeled"], count=3)
    a = GENERATORS["unlabeled"](tmp_path / "a", **settings, workers=1)
    b = GENERATORS["unlabeled"](tmp_path / "b", **settings, workers=2)
    c = GENERATORS["unlabeled"](tmp_path / "c", **dict(settings, seed=1), workers=1)
    for pa, pb in zip(list_images(a), list_images(b)):
        assert pa.read_bytes() == pb.read_bytes()
    assert any(pa.read_bytes() != pc.read_bytes() for pa, pc in zip(list_images(a), list_images(c)))
    # The tiny study rendered twice gives identical pixels.
    again = GENERATORS["study"](tmp_path / "study", **TINY_SETTINGS["study"], workers=1)
    first = read_manifest(tiny_sets["study"]).factors[0].conditions[0].images[0].path
    assert (again / "distance/2m/0.png").read_bytes() == first.read_bytes()


def test_contact_sheet_works_on_every_layout(tiny_sets, tmp_path):
    for kind, root in tiny_sets.items():
        out = contact_sheet(root, tmp_path / f"{kind}.png")
        sheet = read_image(out)
        assert sheet.shape[0] > 100 and sheet.shape[1] > 50


def test_study_camera_heights_extend_the_papers_with_the_slant_distance_kept():
    import math

    import pytest

    from reidfw.synthetic.generators.study import SLANT_DISTANCE, STANDARD, generate_study, study_factors, study_person

    heights = next(f for f in study_factors(study_person(0), (112, 172, 232, 350, 450)) if f.name == "camera_height")
    assert [cid for cid, _, _ in heights.conditions] == ["112cm", "172cm", "232cm", "350cm", "450cm"]
    for _, _, c in heights.conditions:  # the lens stays 4 m from the person's point at the standard lens height
        dh = c["camera_height"] - STANDARD["camera_height"]
        assert math.isclose(math.hypot(c["distance"], dh), SLANT_DISTANCE, rel_tol=1e-4)
        assert math.isclose(c["tilt"], math.degrees(math.atan2(dh, c["distance"])), abs_tol=1e-3)
    default = next(f for f in study_factors(study_person(0)) if f.name == "camera_height")
    assert [cid for cid, _, _ in default.conditions] == ["112cm", "172cm", "232cm"]  # the paper's
    for bad in ([172, 232], [112, 600], [112, 112]):
        with pytest.raises(ValueError, match="camera_heights_cm"):
            generate_study("/nonexistent/never-written", camera_heights_cm=bad)


def _nearest_garment(rgb) -> str:
    from reidfw.synthetic.identity import GARMENT_PALETTE

    return min(GARMENT_PALETTE, key=lambda n: float(np.sum((np.array(GARMENT_PALETTE[n]) - np.array(rgb)) ** 2)))


def test_a_neutral_palette_dresses_the_same_people_in_neutral_colours():
    from reidfw.synthetic.identity import PALETTES, identity_rng, sample_identity

    neutral_tops = set(PALETTES["neutral"][0])
    full = [sample_identity(identity_rng(0, "tracks", i), f"t{i}") for i in range(200)]
    neutral = [sample_identity(identity_rng(0, "tracks", i), f"t{i}", "neutral") for i in range(200)]
    # the same draws: everything but the clothing colours is the same person
    for a, b in zip(full, neutral):
        assert (a.height, a.build, a.skin, a.hair_style, a.top_pattern, a.headwear, a.backpack, a.bottom_style) == \
               (b.height, b.build, b.skin, b.hair_style, b.top_pattern, b.headwear, b.backpack, b.bottom_style)
    share = lambda people: np.mean([_nearest_garment(p.top_color) in neutral_tops for p in people])  # noqa: E731
    assert share(neutral) >= 0.95  # jitter may cross to a near colour now and then
    assert share(full) < 0.5  # 5 of 18 names: about 0.28
    assert len({p.top_color for p in neutral}) > 150  # still a different shade per person


def test_a_palette_reaches_the_generators_and_a_wrong_name_ends_before_rendering(tmp_path):
    import pytest

    from reidfw.errors import ConfigValueError
    from reidfw.synthetic.generators.tracks import generate_tracks

    out = generate_tracks(tmp_path / "t", identities=3, per_identity=2, cameras=1, palette="neutral", crop_height=48,
                          workers=1)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    from reidfw.synthetic.identity import PALETTES

    assert metas and all(_nearest_garment(m["identity"]["top_color"]) in PALETTES["neutral"][0] for m in metas)
    with pytest.raises(ConfigValueError, match=r"palette=purple: expected one of full, neutral.*Fix: palette=full"):
        generate_tracks(tmp_path / "bad", identities=2, palette="purple", workers=1)
    assert not (tmp_path / "bad").exists()


def test_the_study_dresses_its_impostors_from_the_palette_and_its_subject_in_the_papers_clothes():
    import pytest

    from reidfw.errors import ConfigValueError
    from reidfw.synthetic.generators.study import impostor_person, study_person
    from reidfw.synthetic.identity import BOTTOM_PALETTE, PALETTES

    subject = study_person(0)
    full = [impostor_person(0, i, 30) for i in range(30)]
    neutral = [impostor_person(0, i, 30, "neutral") for i in range(30)]
    assert full == [impostor_person(0, i, 30, "full") for i in range(30)]  # the default is the full palette
    hard, others = neutral[:10], neutral[10:]
    # hard negatives wear the subject's top whatever the palette; their trousers come from the palette
    assert all(p.top_color == subject.top_color for p in hard)
    neutral_bottoms = {BOTTOM_PALETTE[n] for n in PALETTES["neutral"][1]}
    assert all(p.bottom_color in neutral_bottoms for p in hard)
    assert np.mean([_nearest_garment(p.top_color) in PALETTES["neutral"][0] for p in others]) >= 0.9
    # the same people otherwise: palette changes clothing colours only
    assert [(p.height, p.build, p.skin, p.hair_style) for p in full] == [(p.height, p.build, p.skin, p.hair_style) for p in neutral]
    with pytest.raises(ConfigValueError, match="palette=plaid"):
        impostor_person(0, 15, 30, "plaid")
