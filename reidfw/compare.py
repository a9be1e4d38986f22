"""``python -m reidfw.compare a.jpg b.jpg ckpt=...``: are these two crops the same person, and why?

Prints the cosine similarity of the two crops, where it falls among the model's impostors
(impostor z and the share of strangers it beats) and a verdict at a named operating point (the
threshold at FAR 1e-3 by default), all from one set of verification pairs whose source is printed
(:mod:`reidfw.evaluation.pair_verdict`), and writes the attribution figure -- where in each image
the similarity comes from (:mod:`reidfw.evaluation.attribution`) -- to a path it prints.

Why Hydra's compose API and not ``@hydra.main`` or argparse: the options are evaluate.py's (the
same ``ckpt=`` / ``arch=`` / ``market=`` / ``study=`` / ``synthetic`` presets / ``cache_dir``, in the
same ``key=value`` syntax, with struct-mode rejection of unknown keys, in ``conf/compare.yaml``), but
the two images are positional, which ``@hydra.main`` refuses, and a one-shot question should not
create a Hydra run folder and log file. So the positional arguments are the images and the rest
are composed as overrides.

Every user mistake -- a missing, unreadable or corrupt image or mask, a box outside its image, a bad
checkpoint, a wrong key -- ends in one line naming the file (or key) and the fix, exit code 2.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

USAGE = "usage: python -m reidfw.compare IMAGE_A IMAGE_B ckpt=CHECKPOINT [box_a=[x,y,w,h]] [mask_a=PATH] [market=PATH] [far=1e-3] ..."
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


class UsageError(Exception):
    """A mistake in the command line, said in one line."""


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    images = [a for a in argv if "=" not in a]
    overrides = [a for a in argv if "=" in a]
    return images, overrides


def compose_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="compare", overrides=overrides)
    except Exception as e:  # Hydra's override and composition errors: the message names the key
        msg = " ".join(str(e).split())
        raise UsageError(f"{msg} (the options are in {CONF_DIR / 'compare.yaml'})") from None


def read_person_image(path: str, what: str):
    """An image as RGB uint8, or one line saying what is wrong with the file and how to fix it."""
    from reidfw.data.formats.image_io import ImageReadError, read_image
    from reidfw.errors import SourceError

    p = Path(path).expanduser()
    expected = f"{what} (a JPEG, PNG, BMP or WebP file)"
    if not p.exists():
        raise SourceError(p, expected, "no such file", f"check the path (relative paths start in {Path.cwd()})")
    if p.is_dir():
        raise SourceError(p, expected, "a folder", "pass the image file itself")
    try:
        return read_image(p)
    except ImageReadError:
        raise SourceError(p, expected, f"a file of {p.stat().st_size} bytes that does not decode (empty, truncated "
                          "or not an image)", "re-copy or re-export the image") from None
    except OSError as e:
        raise SourceError(p, expected, f"a file that cannot be read ({e.strerror or e})", "check its permissions") from None


def read_person_mask(path: str, image, what: str):
    from reidfw.data.formats.image_io import ImageReadError, read_mask
    from reidfw.errors import SourceError

    p = Path(path).expanduser()
    expected = f"{what} (a PNG, non-zero = person, the size of its image)"
    if not p.is_file():
        raise SourceError(p, expected, "no such file" if not p.exists() else "a folder", "check the path, or drop the mask")
    try:
        mask = read_mask(p)
    except (ImageReadError, OSError):
        raise SourceError(p, expected, "a file that does not decode", "re-export the mask as a PNG") from None
    if mask.shape != image.shape[:2]:
        raise SourceError(p, expected, f"a {mask.shape[1]}x{mask.shape[0]} mask for a {image.shape[1]}x{image.shape[0]} image",
                          "give the mask of this very image (same width and height)")
    return mask


def _box(value, key: str):
    if value is None:
        return None
    try:
        box = tuple(float(v) for v in value)
        ok = len(box) == 4 and box[2] > 0 and box[3] > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(f"{key}={value}: expected [x, y, w, h] in pixels with w, h > 0, e.g. {key}=[120,40,90,260]")
    return box


def _short_names(a: str, b: str) -> tuple[str, str]:
    """File names for titles; with their folder when the two names are the same (0.png vs 0.png)."""
    pa, pb = Path(a), Path(b)
    if pa.name != pb.name:
        return pa.name, pb.name
    return f"{pa.parent.name}/{pa.name}", f"{pb.parent.name}/{pb.name}"


def run(argv: list[str]) -> int:
    from reidfw.errors import ReidfwError

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        print(f"options (key=value): {CONF_DIR / 'compare.yaml'}")
        return 0
    try:
        return _compare(argv)
    except (UsageError, ReidfwError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _compare(argv: list[str]) -> int:
    import numpy as np
    import torch

    from reidfw.checkpoints import CheckpointError, load_embedding_model
    from reidfw.checkpoints.model_spec import input_spec_of
    from reidfw.config_values import to_plain
    from reidfw.errors import SourceError
    from reidfw.evaluation.attribution import explain_pair
    from reidfw.evaluation.attribution_figure import explained_input, fill_share, plot_pair
    from reidfw.evaluation.command import resolve_data_root
    from reidfw.evaluation.embed import Embedder
    from reidfw.evaluation.pair_verdict import pair_calibration
    from reidfw.evaluation.pipeline import model_display_name
    from reidfw.mlflow_logging.runs import is_run_ref

    images, overrides = _split(argv)
    if len(images) != 2:
        raise UsageError(f"expected two images, got {len(images)} ({' '.join(images) or 'none'}). {USAGE}")
    cfg = compose_config(overrides)
    from omegaconf import OmegaConf

    if OmegaConf.is_missing(cfg, "ckpt") or cfg.ckpt is None or str(cfg.ckpt) == "":
        raise UsageError(f"ckpt= is missing: which model should compare them? {USAGE}")
    far = float(cfg.far)
    if not 0 < far < 1:
        raise UsageError(f"far={cfg.far}: a false-accept rate is a share of impostor pairs, in (0, 1), e.g. far=1e-3")
    box_a, box_b = _box(to_plain(cfg.box_a), "box_a"), _box(to_plain(cfg.box_b), "box_b")

    # The images first: a typo in a path should not wait for a checkpoint to load.
    img_a = read_person_image(images[0], "image A")
    img_b = read_person_image(images[1], "image B")
    mask_a = read_person_mask(cfg.mask_a, img_a, "mask_a") if cfg.mask_a else None
    mask_b = read_person_mask(cfg.mask_b, img_b, "mask_b") if cfg.mask_b else None

    if is_run_ref(str(cfg.ckpt)):
        import mlflow

        from reidfw.mlflow_logging.store import resolve_tracking_uri

        mlflow.set_tracking_uri(resolve_tracking_uri(cfg.mlflow.tracking_uri))
    img_size = tuple(int(v) for v in cfg.img_size) if cfg.img_size is not None else None
    try:
        model, spec = load_embedding_model(str(cfg.ckpt), arch=cfg.arch, img_size=img_size, map_location="cpu")
    except CheckpointError as e:
        raise UsageError(f"cannot load checkpoint: {e}") from None
    input_spec = input_spec_of(spec)
    name_a, name_b = _short_names(images[0], images[1])
    try:
        a = explained_input(img_a, input_spec, box_a, mask_a, f"A: {name_a}")
    except ValueError as e:
        raise SourceError(images[0], "box_a inside image A", str(e), "give [x, y, w, h] in the image's pixels") from None
    try:
        b = explained_input(img_b, input_spec, box_b, mask_b, f"B: {name_b}")
    except ValueError as e:
        raise SourceError(images[1], "box_b inside image B", str(e), "give [x, y, w, h] in the image's pixels") from None

    embedder = Embedder(model, spec, device=cfg.device, batch_size=cfg.batch_size, num_workers=cfg.num_workers)
    feats = embedder.forward_batch(torch.stack([torch.from_numpy(np.ascontiguousarray(u.transpose(2, 0, 1)))
                                                for u in (a.u8, b.u8)])).cpu()
    cosine = float(feats[0] @ feats[1])
    att = explain_pair(embedder.model, a.x, b.x)

    kind = str(cfg.impostors)
    if kind not in ("market", "study"):
        raise UsageError(f"impostors={kind}: choose market (a retrieval set's pairs) or study (a study's impostors)")
    synthetic = to_plain(cfg.synthetic)
    try:
        root = resolve_data_root(cfg[kind], kind, cfg.cache_dir, synthetic[kind])
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    if root is None:
        raise UsageError(f"{kind}=null: the answer needs a {kind} to calibrate with; pass {kind}=PATH or {kind}=synthetic")
    what = ("query x gallery pairs" if kind == "market" else "subject pairs and condition-matched impostor pairs")
    synthetic_name = "the synthetic " + ("Market-layout set" if kind == "market" else "study")
    description = f"{what} of {synthetic_name} ({root})" if str(cfg[kind]) == "synthetic" else f"{what} of {root}"
    cal, cached = pair_calibration(model, spec, embedder, kind, root, far, description,
                                   cfg.cache_dir if cfg.calibration_cache else None, int(cfg.max_negatives))
    reading = cal.read(cosine)

    stem = lambda n: Path(n).with_suffix("").as_posix().replace("/", "_")  # noqa: E731
    out = Path(cfg.out) if cfg.out else Path("outputs/compare") / f"{stem(name_a)}_vs_{stem(name_b)}.png"
    title = f"{model_display_name(spec)}: {name_a} vs {name_b}"
    figure = plot_pair(a, b, att, out, title)

    verdict = "SAME PERSON" if reading["same_person"] else "DIFFERENT PEOPLE"
    thr = f"{cal.threshold:.3f}"
    print(f"reidfw compare: {images[0]} vs {images[1]}")
    print(f"  model          {model_display_name(spec)} ({spec['embedding']}, input {input_spec.height}x{input_spec.width}; {cfg.ckpt})")
    print(f"  cosine         {cosine:.4f}")
    print(f"  impostors      z = {reading['z']:+.2f} (impostor mean {cal.impostor_mean:.3f}, std {cal.impostor_std:.3f}); "
          f"beats {100 * reading['strangers_beaten']:.2f} % of strangers")
    print(f"  verdict        {verdict} at FAR {far:g}: threshold {thr} (TAR there {cal.tar:.3f})")
    print(f"  calibrated on  {cal.num_impostor:,} impostor and {cal.num_genuine:,} genuine {cal.source}; "
          f"z, strangers and threshold all from these pairs{' (cached)' if cached else ''}")
    if cal.num_impostor * far < 1:
        print(f"  note           FAR {far:g} needs at least {int(np.ceil(1 / far)):,} impostor pairs to be measured; with "
              f"{cal.num_impostor:,} the threshold is just above the highest impostor score")
    print(f"  attribution    {att.summary()}")
    shares = (fill_share(att.map_a, a.content), fill_share(att.map_b, b.content))
    if max(abs(s) for s in shares) >= 0.005:
        print(f"                 of which on the letterbox fill (each cell weighted by its fill area): "
              f"{shares[0]:+.3f} (A), {shares[1]:+.3f} (B)")
    print(f"  figure         {figure}")
    if abs(att.cosine - cosine) > 1e-4:  # the two forwards must agree; a mismatch is a bug, not a user error
        print(f"  warning: the attribution's forward gives cosine {att.cosine:.5f}", file=sys.stderr)
    return 0


def main() -> None:
    code = run(sys.argv[1:])
    if code:
        sys.exit(code)


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    main()
