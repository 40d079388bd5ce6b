"""Fine-tune an Inception backbone: `python train.py backbone=inception_v4 data=horse_human`."""

import sys

import hydra
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from inception_tl.errors import InceptionTLError
from inception_tl.train import run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = run(cfg)
    except InceptionTLError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(1)
    except SIGTERMException:
        sys.exit(143)  # the shell's code for "terminated by SIGTERM"; last.ckpt was saved
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
