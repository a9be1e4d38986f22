"""Evaluate embedding checkpoints: study heatmaps, Market-1501 retrieval and verification, MLflow.

    python evaluate.py ckpt=PATH                  (see conf/evaluate.yaml for every option)
    python evaluate.py ckpt=[a.ckpt,b.ckpt]       side by side on one colour scale
"""
import sys

import hydra
from omegaconf import DictConfig

from reidfw.cli import one_line_errors, run_main


@hydra.main(config_path="conf", config_name="evaluate", version_base="1.3")
@one_line_errors  # a user's mistake: one line "error: ...", exit code 2
def main(cfg: DictConfig) -> None:
    from reidfw.evaluation.command import run_evaluation

    code = run_evaluation(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    run_main(main, "evaluate.py")  # an unknown key: one line too, not Hydra's report
