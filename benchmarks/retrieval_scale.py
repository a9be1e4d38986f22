"""Retrieval at any gallery size: reidfw's exact evaluator next to the GEMM floor and torchreid's.

Every evaluator runs in a fresh subprocess on the same features (saved once to a temporary
folder), so its time and peak memory are its own. Peak = the process' highest resident memory
during the evaluation minus its resident memory just before (features loaded, libraries
warmed up): memory *above the input features*. Times are wall clock, the best of --repeats,
and include the distance computation for every evaluator.

1. Exact metrics at Market-1501 scale (3,368 x 15,913) and MSMT17 scale (11,659 x 82,161),
   2048-d, random-but-structured features: identities seen by 2-6 cameras each, look-alike
   identity groups, a per-camera bias, per-identity noise; junk (pid -1, ignored) and
   distractors (pid 0, negatives) in the gallery. Columns:
   - gemm            ``q @ g.T`` alone, in the same 1,024-query chunks reidfw uses, through numpy's
                     BLAS (OpenBLAS) and torch's (MKL); the faster is the floor;
   - reidfw          ``evaluate_retrieval`` (default budget, 2 GB) and with --small-budget-gb;
   - torchreid cy    torchreid's ``evaluate_rank`` on its compiled ``rank_cy`` path;
   - torchreid py    the same with ``use_cython=False``;
   torchreid gets the junk-free gallery (its data loaders drop junk) and the full distance
   matrix ``1 - q @ g.T`` it needs, computed with torch as its ``compute_distance_matrix`` does. Its MSMT17-scale runs need ~20 GB and are skipped, with
   the reason printed, when less is available.
2. Re-ranking at Market scale: reidfw's sparse k-reciprocal re-ranking + exact metrics, and
   torchreid's dense ``re_ranking`` (the authors' code) evaluated by the same exact evaluator;
   the mAP difference is printed.
3. --million: a 1,000,000-image gallery (512-d synthetic embeddings, generated chunk by
   chunk straight into each index) and 10,000 queries: top-100 through faiss' exact flat
   index and approximate IVF-PQ indexes; recall@100 of each approximate one against the
   exact top 100; mAP / CMC / mINP over the top 100 (``metrics_from_ranking``: a match
   outside the top 100 counts as not found, so mAP and mINP are lower bounds; CMC rank-n is
   exact for n up to the valid images in the list).

With CUDA present, reidfw and the GEMM floor also run on the GPU (peak = GPU memory
allocated); without, a line says the GPU figures were skipped.

torchreid's compiled evaluator is not in its pip package; build it from the source (outside
this repository) and point TORCHREID_SRC (or --torchreid-src) at the folder:

    SRC=<a checkout of github.com/KaiyangZhou/deep-person-reid>; D=/work/scratch/torchreid
    mkdir -p $D/torchreid/metrics/rank_cylib $D/torchreid/utils
    cp $SRC/torchreid/metrics/rank.py $D/torchreid/metrics/
    cp $SRC/torchreid/metrics/rank_cylib/rank_cy.pyx $D/torchreid/metrics/rank_cylib/
    cp $SRC/torchreid/utils/rerank.py $D/torchreid/utils/
    touch $D/torchreid/__init__.py $D/torchreid/metrics/__init__.py \\
          $D/torchreid/metrics/rank_cylib/__init__.py $D/torchreid/utils/__init__.py
    cd $D/torchreid/metrics/rank_cylib && cythonize -i -3 rank_cy.pyx   # needs Cython + numpy headers

    TORCHREID_SRC=/work/scratch/torchreid .venv/bin/python benchmarks/retrieval_scale.py
    .venv/bin/python benchmarks/retrieval_scale.py --scales market --no-rerank      # quick
    .venv/bin/python benchmarks/retrieval_scale.py --million                        # the 1M gallery only
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCALES = {
    # name: queries, gallery, dim, identities, cameras, distractors, junk (Market-1501's own counts;
    # MSMT17 has neither junk nor distractors: a few thousand are added to exercise the rules)
    "market": dict(nq=3368, ng=15913, d=2048, ids=750, cams=6, distractors=2798, junk=3819),
    "msmt17": dict(nq=11659, ng=82161, d=2048, ids=3060, cams=15, distractors=4000, junk=2000),
}
NOISE = 2.6  # per-image noise: Market-scale mAP ~0.8, like a good model
TORCHREID_GB = {"market": 2.0, "msmt17": 20.0}  # what torchreid's evaluators need (measured: ~18 GB at MSMT17)
DENSE_RERANK_GB = 8.0


# --- features --------------------------------------------------------------------------------------


def structured_features(nq, ng, d, ids, cams, distractors, junk, *, noise=NOISE, seed=0, chunk=8192, out=None):
    """Random-but-structured L2-normalised features and Market-style labels.

    Identity i: a center shared 0.6 with its look-alike group of ~10 identities; image =
    center + 0.35 x camera bias + noise (per-identity scale), normalised. Each identity is
    seen by 2-6 cameras; queries and gallery pick among those. Distractors are people outside
    the test identities (pid 0); junk (pid -1) are poor crops: half a center, 1.5x the noise.
    ``out``: a folder to write qf.npy / gf.npy into (memory-mapped, never all in RAM at once).
    """
    rng = np.random.default_rng(seed)
    scale = np.float32(1 / np.sqrt(d))

    def unit(n):
        return rng.standard_normal((n, d), dtype=np.float32) * scale

    people = ids + distractors
    groups = unit(max(1, ids // 10))
    centers = 0.6 * groups[rng.integers(0, len(groups), size=people)] + 0.8 * unit(people)
    cam_bias = unit(cams + 1)
    sigma = (noise * rng.uniform(0.7, 1.3, size=people)).astype(np.float32)
    cam_sets = [rng.choice(np.arange(1, cams + 1), size=k, replace=False) for k in rng.integers(2, min(cams, 6) + 1, size=ids)]

    def cams_of(pids):
        return np.array([cam_sets[p - 1][rng.integers(len(cam_sets[p - 1]))] for p in pids], np.int64)

    q_pids = rng.integers(1, ids + 1, size=nq)
    q_cams = cams_of(q_pids)
    n_lab = ng - distractors - junk
    g_pids = np.concatenate([rng.integers(1, ids + 1, size=n_lab), np.zeros(distractors, np.int64), -np.ones(junk, np.int64)])
    g_cams = np.concatenate([cams_of(g_pids[:n_lab]), rng.integers(1, cams + 1, size=distractors + junk)])
    person = np.concatenate([g_pids[:n_lab] - 1, ids + np.arange(distractors), rng.integers(0, people, size=junk)])
    perm = rng.permutation(ng)
    g_pids, g_cams, person = g_pids[perm], g_cams[perm], person[perm]

    def features(path, who, cam, is_junk):
        f_all = (np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(who), d))
                 if path is not None else np.empty((len(who), d), np.float32))
        for s in range(0, len(who), chunk):
            p, c, j = who[s : s + chunk], cam[s : s + chunk], is_junk[s : s + chunk]
            a = np.where(j, 0.5, 1.0).astype(np.float32)[:, None]
            b = (sigma[p] * np.where(j, 1.5, 1.0)).astype(np.float32)[:, None]
            f = a * centers[p] + 0.35 * cam_bias[c] + b * unit(len(p))
            f /= np.linalg.norm(f, axis=1, keepdims=True)
            f_all[s : s + chunk] = f
        if path is not None:
            f_all.flush()
            del f_all
            return None
        return f_all

    qf = features(out / "qf.npy" if out else None, q_pids - 1, q_cams, np.zeros(nq, bool))
    gf = features(out / "gf.npy" if out else None, person, g_cams, g_pids == -1)
    return qf, q_pids, q_cams, gf, g_pids, g_cams


# --- measurement inside a worker --------------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Reset the kernel's high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _measure(fn, repeats: int, gpu: bool = False) -> dict:
    import gc

    import torch

    gc.collect()
    base = _status_kb("VmRSS")
    _reset_peak()
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated()
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    out = {"seconds": min(times), "all_seconds": times, "peak_gb": (_status_kb("VmHWM") - base) / 2**20,
           "input_gb": None, "result": result}
    if gpu:
        out["gpu_peak_gb"] = (torch.cuda.max_memory_allocated() - gpu_base) / 2**30
    return out


def _load(data: Path, junk_free: bool = False):
    lab = np.load(data / "labels.npz")
    qf = np.load(data / "qf.npy")
    gf = np.load(data / ("gf_nojunk.npy" if junk_free else "gf.npy"))
    g_pids, g_cams = lab["g_pids"], lab["g_cams"]
    if junk_free:
        keep = g_pids != -1
        g_pids, g_cams = g_pids[keep], g_cams[keep]
    return qf, lab["q_pids"], lab["q_cams"], gf, g_pids, g_cams


def _metrics(r: dict) -> dict:
    return {k: float(r[k]) for k in ("mAP", "rank1", "rank5", "rank10", "mINP") if k in r}


def run_worker(args) -> dict:
    import torch

    from reidfw.evaluation.retrieval import evaluate_retrieval

    data, name = Path(args.data), args.worker
    gpu = name.endswith("_gpu")
    dev = "cuda" if gpu else "cpu"
    junk_free = name.startswith("torchreid") or name == "rerank_dense"
    qf, q_pids, q_cams, gf, g_pids, g_cams = _load(data, junk_free)
    input_gb = (qf.nbytes + gf.nbytes) / 2**30
    # warm-up on a slice: kernels loaded, thread pools started (not part of the measurement)
    evaluate_retrieval(qf[:64], q_pids[:64], q_cams[:64], gf[:4096], g_pids[:4096], g_cams[:4096], device=dev)

    if name == "gemm":

        def fn():  # numpy's BLAS (OpenBLAS): what reidfw's CPU path multiplies with
            buf = np.empty((1024, len(gf)), np.float32)
            for s in range(0, len(qf), 1024):
                qq = qf[s : s + 1024]
                np.matmul(qq, gf.T, out=buf[: len(qq)])
            return {}
    elif name.startswith("gemm"):  # gemm_torch (MKL on a CPU: torchreid's distance), gemm_gpu
        q, g = torch.from_numpy(qf).to(dev), torch.from_numpy(gf).to(dev)

        def fn():
            buf = torch.empty((1024, len(g)), device=dev)
            for s in range(0, len(q), 1024):
                qq = q[s : s + 1024]
                torch.mm(qq, g.T, out=buf[: len(qq)])
            return {}
    elif name.startswith("reidfw"):
        budget = args.small_budget_gb if name.startswith("reidfw_small") else None

        def fn():
            return _metrics(evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, memory_gb=budget, device=dev))
    elif name.startswith("torchreid"):
        sys.path.insert(0, args.torchreid_src)
        from torchreid.metrics import rank as tr_rank

        use_cython = name == "torchreid_cy"
        if use_cython and not tr_rank.IS_CYTHON_AVAI:
            return {"skipped": f"rank_cy is not built under {args.torchreid_src}"}

        def fn():
            dist = torch.mm(torch.from_numpy(qf), torch.from_numpy(gf).T)
            dist.neg_().add_(1)  # cosine distance, in place (torchreid's metric='cosine')
            cmc, mAP = tr_rank.evaluate_rank(dist.numpy(), q_pids, g_pids, q_cams, g_cams, max_rank=50, use_cython=use_cython)
            return {"mAP": float(mAP), "rank1": float(cmc[0]), "rank5": float(cmc[4]), "rank10": float(cmc[9])}
    elif name == "rerank":
        from reidfw.evaluation.rerank import evaluate_reranked

        def fn():
            return _metrics(evaluate_reranked(qf, q_pids, q_cams, gf, g_pids, g_cams, device=dev))
    elif name == "rerank_dense":
        sys.path.insert(0, args.torchreid_src)
        from torchreid.utils.rerank import re_ranking

        from reidfw.evaluation.retrieval import exact_retrieval

        def fn():
            q, g = torch.from_numpy(qf), torch.from_numpy(gf)
            final = re_ranking((1 - q @ g.T).numpy(), (1 - q @ q.T).numpy(), (1 - g @ g.T).numpy(), k1=20, k2=6, lambda_value=0.3)
            scores = lambda s, e, out: out[: e - s].copy_(torch.from_numpy(final[s:e])).neg_()  # noqa: E731
            return _metrics(exact_retrieval(None, q_pids, q_cams, None, g_pids, g_cams, scores=scores))
    else:
        raise SystemExit(f"unknown worker {name}")
    out = _measure(fn, args.repeats, gpu=gpu)
    out["input_gb"] = input_gb
    return out


# --- the million-image gallery ---------------------------------------------------------------------

MILLION = dict(ng=1_000_000, nq=10_000, d=512, ids=100_000, cams=8, k=100, noise=1.9)


def _million(args) -> dict:
    ng = args.million_gallery
    return {**MILLION, "ng": ng, "nq": args.million_queries, "ids": max(1, ng * MILLION["ids"] // MILLION["ng"])}


def million_labels(m, seed=1):
    rng = np.random.default_rng(seed)
    g_pids = np.arange(m["ng"]) % m["ids"] + 1
    g_cams = rng.integers(1, m["cams"] + 1, size=m["ng"])
    q_pids = rng.integers(1, m["ids"] + 1, size=m["nq"])
    q_cams = rng.integers(1, m["cams"] + 1, size=m["nq"])
    return q_pids, q_cams, g_pids, g_cams


def million_chunks(m, seed=1, chunk=50_000):
    """A generator of the gallery's (start, features) chunks and a function for the queries; same numbers on every call.

    As at Market scale: identities in look-alike groups of 10 (a shared 0.6 of the center), a
    camera bias, per-image noise; ~10 images per identity, so a query's top 100 is mostly its
    group -- the structure real embeddings have and approximate indexes rely on.
    """
    q_pids, q_cams, g_pids, g_cams = million_labels(m, seed)
    d = m["d"]
    scale = np.float32(1 / np.sqrt(d))
    rng = np.random.default_rng(seed + 1)
    groups = rng.standard_normal((m["ids"] // 10 + 1, d), dtype=np.float32) * scale
    centers = 0.6 * groups[np.arange(m["ids"] + 1) // 10] + 0.8 * rng.standard_normal((m["ids"] + 1, d), dtype=np.float32) * scale
    cam_bias = rng.standard_normal((m["cams"] + 1, d), dtype=np.float32) * scale

    def make(pids, cams, start, part):
        r = np.random.default_rng([seed, part, start])
        f = centers[pids] + 0.35 * cam_bias[cams] + m["noise"] * scale * r.standard_normal((len(pids), d), dtype=np.float32)
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    def gallery():
        for s in range(0, m["ng"], chunk):
            yield s, make(g_pids[s : s + chunk], g_cams[s : s + chunk], s, 0)

    def queries():
        return make(q_pids, q_cams, 0, 1)

    return gallery, queries


def run_million_worker(args) -> dict:
    import faiss

    from reidfw.evaluation.gallery_index import build_index, search

    m = _million(args)
    gallery, queries = million_chunks(m)
    qf = queries()
    base = _status_kb("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    index = build_index(args.worker, m["d"], gallery(), train_size=args.train_size, nprobe=args.nprobe,
                        refine_factor=args.refine_factor, log=lambda msg: print(f"    [{args.worker}] {msg}", flush=True))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ranking = search(index, qf, m["k"], log=lambda msg: print(f"    [{args.worker}] {msg}", flush=True))
    t_search = time.perf_counter() - t0
    np.save(Path(args.data) / f"ranking_{args.tag}.npy", ranking)
    return {"build_seconds": t_build, "search_seconds": t_search, "peak_gb": (_status_kb("VmHWM") - base) / 2**20,
            "index_gb": _index_bytes(index, faiss) / 2**30, "gpu": bool(getattr(faiss, "get_num_gpus", lambda: 0)())}


def _index_bytes(index, faiss) -> int:
    """Bytes the index holds, by serialising it (codes, centroids, raw vectors when kept)."""
    try:
        return int(faiss.serialize_index(faiss.index_gpu_to_cpu(index) if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__ else index).nbytes)
    except Exception:  # noqa: BLE001 -- a size is a courtesy; never fail the benchmark for it
        return 0


# --- the parent: orchestration and the table ---------------------------------------------------------


def _available_gb() -> float:
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def _spawn(args, worker: str, data: Path, extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", worker, "--data", str(data), "--repeats", str(args.repeats_for),
           "--small-budget-gb", str(args.small_budget_gb), "--torchreid-src", args.torchreid_src or "",
           "--train-size", str(args.train_size), "--nprobe", str(args.nprobe), "--refine-factor", str(args.refine_factor),
           "--million-gallery", str(args.million_gallery), "--million-queries", str(args.million_queries),
           *(extra or [])]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    for ln in p.stdout.splitlines():
        if not ln.startswith("RESULT "):
            print(ln)
    if p.returncode != 0 or not lines:
        return {"skipped": f"worker failed (exit {p.returncode})"}
    return json.loads(lines[-1][len("RESULT ") :])


def bench_scale(args, scale: str) -> list[tuple[str, dict]]:
    import torch

    cfg = SCALES[scale]
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix=f"reidfw-bench-{scale}-", dir=args.tmp) as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        _, q_pids, q_cams, _, g_pids, g_cams = structured_features(**cfg, out=data)
        np.savez(data / "labels.npz", q_pids=q_pids, q_cams=q_cams, g_pids=g_pids, g_cams=g_cams)
        gf = np.load(data / "gf.npy", mmap_mode="r")
        keep = np.flatnonzero(g_pids != -1)
        out = np.lib.format.open_memmap(data / "gf_nojunk.npy", mode="w+", dtype=np.float32, shape=(len(keep), cfg["d"]))
        for s in range(0, len(keep), 8192):
            out[s : s + 8192] = gf[keep[s : s + 8192]]
        out.flush()
        del out, gf
        print(f"\n== {scale} scale: {cfg['nq']:,} queries x {cfg['ng']:,} gallery ({cfg['junk']:,} junk, "
              f"{cfg['distractors']:,} distractors), {cfg['d']}-d, {cfg['ids']:,} identities over {cfg['cams']} cameras "
              f"(features written in {time.perf_counter() - t0:.1f} s)", flush=True)
        args.repeats_for = args.repeats if scale == "market" else 1
        workers = ["gemm", "gemm_torch", "reidfw", "reidfw_small"]
        if args.torchreid_src:
            workers += ["torchreid_cy", "torchreid_py"]
        if scale == "market" and not args.no_rerank:
            workers += ["rerank"] + (["rerank_dense"] if args.torchreid_src else [])
        if torch.cuda.is_available():
            workers += ["gemm_gpu", "reidfw_gpu"]
        workers = [w for w in workers if w not in (args.skip or [])]
        for w in workers:
            need = TORCHREID_GB[scale] if w.startswith("torchreid") else DENSE_RERANK_GB if w == "rerank_dense" else 0
            avail = _available_gb()
            if need and avail < need:
                rows.append((w, {"skipped": f"not measured: needs ~{need:.0f} GB, {avail:.1f} GB available now"}))
                print(f"  {w}: {rows[-1][1]['skipped']}", flush=True)
                continue
            print(f"  running {w} ...", flush=True)
            rows.append((w, _spawn(args, w, data)))
    if not args.torchreid_src:
        print("  torchreid: skipped (set TORCHREID_SRC or --torchreid-src to a folder with torchreid/metrics built; "
              "see this script's docstring)")
    if not torch.cuda.is_available():
        print("  GPU: skipped (no CUDA device here); with one, reidfw and the GEMM floor also run on it")
    _print_table(scale, rows)
    return rows


LABELS = {
    "gemm": "GEMM q @ g.T chunked, numpy/OpenBLAS",
    "gemm_torch": "GEMM q @ g.T chunked, torch/MKL",
    "reidfw": "reidfw exact (default budget 2 GB)",
    "reidfw_small": "reidfw exact (small budget)",
    "torchreid_cy": "torchreid evaluate_rank (rank_cy)",
    "torchreid_py": "torchreid evaluate_rank (Python)",
    "rerank": "reidfw + sparse k-reciprocal re-ranking",
    "rerank_dense": "torchreid dense re_ranking + exact eval",
    "gemm_gpu": "GEMM floor on the GPU",
    "reidfw_gpu": "reidfw exact on the GPU",
}


def _print_table(scale: str, rows: list[tuple[str, dict]]) -> None:
    res = dict(rows)
    # the floor: the faster of the two BLAS libraries at hand (numpy's OpenBLAS, torch's MKL)
    floors = [r["seconds"] for n, r in rows if n in ("gemm", "gemm_torch") and "seconds" in r]
    floor = min(floors) if floors else None
    print(f"\n  {scale}: {'evaluator':<42} {'seconds':>8} {'x floor':>8} {'peak GB':>8}   mAP      rank-1   mINP")
    for name, r in rows:
        label = LABELS.get(name, name)
        if "skipped" in r:
            print(f"    {label:<48} {r['skipped']}")
            continue
        m = r.get("result") or {}
        ratio = f"{r['seconds'] / floor:8.2f}" if floor and not name.endswith("_gpu") else f"{'':>8}"
        peak = r.get("gpu_peak_gb", r["peak_gb"])
        metrics = "  ".join(f"{m[k]:.6f}" if k in m else f"{'-':>8}" for k in ("mAP", "rank1", "mINP"))
        print(f"    {label:<48} {r['seconds']:8.2f} {ratio} {peak:8.2f}   {metrics}")
    ref = (res.get("reidfw") or {}).get("result") or {}
    for name in ("reidfw_small", "torchreid_cy", "torchreid_py", "reidfw_gpu"):
        other = (res.get(name) or {}).get("result") or {}
        if ref and other:
            diffs = {k: abs(ref[k] - other[k]) for k in ("mAP", "rank1", "rank5", "rank10", "mINP") if k in other}
            print(f"    |reidfw - {name}|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    a, b = (res.get("rerank") or {}).get("result"), (res.get("rerank_dense") or {}).get("result")
    if a and b:
        print(f"    re-ranking: |sparse - dense| mAP {abs(a['mAP'] - b['mAP']):.1e}, rank-1 {abs(a['rank1'] - b['rank1']):.1e}, "
              f"mINP {abs(a['mINP'] - b['mINP']):.1e}")
    reidfw, cy = res.get("reidfw"), res.get("torchreid_cy")
    if reidfw and cy and "seconds" in reidfw and "seconds" in cy:
        print(f"    reidfw is {cy['seconds'] / reidfw['seconds']:.1f}x faster than torchreid's compiled path")
    if reidfw and "seconds" in reidfw:
        print(f"    input features: {reidfw['input_gb']:.2f} GB (peaks above are beyond them)")


def bench_million(args) -> None:
    from reidfw.evaluation.retrieval import metrics_from_ranking

    m = _million(args)
    q_pids, q_cams, g_pids, g_cams = million_labels(m)
    print(f"\n== million-image gallery: {m['nq']:,} queries x {m['ng']:,} gallery, {m['d']}-d, {m['ids']:,} identities "
          f"x ~{m['ng'] // m['ids']} images, {m['cams']} cameras; top-{m['k']}", flush=True)
    args.repeats_for = 1
    results = {}
    with tempfile.TemporaryDirectory(prefix="reidfw-bench-million-", dir=args.tmp) as tmp:
        data = Path(tmp)
        for tag, factory in [("exact", "Flat")] + [(f"ann{i}", f) for i, f in enumerate(args.ann)]:
            print(f"  running {factory} ...", flush=True)
            r = _spawn(args, factory, data, ["--million-worker", "--tag", tag])
            if "skipped" not in r:
                r["ranking"] = np.load(data / f"ranking_{tag}.npy")
            results[tag] = (factory, r)
    exact = results["exact"][1].get("ranking")
    print(f"\n  {'index':<34} {'build s':>8} {'search s':>9} {'index GB':>9} {'peak GB':>8} {'recall@100':>10}   mAP@100  rank-1   mINP@100")
    for tag, (factory, r) in results.items():
        if "skipped" in r:
            print(f"    {factory:<32} {r['skipped']}")
            continue
        rk = r["ranking"]
        recall = float(np.mean([len(np.intersect1d(a, b)) for a, b in zip(rk, exact)]) / m["k"]) if exact is not None else float("nan")
        met = metrics_from_ranking(rk, q_pids, q_cams, g_pids, g_cams, topk=None)
        print(f"    {factory:<32} {r['build_seconds']:8.1f} {r['search_seconds']:9.1f} {r['index_gb']:9.2f} {r['peak_gb']:8.2f} "
              f"{recall:10.4f}   {met['mAP']:.4f}  {met['rank1']:.4f}  {met['mINP']:.4f}")
    print("    (metrics over the top 100 only: a match outside it counts as not found, so mAP and mINP are lower bounds)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["market", "msmt17"], choices=list(SCALES))
    ap.add_argument("--repeats", type=int, default=3, help="repeats at Market scale (best kept); MSMT17 scale runs once")
    ap.add_argument("--small-budget-gb", type=float, default=0.25, help="the smaller memory budget reidfw must obey")
    ap.add_argument("--torchreid-src", default=os.environ.get("TORCHREID_SRC"), help="folder holding torchreid/metrics (see above)")
    ap.add_argument("--no-rerank", action="store_true", help="skip the re-ranking rows")
    ap.add_argument("--skip", nargs="+", default=[], metavar="EVALUATOR",
                    help="evaluators to leave out, e.g. torchreid_py (its Python loop takes ~15 min at MSMT17 scale)")
    ap.add_argument("--million", action="store_true", help="run only the million-image gallery part")
    ap.add_argument("--ann", nargs="+", default=["IVF1024,PQ64", "IVF1024,PQ64,RFlat"], help="approximate faiss index factories")
    ap.add_argument("--nprobe", type=int, default=32)
    ap.add_argument("--refine-factor", type=int, default=4, help="candidates re-scored exactly per result (RFlat indexes)")
    ap.add_argument("--train-size", type=int, default=100_000, help="gallery vectors the approximate indexes train on")
    ap.add_argument("--million-gallery", type=int, default=MILLION["ng"], help="gallery size of the --million part")
    ap.add_argument("--million-queries", type=int, default=MILLION["nq"], help="queries of the --million part")
    ap.add_argument("--tmp", default=None, help="where the features are written (default: the system's temp folder)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--million-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tag", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        res = run_million_worker(args) if args.million_worker else run_worker(args)
        print("RESULT " + json.dumps(res), flush=True)
        return
    if args.million:
        bench_million(args)
        return
    for scale in args.scales:
        bench_scale(args, scale)


if __name__ == "__main__":
    main()
