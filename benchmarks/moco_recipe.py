"""Which MoCo recipe learns on the demo's data? One change at a time, in minutes.

reidfw's own MoCo module (momentum encoder, queue, InfoNCE, split BN in both encoders) trained
by a plain loop over the unlabeled crops held in memory as model inputs (no data loader, no
checkpoints, no MLflow: ~1.2 steps/s for iresnet18 and ~5 for reid_resnet18 at 64x32 on 2 CPU
cores), with a light augmentation done on
those tensors (a random crop of ``crop``-100 % of the area, horizontal flip, optional brightness
jitter ``jitter``, downscaling ``down`` and random erasing ``erase``). Every ``every`` steps it
prints the validation mAP on the Market-layout set (reidfw's exact retrieval metrics) and the strangers' mean cosine.

    .venv/bin/python benchmarks/moco_recipe.py                      # the demo's recipe: iresnet18, 250 steps
    .venv/bin/python benchmarks/moco_recipe.py model=reid_resnet18 steps=400 every=100 crop=0.6   # the GAP one before it
    .venv/bin/python benchmarks/moco_recipe.py tau=0.07 mom=0.99 projbn=0   # the recipe before that
    .venv/bin/python benchmarks/moco_recipe.py positives=crop       # two views of one crop
    .venv/bin/python benchmarks/moco_recipe.py symmetric=1 steps=125  # MoCo v3's symmetrised loss, same compute
    .venv/bin/python benchmarks/moco_recipe.py mode=supervised      # the unlabeled set's person labels
    .venv/bin/python benchmarks/moco_recipe.py mode=supervised train=market   # labels from the retrieval set's cameras
    .venv/bin/python benchmarks/moco_recipe.py seeds=0,1,2 tau=0.07 # mean and 95 % interval over seeds
    .venv/bin/python benchmarks/moco_recipe.py seeds=0,1,2,3,4 change=tau=0.07   # paired against the recipe

One seed is not a measurement: at 400 steps the GAP recipe (reid_resnet18) gives val mAP 0.114
with seed 0 and 0.159 with seed 1 (the seed sets the initial weights, the batch order and the augmentations).
``seeds=`` runs the recipe once per seed and prints the mean with its 95 % t-interval, and each
seed's value. ``change=key=value[+key=value...]`` also runs the recipe with that change at each
seed and prints the paired difference (change - recipe, same seed: same initial weights and batch
order) with its 95 % t-interval: the number the README's recipe table gives.

The data are the demo preset's cached sets (``make demo`` or ``python -m reidfw.synthetic
demo-data`` renders them); ``unlabeled=`` / ``market=`` take other folders, ``train=tracks`` the
tracks set (positives: another crop of the same track), ``train=market`` the retrieval set's own
train split (other people, the same six cameras). With ``mode=supervised`` (a cosine classifier
over the persons) these say what labels teach in the same loop: the references in the README
("MoCo in the demo", what labels teach). The README's tables were measured with this script.
"""
from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = dict(
    size="64,32", steps=250, every=125, batch=32, lr=0.03, wd=1e-4, tau=0.2, mom=0.9, queue=256, groups=2,
    projbn=1, neck="bn", model="iresnet18", positives="moment", crop=1.0, flip=0.5, jitter=0.0, down=0.0, erase=0.0,
    scene_batches=0, symmetric=0, mode="moco", train="unlabeled", unlabeled="", market="", tracks="", seed=0, seeds="", change="",
)


def _options(argv: list[str]) -> dict:
    o = dict(DEFAULTS)
    for kv in argv:
        key, _, value = kv.partition("=")
        if key not in o or not _:
            sys.exit(f"moco_recipe.py: unknown option {kv!r}; options are key=value with key one of {sorted(o)}")
        o[key] = type(o[key])(value)
    return o


def _demo_set(kind: str) -> Path:
    from reidfw.synthetic.cache import ensure_dataset
    from reidfw.synthetic.presets import synthetic_preset

    return ensure_dataset(kind, synthetic_preset("demo")[kind], ROOT / ".cache" / "reidfw")


def _training_set(o: dict, spec):
    """(model inputs (N, 3, H, W), person per crop, scene per crop)."""
    from reidfw.data.formats.image_io import read_image
    from reidfw.model_input import to_model_input

    if o["train"] == "market":  # the retrieval set's own train split: other people, the same six cameras
        from reidfw.data.formats.market import read_market_split

        ims = read_market_split(o["market"] or _demo_set("market"), "train")
        ids = {p: i for i, p in enumerate(sorted({m.pid for m in ims}))}
        cams = {c: i for i, c in enumerate(sorted({m.camera for m in ims}))}
        x = torch.stack([to_model_input(read_image(m.path), spec) for m in ims])
        return x, np.array([ids[m.pid] for m in ims]), np.array([cams[m.camera] for m in ims])
    if o["train"] == "tracks":
        from reidfw.data.formats.tracks import read_tracks

        crops = read_tracks(o["tracks"] or _demo_set("tracks"))
        ids = {t: i for i, t in enumerate(sorted({c.track_id for c in crops}))}
        cams = {c: i for i, c in enumerate(sorted({c.camera for c in crops}))}
        x = torch.stack([to_model_input(read_image(c.path), spec) for c in crops])
        return x, np.array([ids[c.track_id] for c in crops]), np.array([cams[c.camera] for c in crops])
    import json

    root = Path(o["unlabeled"] or _demo_set("unlabeled"))
    rows = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines() if line.strip()]
    x = torch.stack([to_model_input(read_image(root / r["path"]), spec) for r in rows])
    return x, np.array([r["person"] for r in rows]), np.array([r["scene"] for r in rows])


