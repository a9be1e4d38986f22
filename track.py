"""Turn a camera's video into training tracks: ``python track.py video=/path/clip.mp4 out=/data/my_tracks``.

Detect -> track (ByteTrack) -> curate -> ``tracks.csv`` + crops that ``train.py data.train_root=...``
reads. Options: conf/track.yaml (``python track.py --cfg job`` lists them); the run is logged to
MLflow and can be stopped and continued (run the same command again).
"""
import sys

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="track", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from reidfw.video_tracking.command import run_tracking

    code = run_tracking(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
