"""The learning-rate range test: `python lr_find.py experiment=quickstart lr_find.phase=full`."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config groups extend


@hydra.main(version_base="1.3", config_path="conf", config_name="lr_find")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.lr_find import lr_find

    run_or_exit(lr_find, cfg)


if __name__ == "__main__":
    main()
