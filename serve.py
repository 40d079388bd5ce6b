"""Serve a model: `python serve.py ckpt_path=.../best.ckpt` (or an exported folder, or hf-hub:user/name); a page at
http://127.0.0.1:8000/, POST /predict, GET /health."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config extends (and ${run_name:})


@hydra.main(version_base="1.3", config_path="conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.serve import serve

    run_or_exit(serve, cfg)


if __name__ == "__main__":
    main()
