"""Export a checkpoint: `python export.py ckpt_path=.../best.ckpt format=onnx` (or format=torchscript)."""

import sys

import hydra
from omegaconf import DictConfig

from inception_tl.errors import InceptionTLError
from inception_tl.export import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        export(cfg)
    except InceptionTLError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
