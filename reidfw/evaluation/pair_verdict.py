"""One similarity, read against the model's impostor distribution and an operating point.

"Are these two crops the same person?" has no answer in raw cosine: 0.6 is a stranger for a
collapsed model and a near-certain match for a sharp one. So a pair's cosine ``s`` is read against
pairs of the same model whose answer is known, all from **one set of verification pairs**:

- a retrieval set (Market-1501 layout): its query x gallery pairs with the retrieval rules
  (:func:`reidfw.evaluation.verification.query_gallery_pairs`), genuine = same identity in
  another camera, impostor = different identities; or
- a study with impostors: genuine = pairs of distinct images of the subject, impostor = a subject
  image against an impostor photographed under the same condition.

From those pairs: the **impostor z-score** ``(s - mean) / std`` of the impostor scores, the share of
**strangers beaten** (impostor pairs scoring below ``s``: :mod:`reidfw.evaluation.calibration`), and
the **threshold at a false-accept rate** (e.g. FAR 1e-3: the lowest threshold that accepts at most
0.1 % of the impostor pairs, with the TAR it keeps; :func:`reidfw.evaluation.verification.verification_metrics`).
The verdict is ``s >= threshold``.

Embedding a retrieval set takes a while on a CPU, so the result is cached per (model weights,
input spec, data set, FAR): a second question to the same model is answered at once.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from reidfw.evaluation.verification import verification_metrics

VERSION = "1"


@dataclass
class PairCalibration:
    source: str  # in words: which pairs of which data set
    far: float
    threshold: float  # accept when the cosine is >= this
    tar: float  # the share of genuine pairs accepted at that threshold
    num_genuine: int
    num_impostor: int
    impostor_mean: float
    impostor_std: float
    impostors: np.ndarray  # sorted impostor scores

    def read(self, score: float) -> dict:
        """z, strangers beaten and the verdict for one cosine."""
        beaten = float(np.searchsorted(self.impostors, score, side="left") / len(self.impostors))
        z = (score - self.impostor_mean) / self.impostor_std if self.impostor_std > 0 else math.nan
        same = math.isfinite(self.threshold) and score >= self.threshold
        return {"z": float(z), "strangers_beaten": beaten, "same_person": bool(same)}

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("impostors")
        return d


def calibrate(scores: np.ndarray, labels: np.ndarray, far: float, source: str) -> PairCalibration:
    """The operating point at ``far`` from labelled pair scores. When even the highest impostor exceeds the
    allowed share (too few impostor pairs, or one very similar stranger), the threshold is just above
    the highest impostor score: nothing seen is falsely accepted, and the TAR there is measured as usual."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, np.float64)
    v = verification_metrics(scores, labels, fars=(far,), recalls=())
    imp = np.sort(scores[~labels])
    threshold, tar = float(v[f"threshold_at_far_{far:g}"]), float(v[f"tar_at_far_{far:g}"])
    if not math.isfinite(threshold):
        threshold = float(np.nextafter(imp[-1], np.inf))
        tar = float((scores[labels] >= threshold).mean())
    return PairCalibration(source, far, threshold, tar, int(v["num_pos"]), int(v["num_neg"]),
                           float(imp.mean()), float(imp.std()), imp)


def market_pairs(embedder, root: str | Path, max_negatives: int = 2_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Query x gallery verification pairs of a Market-layout set."""
    from reidfw.data.formats.market import read_market_split
    from reidfw.evaluation.verification import query_gallery_pairs

    query, gallery = read_market_split(root, "query"), read_market_split(root, "gallery")
    if not query or not gallery:
        raise ValueError(f"{root}: query/ has {len(query)} and bounding_box_test/ {len(gallery)} images; both need some")
    qf, gf = embedder.embed(query, desc="embedding query"), embedder.embed(gallery, desc="embedding gallery")
    return query_gallery_pairs(qf, [i.pid for i in query], [i.camera for i in query],
                               gf, [i.pid for i in gallery], [i.camera for i in gallery], max_negatives=max_negatives)


def study_pairs(embedder, root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Genuine pairs of distinct subject images and condition-matched subject x impostor pairs of a study."""
    from reidfw.data.formats.study_manifest import read_manifest

    manifest = read_manifest(root)
    index: dict[str, int] = {}
    images = []

    def idx(img) -> int:
        key = f"{img.path}|{img.box}"
        if key not in index:
            index[key] = len(images)
            images.append(img)
        return index[key]

    subject, imp_pairs = set(), set()
    for f in manifest.factors:
        for c in f.conditions:
            s_ids = [idx(i) for i in c.images]
            subject.update(s_ids)
            imp_pairs.update((s, idx(i)) for s in s_ids for i in c.impostors)
    if not imp_pairs:
        raise ValueError(f"{root}: the study names no impostors; use impostors=market (a retrieval set) instead")
    feats = embedder.embed(images)
    subj = sorted(subject)
    S = feats[subj] @ feats[subj].T
    genuine = S[np.triu_indices(len(subj), k=1)]
    pairs = np.array(sorted(imp_pairs))
    impostor = np.einsum("nd,nd->n", feats[pairs[:, 0]], feats[pairs[:, 1]])
    scores = np.concatenate([genuine, impostor]).astype(np.float64)
    labels = np.concatenate([np.ones(len(genuine), bool), np.zeros(len(impostor), bool)])
    return scores, labels


def weights_fingerprint(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, t in model.state_dict().items():
        h.update(k.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _data_fingerprint(root: Path) -> str:
    info = root / "dataset.json"  # the synthetic sets carry their generator settings
    if info.is_file():
        return hashlib.sha256(info.read_bytes()).hexdigest()[:12]
    files = sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def pair_calibration(
    model: nn.Module, spec: dict, embedder, kind: str, root: str | Path, far: float, description: str,
    cache_dir: str | Path | None = None, max_negatives: int = 2_000_000,
) -> tuple[PairCalibration, bool]:
    """(calibration, whether it came from the cache). ``kind``: "market" or "study"."""
    root = Path(root)
    cache = None
    if cache_dir is not None:
        key = json.dumps({"w": weights_fingerprint(model), "input": spec.get("input"), "kind": kind,
                          "root": str(root.resolve()), "data": _data_fingerprint(root), "far": far,
                          "max_negatives": max_negatives, "v": VERSION}, sort_keys=True)
        cache = Path(cache_dir) / "pair-calibration" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return PairCalibration(**meta, impostors=z["impostors"]), True
    if kind == "market":
        scores, labels = market_pairs(embedder, root, max_negatives)
    elif kind == "study":
        scores, labels = study_pairs(embedder, root)
    else:
        raise ValueError(f"impostors={kind!r}: choose market (a retrieval set's pairs) or study (a study's impostors)")
    cal = calibrate(scores, labels, far, description)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, meta=json.dumps(cal.to_json()), impostors=cal.impostors)
        tmp.replace(cache)
    return cal, False