def _augment(x: torch.Tensor, o: dict) -> torch.Tensor:
    B, _, H, W = x.shape
    out = torch.empty_like(x)
    for i in range(B):
        area = random.uniform(o["crop"], 1.0)
        h = min(H, max(8, round(H * math.sqrt(area))))
        w = min(W, max(4, round(W * math.sqrt(area) * random.uniform(0.8, 1.25))))
        t, left = random.randint(0, H - h), random.randint(0, W - w)
        xi = F.interpolate(x[i : i + 1, :, t : t + h, left : left + w], size=(H, W), mode="bilinear", align_corners=False)
        if random.random() < o["flip"]:
            xi = xi.flip(-1)
        if o["down"] > 0 and random.random() < 0.5:  # fewer pixels on the person, as at a larger distance
            xi = F.interpolate(F.interpolate(xi, scale_factor=random.uniform(o["down"], 1.0), mode="area"),
                               size=(H, W), mode="bilinear", align_corners=False)
        if o["jitter"] > 0 and random.random() < 0.8:
            xi = xi * random.uniform(1 - o["jitter"], 1 + o["jitter"]) + random.uniform(-o["jitter"], o["jitter"])
        if o["erase"] > 0 and random.random() < o["erase"]:  # random erasing (fast-reid, LUPerson): 2-40 % of the area
            for _ in range(10):
                area, ratio = random.uniform(0.02, 0.4) * H * W, math.exp(random.uniform(math.log(0.3), math.log(3.3)))
                eh, ew = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
                if eh < H and ew < W:
                    t, left = random.randint(0, H - eh), random.randint(0, W - ew)
                    xi[:, :, t : t + eh, left : left + ew] = 0.0  # the normalisation mean
                    break
        out[i] = xi[0]
    return out


def _batches(person: np.ndarray, scene: np.ndarray, o: dict):
    n = len(person)
    while True:
        if o["scene_batches"]:  # consecutive batches from one scene: negatives share its background and light
            scenes = np.random.permutation(np.unique(scene))
            order = np.concatenate([np.random.permutation(np.nonzero(scene == s)[0]) for s in scenes])
        else:
            order = np.random.permutation(n)
        for s in range(0, n - o["batch"] + 1, o["batch"]):
            yield order[s : s + o["batch"]]


def main() -> None:
    o = _options(sys.argv[1:])
    changed = None
    if o["change"]:
        given = [kv for kv in o["change"].split("+") if kv]
        _options(given)  # the same check as the command line's (unknown keys end here)
        changed = {**o, **{kv.partition("=")[0]: _options([kv])[kv.partition("=")[0]] for kv in given}, "change": ""}
    if not o["seeds"] and changed is None:
        run(o)
        return
    seeds = [int(v) for v in (o["seeds"] or str(o["seed"])).split(",")]
    finals, finals_changed = [], []
    for seed in seeds:
        finals.append(run({**o, "seed": seed}))
        if changed is not None:
            finals_changed.append(run({**changed, "seed": seed}))
    untrained, trained = (np.array([f[k] for f in finals]) for k in (0, 1))
    print(f"over seeds {seeds}: val mAP {_mean_interval(trained)}  (each: {_each(trained)}); "
          f"untrained {_mean_interval(untrained)}", flush=True)
    if changed is not None:
        other = np.array([f[1] for f in finals_changed])
        print(f"with {o['change']}: val mAP {_mean_interval(other)}  (each: {_each(other)}); paired difference "
              f"{_mean_interval(other - trained, signed=True)}, lower at {int((other < trained).sum())} of {len(seeds)} seeds",
              flush=True)


def _each(v: np.ndarray) -> str:
    return ", ".join(f"{x:.3f}" for x in v)


def _mean_interval(v: np.ndarray, signed: bool = False) -> str:
    """Mean and 95 % t-interval of a few values (one per seed)."""
    from scipy import stats

    f = "+.3f" if signed else ".3f"
    if len(v) < 2:
        return f"{v.mean():{f}}"
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return f"{v.mean():{f}} [{v.mean() - half:{f}}, {v.mean() + half:{f}}]"


