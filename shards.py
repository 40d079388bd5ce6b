"""Shards for streaming from any data this project reads: `python shards.py data=imagefolder data.root=photos
out=shards/photos`, then `python train.py data=stream data.source.url=shards/photos`."""

import hydra
from omegaconf import DictConfig

from inception_tl.config.schema import register_schemas

register_schemas()  # the typed schemas the config groups extend


@hydra.main(version_base="1.3", config_path="conf", config_name="shards")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: `--help` and a mistyped override answer without loading torch and Lightning.
    from inception_tl.tasks.cli import run_or_exit
    from inception_tl.tasks.shards import write_data_as_shards

    run_or_exit(write_data_as_shards, cfg)


if __name__ == "__main__":
    main()
