"""Evaluate a checkpoint on its data: `python eval.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt`."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config groups extend


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.evaluate import evaluate

    run_or_exit(evaluate, cfg)


if __name__ == "__main__":
    main()
