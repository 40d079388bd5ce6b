"""Transfer learning for the Inception family with timm, Lightning and Hydra.

`inception_tl.load_model(source)`: a trained model from a checkpoint (best.ckpt), a folder written by
`export.py format=timm`, or `hf-hub:user/name`, with its head, preprocessing and calibration.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:
    # Lazily: importing the package (as every entry script's config does) must not load torch.
    if name == "load_model":
        from inception_tl.models.loading import load_classifier

        return load_classifier
    raise AttributeError(f"module 'inception_tl' has no attribute {name!r}")
