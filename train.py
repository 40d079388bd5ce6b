"""Fine-tune an Inception backbone: `python train.py backbone=inception_v4 data=horse_human`."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config groups extend


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.train import run

    metrics = run_or_exit(run, cfg)
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
