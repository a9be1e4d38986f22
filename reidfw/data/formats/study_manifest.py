"""The controlled-condition study manifest: factors, their conditions in order, images.

``<root>/manifest.json``::

    {
      "format": "reidfw-study/1",
      "name": "synthetic-study",
      "factors": [
        {"name": "distance", "title": "Horizontal distance", "standard": "4m",
         "conditions": [
           {"id": "2m", "label": "2 m",
            "images": [{"path": "distance/2m/0.png",          # relative to root
                        "mask": "distance/2m/0.mask.png",     # optional, person = non-zero
                        "box": [x, y, w, h],                  # optional, person box in the image
                        "meta": {...}}],                      # optional, free-form
            "impostors": [{"path": "impostors/distance/2m/03.png",  # optional: OTHER people
                           "identity": "impostor-03", ...}]}        # photographed the same way
         ]}
      ]
    }

The same format describes a user's own photos: a box and a mask are optional (no
box = the whole image is the person crop). Factors and conditions keep the order
they have in the file; that order is the row/column order of every matrix.

``impostors`` (optional, per condition) are images of other people taken under that
condition; they give every cell of a matrix its own impostor distribution, against which
the subject's similarity is read (``reidfw.evaluation.calibration``). ``identity`` names
the person, so one impostor's images across conditions are resampled together. Without
impostors, ``evaluate.py`` takes the model's impostor distribution from a retrieval set.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from reidfw.errors import ReidfwError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "reidfw-study/1"


@dataclass
class StudyImage:
    path: Path
    mask: Path | None = None
    box: tuple[float, float, float, float] | None = None
    meta: dict = field(default_factory=dict)
    identity: str | None = None  # impostors: who this is


@dataclass
class StudyCondition:
    id: str
    label: str
    images: list[StudyImage]
    impostors: list[StudyImage] = field(default_factory=list)


@dataclass
class StudyFactor:
    name: str
    title: str
    standard: str
    conditions: list[StudyCondition]

    @property
    def condition_ids(self) -> list[str]:
        return [c.id for c in self.conditions]


@dataclass
class StudyManifest:
    root: Path
    name: str
    factors: list[StudyFactor]

    def factor(self, name: str) -> StudyFactor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(f"study {self.name!r} has no factor {name!r}; it has {[f.name for f in self.factors]}")


class ManifestError(ReidfwError, ValueError):
    """The manifest is malformed; the message says where and how to fix it."""


def _image_to_json(img: StudyImage, root: Path) -> dict:
    d: dict = {"path": Path(img.path).relative_to(root).as_posix() if Path(img.path).is_absolute() else str(img.path)}
    if img.mask is not None:
        d["mask"] = Path(img.mask).relative_to(root).as_posix() if Path(img.mask).is_absolute() else str(img.mask)
    if img.box is not None:
        d["box"] = [float(v) for v in img.box]
    if img.identity is not None:
        d["identity"] = img.identity
    if img.meta:
        d["meta"] = img.meta
    return d


def write_manifest(manifest: StudyManifest) -> Path:
    root = Path(manifest.root)
    doc = {
        "format": MANIFEST_FORMAT,
        "name": manifest.name,
        "factors": [
            {
                "name": f.name,
                "title": f.title,
                "standard": f.standard,
                "conditions": [
                    {"id": c.id, "label": c.label, "images": [_image_to_json(i, root) for i in c.images],
                     **({"impostors": [_image_to_json(i, root) for i in c.impostors]} if c.impostors else {})}
                    for c in f.conditions
                ],
            }
            for f in manifest.factors
        ],
    }
    out = root / MANIFEST_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    return out


def read_manifest(root_or_file: str | Path, check_files: bool = True) -> StudyManifest:
    p = Path(root_or_file)
    file = p / MANIFEST_NAME if p.is_dir() else p
    if not file.is_file():
        raise ManifestError(
            f"study manifest not found: {file}. Generate the synthetic study with "
            f"`python -m reidfw.synthetic study --out {p}` or write a {MANIFEST_NAME} "
            f"as documented in the README (section 'Study manifest')."
        )
    try:
        doc = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ManifestError(
            f"{file} is not valid JSON: {e}. Fix: repair it (a half-written copy?) or write it again"
        ) from e
    root = file.parent
    if doc.get("format") != MANIFEST_FORMAT:
        raise ManifestError(
            f"{file}: 'format' is {doc.get('format')!r}, expected {MANIFEST_FORMAT!r}. Fix: write the manifest in "
            f"this format (README, section 'Study manifest') and set \"format\": \"{MANIFEST_FORMAT}\""
        )
    factors = []
    for fi, fd in enumerate(doc.get("factors") or []):
        where = f"{file}: factors[{fi}]"
        for key in ("name", "standard", "conditions"):
            if key not in fd:
                raise ManifestError(f"{where} lacks {key!r}")
        conds = []
        for ci, cd in enumerate(fd["conditions"]):
            cw = f"{where}.conditions[{ci}]"
            if "id" not in cd or not cd.get("images"):
                raise ManifestError(
                    f"{cw} needs an 'id' and a non-empty 'images' list (found {len(cd.get('images') or [])} images). "
                    f"Fix: add the condition's photos, or remove the condition"
                )
            imgs = [_read_image(root, idd, f"{cw}.images[{ii}]", check_files) for ii, idd in enumerate(cd["images"])]
            imps = [_read_image(root, idd, f"{cw}.impostors[{ii}]", check_files) for ii, idd in enumerate(cd.get("impostors") or [])]
            if any(i.identity is None for i in imps):
                raise ManifestError(f"{cw}: every impostor needs an 'identity' (who it is), so its images are resampled together")
            conds.append(StudyCondition(id=str(cd["id"]), label=str(cd.get("label", cd["id"])), images=imgs, impostors=imps))
        ids = [c.id for c in conds]
        if len(set(ids)) != len(ids):
            raise ManifestError(
                f"{where}: condition ids repeat: {sorted({i for i in ids if ids.count(i) > 1})} in {ids}. "
                f"Fix: give every condition of a factor its own 'id'"
            )
        if fd["standard"] not in ids:
            raise ManifestError(f"{where}: standard {fd['standard']!r} is not one of its conditions {ids}")
        factors.append(StudyFactor(name=fd["name"], title=fd.get("title", fd["name"]), standard=fd["standard"], conditions=conds))
    if not factors:
        raise ManifestError(f"{file} lists no factors")
    return StudyManifest(root=root, name=doc.get("name", root.name), factors=factors)


def _read_image(root: Path, d: dict, where: str, check_files: bool) -> StudyImage:
    if not isinstance(d, dict) or "path" not in d:
        raise ManifestError(f"{where}: an image needs a 'path' (relative to {root})")
    ip = root / d["path"]
    if check_files and not ip.is_file():
        raise ManifestError(f"{where}: file not found: {ip}. Fix: restore the file, or remove its entry from the manifest")
    box = d.get("box")
    if box is not None and (len(box) != 4 or box[2] <= 0 or box[3] <= 0):
        raise ManifestError(f"{where}: box must be [x, y, w, h] with w, h > 0, got {box}")
    return StudyImage(
        path=ip,
        mask=root / d["mask"] if d.get("mask") else None,
        box=tuple(box) if box is not None else None,
        meta=d.get("meta", {}),
        identity=str(d["identity"]) if d.get("identity") is not None else None,
    )
