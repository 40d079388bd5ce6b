"""Classify images with a checkpoint: `python predict.py ckpt_path=.../best.ckpt input=PATH_OR_FOLDER`."""

import sys

import hydra
from omegaconf import DictConfig

from inception_tl.errors import InceptionTLError
from inception_tl.predict import predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        predict(cfg)
    except InceptionTLError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