def run(o: dict) -> tuple[float, float]:
    """Train one recipe at ``o["seed"]``; (untrained val mAP, final val mAP)."""
    from reidfw.data.formats.image_io import read_image
    from reidfw.data.formats.market import read_market_split
    from reidfw.evaluation.retrieval import evaluate_retrieval
    from reidfw.losses.infonce import info_nce
    from reidfw.methods.moco import MoCoMethod
    from reidfw.methods.split_bn import set_num_splits
    from reidfw.model_input import to_model_input
    from reidfw.models import default_input_spec

    random.seed(o["seed"]), np.random.seed(o["seed"]), torch.manual_seed(o["seed"])
    spec = default_input_spec(o["model"], tuple(int(v) for v in o["size"].split(",")))
    x, person, scene = _training_set(o, spec)
    others = [np.nonzero(person == p)[0] for p in person]
    market = Path(o["market"] or _demo_set("market"))
    val = []
    for split in ("query", "gallery"):
        ims = read_market_split(market, split)
        val.append((torch.stack([to_model_input(read_image(m.path), spec) for m in ims]),
                    np.array([m.pid for m in ims]), np.array([m.camera for m in ims])))

    kwargs = {"neck": o["neck"]} if o["model"].startswith("reid_resnet") else {}  # iresnet's embedding ends in a BN already
    moco = MoCoMethod(backbone={"name": o["model"], "kwargs": kwargs}, input=spec.to_dict(), proj_dim=128,
                      proj_hidden=2048, queue_size=o["queue"], momentum=o["mom"], temperature=o["tau"],
                      split_bn_groups=o["groups"], proj_bn=bool(o["projbn"]),
                      optimizer={"name": "sgd", "lr": o["lr"], "momentum": 0.9, "weight_decay": o["wd"]})
    for encoder in (moco.backbone, moco.head_q, moco.backbone_k, moco.head_k):
        set_num_splits(encoder, o["groups"])
    classes = None
    if o["mode"] == "supervised":  # a cosine classifier over the persons: what their labels alone teach
        classes = torch.nn.Parameter(0.01 * torch.randn(int(person.max()) + 1, moco.embed_dim))
    params = [p for p in moco.parameters() if p.requires_grad] + ([classes] if classes is not None else [])
    opt = torch.optim.SGD(params, lr=o["lr"], momentum=0.9, weight_decay=o["wd"])

    @torch.no_grad()
    def validate() -> tuple[float, float]:
        moco.eval()
        qf, gf = (F.normalize(torch.cat([moco.backbone(v[0][i : i + 128]) for i in range(0, len(v[0]), 128)]), dim=1)
                  for v in val)
        r = evaluate_retrieval(qf.numpy(), val[0][1], val[0][2], gf.numpy(), val[1][1], val[1][2])
        strangers = torch.from_numpy(val[0][1][:, None] != val[1][1][None, :])
        moco.train()
        return r["mAP"], float((qf @ gf.T)[strangers].mean())

    print(f"options {o}")
    m_ap, imp = validate()
    untrained = m_ap
    print(f"step    0  val mAP {m_ap:.3f}  strangers' cosine {imp:+.3f}  (untrained)", flush=True)
    t0, batches, accs, losses = time.time(), _batches(person, scene, o), [], []
    moco.train()
    for step in range(1, o["steps"] + 1):
        for g in opt.param_groups:
            g["lr"] = o["lr"] * 0.5 * (1 + math.cos(math.pi * (step - 1) / o["steps"]))
        idx = next(batches)
        if o["positives"] == "moment":  # another crop of the same person (itself when it has none)
            pos = [int(np.random.choice(c[c != i])) if len(c) > 1 else int(i) for i, c in ((i, others[i]) for i in idx)]
        else:
            pos = list(idx)
        x1, x2 = _augment(x[idx], o), _augment(x[pos], o)
        if o["mode"] == "supervised":
            f = moco.backbone(torch.cat([x1, x2]))
            y = torch.as_tensor(np.concatenate([person[idx], person[pos]]))
            logits = 16.0 * F.normalize(f, dim=1) @ F.normalize(classes, dim=1).T
            loss, acc = F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()
            keys = None
        else:
            q = moco.encode_query(x1)
            moco.momentum_update()
            _, keys = moco.compute_keys(x2)
            k = keys
            loss, logits, _ = info_nce(q, k, moco.queue.keys.clone(), tau=o["tau"])
            acc = (logits.argmax(1) == 0).float().mean()
            if o["symmetric"]:  # MoCo v3's symmetrised loss: each view is also the other's key (twice a step's cost)
                _, keys_1 = moco.compute_keys(x1)
                loss_2, _, _ = info_nce(moco.encode_query(x2), keys_1, moco.queue.keys.clone(), tau=o["tau"])
                loss = (loss + loss_2) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        if keys is not None:
            moco.queue.enqueue(keys)
        losses.append(float(loss.detach()))
        accs.append(float(acc))
        if step % o["every"] == 0 or step == o["steps"]:
            m_ap, imp = validate()
            print(f"step {step:4d}  val mAP {m_ap:.3f}  strangers' cosine {imp:+.3f}  loss {np.mean(losses[-50:]):.2f}  "
                  f"train acc {np.mean(accs[-50:]):.2f}  ({time.time() - t0:.0f} s)", flush=True)
    return untrained, m_ap


if __name__ == "__main__":
    main()
