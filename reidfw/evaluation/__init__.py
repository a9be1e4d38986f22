"""Evaluation: crops -> embeddings -> the paper's condition matrices, Market-1501 retrieval, verification.

embed.py         images (+ box, + optional person mask) -> L2-normalised float32 features
study.py         per-factor condition x condition similarity matrices and their summary metrics
heatmap.py       annotated heatmaps (the paper's Fig 6-11), side by side on a shared scale
retrieval.py     Market-1501 mAP / CMC / mINP: exact over the whole gallery, or over faiss' top k
match_ranks.py   the exact metrics by counting each true match's rank, in query chunks under a memory budget
rerank.py        k-reciprocal re-ranking in sparse form (memory ~ (Q+G) k)
gallery_index.py faiss indexes (exact or approximate) for galleries searched top-k only
verification.py  ROC / precision-recall, TAR@FAR, precision@recall
pipeline.py      one model through all of it (files under out_dir), and a comparison of several
command.py       what ``python evaluate.py`` does (its MLflow run: reidfw.mlflow_logging.evaluation_run)
attribution.py   one pair's cosine split over its feature-map cells (exact: GAP, GAP + BN neck, FC head; else approximate)
attribution_figure.py, attribution_study.py   the paper's Fig 12: a pair's maps; every factor of a study
orientation_study.py   the orientation factors with and without canonicalisation, side by side
pair_verdict.py  one cosine against the model's impostor pairs and a FAR threshold (``reidfw.compare``)

Submodules are imported on use, so ``import reidfw.evaluation`` stays light.
"""
