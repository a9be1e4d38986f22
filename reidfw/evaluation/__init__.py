"""Evaluation: crops -> embeddings -> the paper's condition matrices, Market-1501 retrieval, verification.

embed.py         images (+ box, + optional person mask) -> L2-normalised float32 features
study.py         per-factor condition x condition similarity matrices and their summary metrics
heatmap.py       annotated heatmaps (the paper's Fig 6-11), side by side on a shared scale
retrieval.py     Market-1501 mAP / CMC / mINP, faiss with a numpy reference
verification.py  ROC / precision-recall, TAR@FAR, precision@recall
pipeline.py      one model through all of it (files under out_dir), and a comparison of several
command.py       what ``python evaluate.py`` does (its MLflow run: reidfw.mlflow_logging.evaluation_run)

Submodules are imported on use, so ``import reidfw.evaluation`` stays light.
"""
