"""Evaluation speed: is the data path or the network the bottleneck, and how fast are the metrics?

1. Embedding: images/s through the whole pipeline (read + decode, crop, letterbox
   in DataLoader workers; normalise + forward on the device) versus forward-only on
   the same, already decoded batches. The ratio should be >= 0.9: below that the
   workers do not keep the device busy (raise --workers; see reidfw/evaluation/embed.py).
2. Retrieval metrics at Market-1501 scale (3,368 queries x 15,913 gallery, 2048-d,
   ~750 identities over 6 cameras, random embeddings): faiss versus the numpy
   brute-force reference, full ranking and top-100.

    .venv/bin/python benchmarks/eval_throughput.py                 # both parts
    .venv/bin/python benchmarks/eval_throughput.py --skip-retrieval --images 1024 --workers 4
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _cpu_seconds() -> float:
    """CPU time of this process plus finished children (DataLoader workers exit after each pass)."""
    import resource

    own = time.process_time()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + ch.ru_utime + ch.ru_stime


def _make_images(folder: Path, n: int, rng) -> list:
    """Photos larger than the model input with a person box, as in the study (a crop, then a letterbox)."""
    from reidfw.data.formats.image_io import write_image
    from reidfw.evaluation.embed import CropItem

    items = []
    for i in range(n):
        h, w = int(rng.integers(300, 420)), int(rng.integers(160, 240))
        img = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        p = folder / f"{i:05d}.jpg"
        write_image(p, img)
        bw, bh = int(w * 0.6), int(h * 0.8)
        items.append(CropItem(p, (float(rng.integers(0, w - bw)), float(rng.integers(0, h - bh)), float(bw), float(bh))))
    return items


def bench_embedding(args) -> None:
    from reidfw.evaluation.embed import Embedder
    from reidfw.checkpoints import make_model_spec
    from reidfw.models import build_backbone, default_input_spec

    rng = np.random.default_rng(0)
    H, W = args.img_size
    model = build_backbone(args.model, img_size=(H, W))
    spec = make_model_spec(method="moco", backbone={"name": args.model}, embed_dim=int(model.embed_dim),
                           input_spec=default_input_spec(args.model, (H, W)))
    emb = Embedder(model, spec, device=args.device, batch_size=args.batch_size, num_workers=args.workers,
                   channels_last=args.channels_last, amp=args.amp)
    with tempfile.TemporaryDirectory() as tmp:
        items = _make_images(Path(tmp), args.images, rng)
        # warm-up (first-call allocations, cudnn autotune, worker start-up excluded from both timings)
        emb.embed(items[: args.batch_size])
        batches = list(emb.loader(items))  # the same decoded batches for forward-only

        def sync():
            if emb.device.type == "cuda":
                torch.cuda.synchronize()

        def forward_only():
            sync()
            t0, c0 = time.perf_counter(), _cpu_seconds()
            for b in batches:
                emb.forward_batch(b)
            sync()
            return time.perf_counter() - t0, _cpu_seconds() - c0

        def whole():
            t0, c0 = time.perf_counter(), _cpu_seconds()
            emb.embed(items)
            sync()
            return time.perf_counter() - t0, _cpu_seconds() - c0

        def data_only():
            t0 = time.perf_counter()
            for _ in emb.loader(items):
                pass
            return time.perf_counter() - t0

        # Interleaved repeats, best of each: on a shared machine the other load comes and goes.
        fwd, full = [], []
        for _ in range(args.repeats):
            fwd.append(forward_only())
            full.append(whole())
        t_fwd, t_full = min(w for w, _ in fwd), min(w for w, _ in full)
        c_fwd, c_full = min(c for _, c in fwd), min(c for _, c in full)
        t_data = data_only()
    n = len(items)
    print(f"embedding  model={args.model} input={H}x{W} device={emb.device} batch={args.batch_size} "
          f"workers={emb.num_workers} images={n} torch_threads={torch.get_num_threads()}")
    print(f"  data path only (read..letterbox): {n / t_data:8.1f} img/s")
    print(f"  forward only (decoded batches): {n / t_fwd:8.1f} img/s")
    print(f"  whole pipeline (read..forward): {n / t_full:8.1f} img/s")
    print(f"  ratio whole/forward-only      : {t_fwd / t_full:8.3f}  (target >= 0.9; wall clock, best of {args.repeats})")
    print(f"  CPU seconds (incl. workers)   : forward-only {c_fwd:.2f}, whole {c_full:.2f} "
          f"(the data path's share of the compute; on a shared CPU box wall time is noisy)")


def bench_retrieval(args) -> None:
    import faiss

    from reidfw.evaluation.retrieval import evaluate_retrieval

    rng = np.random.default_rng(0)
    nq, ng, d, ids = 3368, 15913, 2048, 750
    centers = rng.normal(size=(ids + 1, d)).astype(np.float32)
    g_pids = rng.integers(1, ids + 1, size=ng)
    g_pids[:2798] = 0  # Market's test set has 2,798 distractors ...
    g_pids[2798:2798 + 3819] = -1  # ... and 3,819 junk images
    q_pids = rng.integers(1, ids + 1, size=nq)
    g_cams, q_cams = rng.integers(1, 7, size=ng), rng.integers(1, 7, size=nq)
    gf = centers[np.maximum(g_pids, 0)] + 4.0 * rng.normal(size=(ng, d)).astype(np.float32)
    qf = centers[q_pids] + 4.0 * rng.normal(size=(nq, d)).astype(np.float32)
    gf /= np.linalg.norm(gf, axis=1, keepdims=True)
    qf /= np.linalg.norm(qf, axis=1, keepdims=True)
    print(f"retrieval  {nq} queries x {ng} gallery, {d}-d, {ids} ids, 6 cameras; faiss {faiss.__version__}, "
          f"GPUs seen by faiss: {getattr(faiss, 'get_num_gpus', lambda: 0)()}, faiss threads {faiss.omp_get_max_threads()}")
    for topk in (None, 100):
        for use_faiss in (True, False):
            t0 = time.perf_counter()
            r = evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, topk=topk, use_faiss=use_faiss)
            dt = time.perf_counter() - t0
            print(f"  topk={str(topk):>4} use_faiss={use_faiss!s:<5} (ran {r['ranker']:<5}): {dt:7.2f} s   "
                  f"mAP {r['mAP']:.4f} rank1 {r['rank1']:.4f} mINP {r['mINP']:.4f} ({r['skipped_queries']} skipped)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18", help="any backbone build_backbone knows (small by default)")
    ap.add_argument("--img-size", type=int, nargs=2, default=[384, 128], metavar=("H", "W"))
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: 0 on a CPU device, cores - 1 (at most 8) on a GPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best time of each is kept")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--skip-embedding", action="store_true")
    ap.add_argument("--skip-retrieval", action="store_true")
    args = ap.parse_args()
    if not args.skip_embedding:
        bench_embedding(args)
    if not args.skip_retrieval:
        bench_retrieval(args)


if __name__ == "__main__":
    main()
