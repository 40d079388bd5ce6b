"""Export a checkpoint: `python export.py ckpt_path=.../best.ckpt format=onnx` (or format=torchscript)."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config extends (and ${run_name:})


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.export import export

    run_or_exit(export, cfg)


if __name__ == "__main__":
    main()
