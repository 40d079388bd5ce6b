"""Evaluate a checkpoint on its data: `python eval.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt`."""

import sys

import hydra
from omegaconf import DictConfig

from inception_tl.errors import InceptionTLError
from inception_tl.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except InceptionTLError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
