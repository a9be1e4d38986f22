"""Train a Re-ID embedding model: ``python train.py loss=arcface margin=0.5``.

Sweeps: ``python train.py -m margin=0.3,0.5,0.7`` (one MLflow run each).
Everything else lives in ``conf/`` and ``reidfw/training/run.py``.
"""
import hydra
from omegaconf import DictConfig

from reidfw.cli import one_line_errors, run_main


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
@one_line_errors  # a user's mistake: one line "error: ...", exit code 2
def main(cfg: DictConfig) -> float | None:
    from reidfw.training.run import train

    result = train(cfg)
    return result.best_score  # lets Hydra sweepers optimise val/mAP


if __name__ == "__main__":
    run_main(main, "train.py")  # an unknown key: one line too, not Hydra's report
