"""Export a checkpoint: `python export.py ckpt_path=.../best.ckpt format=onnx` (or format=torchscript)."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.run_name import register_run_name

register_run_name()  # ${run_name:}, the run folder's name


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.export import export

    run_or_exit(export, cfg)


if __name__ == "__main__":
    main()
